"""Files through the HTTP API: upload streamed into Postgres, list, read, delete."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from broker_api.files.views import parse_file_id
from broker_api.settings import ApiSettings
from shared.db.models import FileChunk, StoredFile
from shared.stored_files import CHUNK_BYTES
from tests.integration.api.conftest import TenantCredentials

pytestmark = pytest.mark.anyio

MAX_FILE_BYTES = 3 * CHUNK_BYTES


@pytest.fixture
def api_settings(api_settings: ApiSettings) -> ApiSettings:
    return api_settings.model_copy(update={"helixq_max_file_bytes": MAX_FILE_BYTES})


async def upload(
    api: httpx.AsyncClient,
    tenant: TenantCredentials,
    content: bytes = b'{"custom_id": "a"}\n',
    *,
    name: str = "input.jsonl",
    **fields: str,
) -> httpx.Response:
    return await api.post(
        "/v1/files",
        data={"purpose": "batch", **fields},
        files={"file": (name, content, "application/jsonl")},
        headers=tenant.headers,
    )


def chunk_count(engine: Engine, file_id: str) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(FileChunk.file_id == parse_file_id(file_id))
        return int(session.scalar(query) or 0)


def files_of(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(StoredFile)) or 0)


async def test_upload_answers_openai_file_object_and_serves_the_same_bytes(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    content = bytes(range(256)) * (CHUNK_BYTES * 2 // 256 + 7)  # over two chunks
    response = await upload(api, tenant, content, name="big.jsonl")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"].startswith("file-")
    assert body["object"] == "file"
    assert body["bytes"] == len(content)
    assert body["filename"] == "big.jsonl"
    assert body["purpose"] == "batch"
    assert body["status"] == "processed"
    retention_s = 30 * 86400
    assert body["expires_at"] - body["created_at"] == retention_s
    assert chunk_count(engine, body["id"]) == 3
    read = await api.get(f"/v1/files/{body['id']}/content", headers=tenant.headers)
    assert read.status_code == 200
    assert read.content == content
    again = await api.get(f"/v1/files/{body['id']}", headers=tenant.headers)
    assert again.json() == body


async def test_upload_takes_openai_expires_after(
    api, tenant: TenantCredentials
) -> None:
    response = await upload(
        api,
        tenant,
        **{"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["expires_at"] - response.json()["created_at"] == 3600


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"purpose": "fine-tune"}, "invalid_request", "purpose"),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "60"},
            "invalid_request",
            "expires_after[seconds]",
        ),
        (
            {"expires_after[seconds]": "7200"},
            "invalid_request",
            "expires_after[anchor]",
        ),
    ],
)
async def test_upload_refuses_bad_fields_and_stores_nothing(
    api, tenant: TenantCredentials, engine: Engine, fields, code, field
) -> None:
    before = files_of(engine)
    response = await upload(api, tenant, **fields)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["field"]) == (code, field)
    assert files_of(engine) == before


async def test_upload_without_a_file_or_purpose_is_invalid_upload(
    api, tenant: TenantCredentials
) -> None:
    no_file = await api.post(
        "/v1/files", data={"purpose": "batch"}, files={}, headers=tenant.headers
    )
    assert no_file.status_code in {415, 422}, no_file.text
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="x.jsonl"\r\n\r\n'
        f"{{}}\r\n--{boundary}--\r\n"
    ).encode()
    headers = {
        **tenant.headers,
        "content-type": f"multipart/form-data; boundary={boundary}",
    }
    no_purpose = await api.post("/v1/files", content=body, headers=headers)
    assert no_purpose.status_code == 422, no_purpose.text
    assert no_purpose.json()["error"]["code"] == "invalid_upload"
    assert "purpose" in no_purpose.json()["error"]["message"]


async def test_upload_over_the_limit_is_413_and_stores_nothing(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    before = files_of(engine)
    response = await upload(api, tenant, b"x" * (MAX_FILE_BYTES + 1))
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "file_too_large"
    assert files_of(engine) == before


async def test_truncated_upload_stores_nothing(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    before = files_of(engine)
    body = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        b"--b\r\n"
        b'Content-Disposition: form-data; name="file"; filename="x.jsonl"\r\n\r\n'
        b'{"custom_id": "a"}\n'
    )
    headers = {**tenant.headers, "content-type": "multipart/form-data; boundary=b"}
    response = await api.post("/v1/files", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_upload"
    assert files_of(engine) == before


async def test_upload_in_json_is_415(api, tenant: TenantCredentials) -> None:
    response = await api.post(
        "/v1/files", json={"purpose": "batch"}, headers=tenant.headers
    )
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_list_pages_with_after_newest_first(
    api, tenant: TenantCredentials
) -> None:
    uploaded = [(await upload(api, tenant, name=f"{n}.jsonl")).json() for n in range(3)]
    first = await api.get("/v1/files?limit=2", headers=tenant.headers)
    page = first.json()
    assert page["object"] == "list"
    assert [f["filename"] for f in page["data"]] == ["2.jsonl", "1.jsonl"]
    assert page["has_more"] is True
    assert page["last_id"] == page["data"][-1]["id"]
    rest = await api.get(
        f"/v1/files?limit=2&after={page['last_id']}", headers=tenant.headers
    )
    assert [f["id"] for f in rest.json()["data"]] == [uploaded[0]["id"]]
    assert rest.json()["has_more"] is False
    oldest = await api.get("/v1/files?limit=1&order=asc", headers=tenant.headers)
    assert oldest.json()["data"][0]["id"] == uploaded[0]["id"]
    other = await api.get("/v1/files?purpose=batch_output", headers=tenant.headers)
    assert other.json()["data"] == []


async def test_expired_file_is_neither_listed_nor_served(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    file_id = (await upload(api, tenant)).json()["id"]
    with Session(engine) as session, session.begin():
        session.execute(
            update(StoredFile)
            .where(StoredFile.id == parse_file_id(file_id))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    for path in (f"/v1/files/{file_id}", f"/v1/files/{file_id}/content"):
        response = await api.get(path, headers=tenant.headers)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "file_not_found"
    listed = await api.get("/v1/files", headers=tenant.headers)
    assert file_id not in {f["id"] for f in listed.json()["data"]}
    deleted = await api.delete(f"/v1/files/{file_id}", headers=tenant.headers)
    assert deleted.status_code == 404


async def test_delete_removes_the_file_and_its_content(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    file_id = (await upload(api, tenant)).json()["id"]
    response = await api.delete(f"/v1/files/{file_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": file_id, "object": "file", "deleted": True}
    assert chunk_count(engine, file_id) == 0
    again = await api.get(f"/v1/files/{file_id}", headers=tenant.headers)
    assert again.status_code == 404


async def test_unknown_and_malformed_file_ids_are_404(
    api, tenant: TenantCredentials
) -> None:
    for file_id in (f"file-{uuid.uuid4().hex}", "file-nope"):
        response = await api.get(f"/v1/files/{file_id}", headers=tenant.headers)
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "file_not_found",
            "message": f"file {file_id} not found",
            "details": {"file_id": file_id},
        }
