"""Files kept in an S3-compatible object store (HELIXQ_FILE_STORAGE=s3), against
moto's S3 server on loopback: upload, list, content, delete, expiry, batches and
their result files."""

import dataclasses
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.exceptions import EndpointConnectionError
from moto.server import ThreadedMotoServer
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from broker_api.app import create_app
from broker_api.files.views import file_id_text, parse_file_id
from broker_api.settings import ApiSettings
from helixq.processes import free_port
from shared.db.models import Batch, FileChunk, Job, StoredFile
from shared.logging_setup import LoggingSettings
from shared.object_store import PART_BYTES, ObjectStore
from shared.redaction import RedactionFilter
from shared.settings import FileStorageSettings
from tests.batch_items import end_item, fetch_batch, succeed_item, succeeded_line
from tests.factories import make_messages
from tests.integration.api.conftest import TenantCredentials
from tests.integration.workers.conftest import ListDeliverySender
from tests.recording_enqueuer import RecordingEnqueuer
from workers.maintenance import batches as batch_sweep
from workers.maintenance.batches import finish_batches
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


async def create_batch(
    api: httpx.AsyncClient, tenant: TenantCredentials, custom_ids: list[str]
) -> httpx.Response:
    """A batch made from an uploaded file, a chat request per custom id."""
    lines = [
        {
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "openai/gpt-4o-mini", "messages": make_messages()},
        }
        for custom_id in custom_ids
    ]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    file_id = (await upload(api, tenant, content)).json()["id"]
    return await api.post(
        "/v1/batches",
        json={
            "input_file_id": file_id,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        },
        headers=tenant.headers,
    )


async def test_a_batch_reads_its_lines_from_the_object_store(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer
) -> None:
    response = await create_batch(api, tenant, [f"row-{n}" for n in range(5)])
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


def sweep(engine: Engine, objects: ObjectStore) -> int:
    """One run of the `finish_batches` sweep with `objects` as the worker's store."""
    return finish_batches(sessionmaker(engine), ListDeliverySender(), objects=objects)


async def batch_with_items(
    api: httpx.AsyncClient,
    tenant: TenantCredentials,
    engine: Engine,
    custom_ids: list[str],
) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    """A new batch's id and its items' ids by custom id."""
    response = await create_batch(api, tenant, custom_ids)
    assert response.status_code == 201, response.text
    batch_id = uuid.UUID(response.json()["id"])
    with Session(engine) as session:
        items = session.execute(
            select(Job.custom_id, Job.id).where(Job.batch_id == batch_id)
        ).all()
    return batch_id, {str(row.custom_id): row.id for row in items}


async def ended_batch(
    api: httpx.AsyncClient, tenant: TenantCredentials, engine: Engine
) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    """A batch whose items have all ended: `ok` succeeded, `bad` failed."""
    batch_id, items = await batch_with_items(api, tenant, engine, ["ok", "bad"])
    succeed_item(engine, items["ok"])
    end_item(
        engine,
        items["bad"],
        "failed",
        error_code="upstream_bad_request",
        error_message="the model refused",
    )
    return batch_id, items


def chunk_rows(engine: Engine, file_id: uuid.UUID) -> int:
    with Session(engine) as session:
        count = session.scalar(select(func.count()).where(FileChunk.file_id == file_id))
    return int(count or 0)


async def stored_lines(
    api: httpx.AsyncClient,
    tenant: TenantCredentials,
    engine: Engine,
    objects: ObjectStore,
    file_id: uuid.UUID,
) -> list[dict[str, object]]:
    """A result file's lines as the API serves them, after checking that its bytes
    are the store's object and not Postgres rows."""
    with Session(engine) as session:
        stored = session.get(StoredFile, file_id)
    assert stored is not None
    assert stored.storage == "s3"
    assert chunk_rows(engine, file_id) == 0
    assert objects.key(file_id) in object_keys(objects)
    served = await api.get(
        f"/v1/files/{file_id_text(file_id)}/content", headers=tenant.headers
    )
    assert served.status_code == 200, served.text
    assert len(served.content) == stored.size_bytes
    return [json.loads(line) for line in served.text.splitlines()]


async def test_the_sweep_writes_an_ended_batchs_files_to_the_object_store(
    api, tenant: TenantCredentials, engine: Engine, objects: ObjectStore
) -> None:
    batch_id, items = await ended_batch(api, tenant, engine)
    assert sweep(engine, objects) == 1
    batch = fetch_batch(engine, batch_id)
    assert batch.status == "completed"
    output = await stored_lines(api, tenant, engine, objects, batch.output_file_id)
    assert output == [succeeded_line(items["ok"], "ok")]
    errors = await stored_lines(api, tenant, engine, objects, batch.error_file_id)
    assert [(line["custom_id"], line["error"]) for line in errors] == [
        ("bad", {"code": "upstream_bad_request", "message": "the model refused"})
    ]
    assert pending_uploads(objects) == []


async def test_a_cancel_leaves_the_ending_to_the_sweep_with_an_object_store(
    api, tenant: TenantCredentials, engine: Engine, objects: ObjectStore
) -> None:
    batch_id, items = await batch_with_items(api, tenant, engine, ["done", "dropped"])
    succeed_item(engine, items["done"])
    response = await api.post(f"/v1/batches/{batch_id}/cancel", headers=tenant.headers)
    assert response.status_code == 200, response.text
    # No item runs any more, but the API writes no file: the sweep ends it.
    assert response.json()["status"] == "cancelling"
    assert response.json()["output_file_id"] is None
    assert object_keys(objects) == [
        objects.key(fetch_batch(engine, batch_id).input_file_id)
    ]

    assert sweep(engine, objects) == 1
    batch = fetch_batch(engine, batch_id)
    assert batch.status == "cancelled"
    output = await stored_lines(api, tenant, engine, objects, batch.output_file_id)
    assert output == [succeeded_line(items["done"], "done")]
    errors = await stored_lines(api, tenant, engine, objects, batch.error_file_id)
    assert [(e["custom_id"], e["error"]["code"]) for e in errors] == [
        ("dropped", "batch_cancelled")
    ]


async def test_a_cancel_after_every_item_ended_leaves_the_ending_to_the_sweep(
    api, tenant: TenantCredentials, engine: Engine, objects: ObjectStore
) -> None:
    batch_id, _ = await ended_batch(api, tenant, engine)
    response = await api.post(f"/v1/batches/{batch_id}/cancel", headers=tenant.headers)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "batch_nothing_to_cancel"
    assert error["details"]["status"] == "completed"  # what the sweep makes it
    assert fetch_batch(engine, batch_id).status == "in_progress"

    assert sweep(engine, objects) == 1
    batch = fetch_batch(engine, batch_id)
    assert batch.status == "completed"
    assert await stored_lines(api, tenant, engine, objects, batch.output_file_id)


async def test_a_store_out_of_reach_leaves_the_batch_to_a_later_sweep(
    api,
    tenant: TenantCredentials,
    engine: Engine,
    objects: ObjectStore,
    storage_settings: FileStorageSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    unreachable = ObjectStore.of(
        storage_settings.model_copy(
            update={"helixq_s3_endpoint_url": f"http://127.0.0.1:{free_port()}"}
        )
    )
    assert unreachable is not None
    batch_id, _ = await ended_batch(api, tenant, engine)
    before = files_count(engine)
    caplog.set_level(logging.WARNING, logger="workers.maintenance.batches")

    assert sweep(engine, unreachable) == 0
    batch = fetch_batch(engine, batch_id)
    assert (batch.status, batch.output_file_id, batch.error_file_id) == (
        "in_progress",
        None,
        None,
    )
    assert batch.request_counts is None
    assert files_count(engine) == before
    assert str(batch_id) in caplog.text
    assert SECRET not in caplog.text

    assert sweep(engine, objects) == 1
    batch = fetch_batch(engine, batch_id)
    assert batch.status == "completed"
    assert await stored_lines(api, tenant, engine, objects, batch.output_file_id)


class CompletionFails:
    """A store client that refuses the `failing`-th completed upload as if the
    store did not answer; every other call goes through."""

    def __init__(self, client: Any, *, failing: int) -> None:
        self._client = client
        self._completions = 0
        self._failing = failing

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def complete_multipart_upload(self, **params: object) -> object:
        self._completions += 1
        if self._completions == self._failing:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return self._client.complete_multipart_upload(**params)


def failing_completion(objects: ObjectStore, failing: int) -> ObjectStore:
    client = CompletionFails(objects.client, failing=failing)
    return dataclasses.replace(objects, client=client)


async def test_a_batch_the_store_fails_does_not_keep_the_sweep_from_others(
    api, tenant: TenantCredentials, engine: Engine, objects: ObjectStore
) -> None:
    first, _ = await ended_batch(api, tenant, engine)
    second, _ = await ended_batch(api, tenant, engine)
    assert sweep(engine, failing_completion(objects, 1)) == 1
    assert fetch_batch(engine, first).status == "in_progress"
    assert fetch_batch(engine, second).status == "completed"
    assert pending_uploads(objects) == []  # the failed batch's uploads were aborted

    assert sweep(engine, objects) == 1
    assert fetch_batch(engine, first).status == "completed"


async def test_a_failed_error_file_takes_the_completed_output_file_with_it(
    api, tenant: TenantCredentials, engine: Engine, objects: ObjectStore
) -> None:
    batch_id, _ = await ended_batch(api, tenant, engine)
    input_key = objects.key(fetch_batch(engine, batch_id).input_file_id)
    before = files_count(engine)

    # The output file's upload completes, the error file's does not.
    assert sweep(engine, failing_completion(objects, 2)) == 0
    assert fetch_batch(engine, batch_id).status == "in_progress"
    assert files_count(engine) == before
    assert object_keys(objects) == [input_key]  # no object without its row
    assert pending_uploads(objects) == []


def transactions_open(engine: Engine) -> int:
    """Connections to the test database inside a transaction, this one aside."""
    with engine.connect() as connection:
        return int(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND state LIKE 'idle in transaction%'"
                )
            )
            or 0
        )


async def test_an_upload_holds_no_transaction_and_a_lost_race_leaves_no_object(
    api,
    tenant: TenantCredentials,
    engine: Engine,
    objects: ObjectStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch_id, _ = await ended_batch(api, tenant, engine)
    upload = batch_sweep.upload_result_files
    seen: list[int] = []

    def upload_while_another_sweep_ends_it(*args: Any, **kwargs: Any) -> Any:
        uploaded = upload(*args, **kwargs)
        if not seen:  # the first upload: the other sweep runs meanwhile
            seen.append(transactions_open(engine))
            assert sweep(engine, objects) == 1
        return uploaded

    monkeypatch.setattr(
        batch_sweep, "upload_result_files", upload_while_another_sweep_ends_it
    )
    assert sweep(engine, objects) == 0  # the other one ended it first

    assert seen == [0]  # no transaction was open while the files were uploaded
    batch = fetch_batch(engine, batch_id)
    assert batch.status == "completed"
    assert sorted(object_keys(objects)) == sorted(
        objects.key(file_id)
        for file_id in (batch.input_file_id, batch.output_file_id, batch.error_file_id)
    )  # the losing sweep's objects were deleted


async def test_a_batch_cancelled_before_cancelling_existed_gets_no_objects(
    api, tenant: TenantCredentials, engine: Engine, objects: ObjectStore
) -> None:
    # Such a batch only has its counts frozen, in Postgres or beside a store.
    batch_id, items = await batch_with_items(api, tenant, engine, ["done", "dropped"])
    succeed_item(engine, items["done"])
    end_item(engine, items["dropped"], "cancelled")
    with Session(engine) as session, session.begin():
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(status="cancelled", cancelled_at=datetime.now(UTC))
        )
    input_key = objects.key(fetch_batch(engine, batch_id).input_file_id)

    assert sweep(engine, objects) == 1
    batch = fetch_batch(engine, batch_id)
    assert batch.request_counts["completed"] == 1
    assert batch.output_file_id is None
    assert object_keys(objects) == [input_key]
