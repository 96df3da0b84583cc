"""The live events of a streaming job, as the worker writes them to the job's Redis
Stream (shared.redis_keys.job_stream) and the API reads them back (pure).

Each entry has a kind and its data:

- `status`: the job's status changed (`running` when a call goes out, `queued`
  when it is released for a retry); data is the status.
- `chunk`: one `chat.completion.chunk` exactly as OpenRouter sent it (JSON text),
  the mid-stream error event included; the API forwards it as one SSE event.
- `end`: the job's run is over; data is a JSON object with `status` (`succeeded`,
  `failed` or `cancelled`) and, for a failure, `code`, `message` and
  `http_status` for a client that has seen no chunk yet.
"""

import json
from dataclasses import dataclass
from enum import StrEnum

KIND_FIELD = b"k"
DATA_FIELD = b"d"


class EntryKind(StrEnum):
    STATUS = "status"
    CHUNK = "chunk"
    END = "end"


@dataclass(frozen=True, slots=True)
class JobEnd:
    """How a streamed run ended."""

    status: str
    code: str | None = None
    message: str | None = None
    http_status: int | None = None

    def encode(self) -> bytes:
        fields = {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "http_status": self.http_status,
        }
        return json.dumps({k: v for k, v in fields.items() if v is not None}).encode()

    @classmethod
    def decode(cls, data: bytes) -> "JobEnd":
        fields = json.loads(data)
        return cls(
            status=str(fields.get("status")),
            code=fields.get("code"),
            message=fields.get("message"),
            http_status=fields.get("http_status"),
        )


def entry(kind: EntryKind, data: bytes) -> dict[bytes, bytes]:
    """The fields of one stream entry."""
    return {KIND_FIELD: kind.value.encode(), DATA_FIELD: data}


def read_entry(fields: dict[bytes, bytes]) -> tuple[EntryKind, bytes]:
    """An entry's kind and data; raises ValueError for an entry of another kind."""
    return EntryKind(fields[KIND_FIELD].decode()), fields[DATA_FIELD]
