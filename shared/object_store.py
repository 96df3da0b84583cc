"""File content in an S3-compatible object store (HELIXQ_FILE_STORAGE=s3), through
boto3: an object per file, under `HELIXQ_S3_PREFIX`, named by the file's id.

The `files` row stays in Postgres either way (owner, name, size, expiry) and says
where its bytes are (`files.storage`), so files written before the setting changed
are still read from where they were written. An upload is a multipart upload of
`PART_BYTES` parts sent as they fill, so no more than a part is held; it is
completed before the row commits and aborted when the upload fails. A batch's
output and error files are uploaded the same way by the worker's `finish_batches`
sweep, before the transaction that ends the batch (shared.result_uploads). An
object whose row never committed (a crash between the two) is left behind: a
bucket lifecycle rule for incomplete uploads and old objects cleans up what the
sweeps cannot see.

Blocking calls (boto3 is synchronous): the API runs them on a thread, the worker's
periodic tasks call them as they are. boto3 is an optional dependency (the `s3`
extra), imported only when an ObjectStore is built.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.errors import Unavailable
from shared.settings import FileStorage, FileStorageSettings

PART_BYTES = 8 * 1024 * 1024  # above S3's 5 MiB minimum part; one held per upload
READ_BYTES = 1024 * 1024  # what a read hands on at a time, as a Postgres chunk
_DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 60
MAX_ATTEMPTS = 3  # the client's retries of a call, backoff included
RETRY_AFTER_S = 30  # what a 503 tells the client when the store does not answer


@dataclass(frozen=True)
class ObjectStore:
    """File content in one bucket; safe to share between threads (boto3 clients
    are). A call the store does not answer raises Unavailable (a 503 at the API)."""

    client: Any  # a boto3 S3 client: boto3 publishes no types
    bucket: str
    prefix: str
    # The client's own errors (botocore's), turned into Unavailable.
    failures: tuple[type[Exception], ...] = ()

    @classmethod
    def of(cls, settings: FileStorageSettings) -> "ObjectStore | None":
        """The store the settings name; None when files stay in Postgres."""
        if settings.helixq_file_storage is not FileStorage.S3:
            return None
        # Optional: only S3 deployments install it (the `s3` extra).
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        key_id, secret = (
            settings.helixq_s3_access_key_id,
            settings.helixq_s3_secret_access_key,
        )
        client = boto3.client(
            "s3",
            endpoint_url=settings.helixq_s3_endpoint_url,
            region_name=settings.helixq_s3_region,
            aws_access_key_id=key_id.get_secret_value() if key_id else None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                connect_timeout=CONNECT_TIMEOUT_S,
                read_timeout=READ_TIMEOUT_S,
                retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
            ),
        )
        failures = (BotoCoreError, ClientError)
        return cls(client, settings.s3_bucket, settings.helixq_s3_prefix, failures)

    def call(self, operation: str, **params: Any) -> Any:
        """One client call; Unavailable when the store does not answer it."""
        try:
            return getattr(self.client, operation)(**params)
        except self.failures as error:
            raise Unavailable("the object store", RETRY_AFTER_S) from error

    def key(self, file_id: UUID) -> str:
        return f"{self.prefix}{file_id.hex}"

    def start_upload(self, file_id: UUID) -> "MultipartUpload":
        created = self.call(
            "create_multipart_upload", Bucket=self.bucket, Key=self.key(file_id)
        )
        return MultipartUpload(self, self.key(file_id), created["UploadId"])

    def read(self, file_id: UUID) -> Iterator[bytes]:
        """The object's bytes, READ_BYTES at a time, as they arrive."""
        answer = self.call("get_object", Bucket=self.bucket, Key=self.key(file_id))
        body = answer["Body"]
        try:
            yield from body.iter_chunks(READ_BYTES)
        finally:
            body.close()

    def delete(self, file_ids: Iterable[UUID]) -> None:
        """Delete the files' objects (a missing one is no error)."""
        keys = [{"Key": self.key(file_id)} for file_id in file_ids]
        for first in range(0, len(keys), _DELETE_BATCH):
            self.call(
                "delete_objects",
                Bucket=self.bucket,
                Delete={"Objects": keys[first : first + _DELETE_BATCH], "Quiet": True},
            )


class MultipartUpload:
    """One object written part by part: `write` as bytes come, then `complete` or
    `abort`. Holds at most PART_BYTES (plus the last write)."""

    def __init__(self, store: ObjectStore, key: str, upload_id: str) -> None:
        self._store = store
        self._key = key
        self._upload_id = upload_id
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self._buffer.extend(data)
        while len(self._buffer) >= PART_BYTES:
            self._send(bytes(self._buffer[:PART_BYTES]))
            del self._buffer[:PART_BYTES]

    def complete(self) -> None:
        """Send what is left as the last part and make the object appear."""
        if self._buffer or not self._parts:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        self._store.call(
            "complete_multipart_upload",
            Bucket=self._store.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        """Drop the parts sent so far; the object never appears."""
        self._buffer.clear()
        self._store.call(
            "abort_multipart_upload",
            Bucket=self._store.bucket,
            Key=self._key,
            UploadId=self._upload_id,
        )

    def _send(self, data: bytes) -> None:
        number = len(self._parts) + 1
        answer = self._store.call(
            "upload_part",
            Bucket=self._store.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
