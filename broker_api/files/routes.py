"""HTTP for files: OpenAI's Files API, the upload read as a stream."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse

from broker_api.deps import CallerDep, ObjectStoreDep, SessionDep, SettingsDep
from broker_api.files import service
from broker_api.files.content import stream_content
from broker_api.files.upload import MULTIPART, UploadForm
from broker_api.files.views import FileDeleted, FileList, FileObject, file_object

router = APIRouter(prefix="/v1/files", tags=["files"])

_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "purpose": {"type": "string", "enum": ["batch"]},
                        "expires_after[anchor]": {
                            "type": "string",
                            "enum": ["created_at"],
                        },
                        "expires_after[seconds]": {
                            "type": "integer",
                            "minimum": service.MIN_EXPIRY_S,
                            "maximum": service.MAX_EXPIRY_S,
                        },
                    },
                }
            }
        },
    }
}


@router.post("", status_code=status.HTTP_200_OK, openapi_extra=_UPLOAD_DOC)
async def upload_file(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    objects: ObjectStoreDep,
) -> FileObject:
    """Upload a JSONL file for a batch (purpose=batch), up to 200 MB by default."""
    form = UploadForm(
        request.headers.get("content-type", ""),
        request.stream(),
        max_file_bytes=settings.helixq_max_file_bytes,
    )
    rules = service.UploadRules(retention_s=settings.helixq_file_retention_s)
    return await service.upload_file(session, caller, form, rules, objects)


@router.get("")
async def list_files(
    session: SessionDep,
    caller: CallerDep,
    purpose: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    after: Annotated[
        str | None, Query(description="last_id of the previous page")
    ] = None,
    order: Literal["asc", "desc"] = "desc",
) -> FileList:
    """The tenant's files that have not expired, newest first unless order=asc."""
    return await service.list_files(
        session,
        caller,
        purpose=purpose,
        limit=limit,
        after=after,
        newest_first=order == "desc",
    )


@router.get("/{file_id}")
async def get_file(file_id: str, session: SessionDep, caller: CallerDep) -> FileObject:
    """A file's size, name, purpose and expiry."""
    return file_object(await service.read_file(session, caller, file_id))


@router.get("/{file_id}/content", response_class=StreamingResponse)
async def file_content(
    file_id: str,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    objects: ObjectStoreDep,
) -> StreamingResponse:
    """The file's bytes, streamed."""
    stored = await service.read_file(session, caller, file_id)
    body = stream_content(
        request.app.state.sessions, objects, stored.id, stored.storage
    )
    return StreamingResponse(
        body,
        media_type="application/octet-stream",
        headers={"content-length": str(stored.size_bytes)},
    )


@router.delete("/{file_id}")
async def delete_file(
    file_id: str, session: SessionDep, caller: CallerDep, objects: ObjectStoreDep
) -> FileDeleted:
    """Delete the file and its content; batches made from it keep their items."""
    return await service.delete_file(session, caller, file_id, objects)
