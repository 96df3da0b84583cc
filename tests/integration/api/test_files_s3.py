"""Files kept in an S3-compatible object store (HELIXQ_FILE_STORAGE=s3), against
moto's S3 server on loopback: upload, list, content, delete, expiry, batches."""

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from broker_api.app import create_app
from broker_api.files.views import parse_file_id
from broker_api.settings import ApiSettings
from helixq.processes import free_port
from shared.db.models import FileChunk, StoredFile
from shared.logging_setup import LoggingSettings
from shared.object_store import PART_BYTES, ObjectStore
from shared.redaction import RedactionFilter
from shared.settings import FileStorageSettings
from tests.factories import make_messages
from tests.integration.api.conftest import TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer
from workers.maintenance.expired_files import delete_expired_files

pytestmark = pytest.mark.anyio

KEY_ID = "AKIAHELIXQTESTKEY000"
SECRET = "s3-secret-that-must-never-show-0123456789"
PREFIX = "tenant-files/"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def storage_settings(s3_endpoint: str) -> FileStorageSettings:
    """A fresh bucket per test."""
    bucket = f"helixq-{uuid.uuid4().hex[:12]}"
    settings = FileStorageSettings(
        helixq_file_storage="s3",
        helixq_s3_bucket=bucket,
        helixq_s3_endpoint_url=s3_endpoint,
        helixq_s3_prefix=PREFIX,
        helixq_s3_access_key_id=KEY_ID,
        helixq_s3_secret_access_key=SECRET,
    )
    store = ObjectStore.of(settings)
    assert store is not None
    store.client.create_bucket(Bucket=bucket)
    return settings


@pytest.fixture
def objects(storage_settings: FileStorageSettings) -> ObjectStore:
    store = ObjectStore.of(storage_settings)
    assert store is not None
    return store


@pytest.fixture
def api_settings(
    api_settings: ApiSettings, storage_settings: FileStorageSettings
) -> ApiSettings:
    return api_settings.model_copy(update=dict(storage_settings))


def object_keys(objects: ObjectStore) -> list[str]:
    listing = objects.client.list_objects_v2(Bucket=objects.bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def object_bytes(objects: ObjectStore, file_id: str) -> bytes:
    key = objects.key(parse_file_id(file_id))
    answer = objects.client.get_object(Bucket=objects.bucket, Key=key)
    return bytes(answer["Body"].read())


def pending_uploads(objects: ObjectStore) -> list[object]:
    listing = objects.client.list_multipart_uploads(Bucket=objects.bucket)
    return list(listing.get("Uploads", []))


async def upload(
    api: httpx.AsyncClient, tenant: TenantCredentials, content: bytes, **fields: str
) -> httpx.Response:
    return await api.post(
        "/v1/files",
        data={"purpose": "batch", **fields},
        files={"file": ("input.jsonl", content, "application/jsonl")},
        headers=tenant.headers,
    )


async def test_an_upload_goes_to_the_bucket_in_parts_and_reads_back_whole(
    api, tenant: TenantCredentials, engine: Engine, objects: ObjectStore
) -> None:
    content = bytes(range(256)) * (PART_BYTES * 2 // 256 + 5)  # three parts
    response = await upload(api, tenant, content)
    assert response.status_code == 200, response.text
    file_id = response.json()["id"]
    assert response.json()["bytes"] == len(content)
    assert object_keys(objects) == [f"{PREFIX}{parse_file_id(file_id).hex}"]
    assert object_bytes(objects, file_id) == content
    with Session(engine) as session:
        stored = session.get(StoredFile, parse_file_id(file_id))
        chunks = session.scalar(
            select(func.count()).where(FileChunk.file_id == parse_file_id(file_id))
        )
    assert stored is not None
    assert stored.storage == "s3"
    assert chunks == 0  # no byte of it in Postgres

    listed = await api.get("/v1/files", headers=tenant.headers)
    assert [f["id"] for f in listed.json()["data"]] == [file_id]
    read = await api.get(f"/v1/files/{file_id}/content", headers=tenant.headers)
    assert read.status_code == 200
    assert read.content == content
    assert read.headers["content-length"] == str(len(content))


async def test_delete_removes_the_row_and_the_object(
    api, tenant: TenantCredentials, objects: ObjectStore
) -> None:
    file_id = (await upload(api, tenant, b'{"a": 1}\n')).json()["id"]
    assert len(object_keys(objects)) == 1
    deleted = await api.delete(f"/v1/files/{file_id}", headers=tenant.headers)
    assert deleted.json() == {"id": file_id, "object": "file", "deleted": True}
    assert object_keys(objects) == []
    gone = await api.get(f"/v1/files/{file_id}/content", headers=tenant.headers)
    assert gone.status_code == 404


async def test_a_refused_upload_leaves_no_object_and_no_pending_parts(
    api, tenant: TenantCredentials, engine: Engine, objects: ObjectStore
) -> None:
    before = files_count(engine)
    response = await api.post(
        "/v1/files",
        # The purpose comes after the file, so the bytes went out before the refusal.
        files=[
            ("file", ("input.jsonl", b"x" * (PART_BYTES + 10), "application/jsonl")),
            ("purpose", (None, "fine-tune")),
        ],
        headers=tenant.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == "purpose"
    assert object_keys(objects) == []
    assert pending_uploads(objects) == []
    assert files_count(engine) == before


async def test_another_tenant_sees_nothing_of_an_object_store_file(
    api, tenant: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    file_id = (await upload(api, tenant, b'{"a": 1}\n')).json()["id"]
    for path in (f"/v1/files/{file_id}", f"/v1/files/{file_id}/content"):
        response = await api.get(path, headers=other_tenant.headers)
        assert response.status_code == 404
    assert (
        await api.delete(f"/v1/files/{file_id}", headers=other_tenant.headers)
    ).status_code == 404
    mine = await api.get(f"/v1/files/{file_id}/content", headers=tenant.headers)
    assert mine.content == b'{"a": 1}\n'


async def test_the_expiry_sweep_deletes_the_rows_and_their_objects(
    api, tenant: TenantCredentials, engine: Engine, objects: ObjectStore
) -> None:
    expired = (await upload(api, tenant, b"old\n")).json()["id"]
    kept = (await upload(api, tenant, b"new\n")).json()["id"]
    with Session(engine) as session, session.begin():
        session.execute(
            update(StoredFile)
            .where(StoredFile.id == parse_file_id(expired))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert delete_expired_files(sessionmaker(engine), objects=objects) >= 1
    assert object_keys(objects) == [objects.key(parse_file_id(kept))]
    with Session(engine) as session:
        assert session.get(StoredFile, parse_file_id(expired)) is None


async def test_a_batch_reads_its_lines_from_the_object_store(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer
) -> None:
    lines = [
        {
            "custom_id": f"row-{n}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "openai/gpt-4o-mini", "messages": make_messages()},
        }
        for n in range(5)
    ]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    file_id = (await upload(api, tenant, content)).json()["id"]
    response = await api.post(
        "/v1/batches",
        json={
            "input_file_id": file_id,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "in_progress"
    assert response.json()["request_counts"]["total"] == 5
    assert len(enqueuer.sent) == 5


async def test_the_credentials_never_reach_logs_or_answers(
    api,
    tenant: TenantCredentials,
    storage_settings: FileStorageSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The process's log handlers mask the configured secrets (shared.logging_setup),
    # the client's debug lines (request headers) included.
    secrets = LoggingSettings(
        helixq_s3_access_key_id=KEY_ID, helixq_s3_secret_access_key=SECRET
    ).secrets()
    caplog.handler.addFilter(RedactionFilter(secrets))
    caplog.set_level(logging.DEBUG)
    file_id = (await upload(api, tenant, b"x\n")).json()["id"]
    answers = [
        await api.get(f"/v1/files/{file_id}", headers=tenant.headers),
        await api.get("/v1/files", headers=tenant.headers),
    ]
    text = " ".join(answer.text for answer in answers) + caplog.text
    assert "botocore" in caplog.text  # the client's lines were there to mask
    text += repr(storage_settings) + str(storage_settings.model_dump())
    assert SECRET not in text
    assert KEY_ID not in text


def files_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(StoredFile)) or 0)


async def test_s3_storage_without_a_bucket_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="HELIXQ_S3_BUCKET"):
        FileStorageSettings(helixq_file_storage="s3")


async def test_an_object_store_out_of_reach_is_a_503_and_stores_nothing(
    api_settings: ApiSettings,
    enqueuer: RecordingEnqueuer,
    tenant: TenantCredentials,
    engine: Engine,
) -> None:
    unreachable = api_settings.model_copy(
        update={"helixq_s3_endpoint_url": f"http://127.0.0.1:{free_port()}"}
    )
    before = files_count(engine)
    app = create_app(unreachable, enqueuer=enqueuer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            response = await upload(api, tenant, b'{"a": 1}\n')
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "object store" in error["message"]
    assert SECRET not in response.text
    assert files_count(engine) == before
