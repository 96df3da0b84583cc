"""The upload form hands the file on as it arrives and refuses malformed forms."""

from collections.abc import AsyncIterator

import pytest

from broker_api.files.upload import UploadForm
from shared.errors import FileTooLarge, InvalidUpload, UnsupportedMediaType

pytestmark = pytest.mark.anyio

BOUNDARY = "xYz"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        + value
        + b"\r\n"
    )


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def chunks_of(body: bytes, size: int, sent: list[int]) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        sent.append(start)
        yield body[start : start + size]


async def test_file_bytes_are_handed_on_before_the_upload_ends() -> None:
    content = b"0123456789" * 1000
    body = form(part("purpose", b"batch"), part("file", content, "in.jsonl"))
    sent: list[int] = []
    upload = UploadForm(
        CONTENT_TYPE, chunks_of(body, 512, sent), max_file_bytes=len(content)
    )
    received = b""
    chunks_sent_at_first_piece = None
    async for piece in upload.file_pieces():
        if chunks_sent_at_first_piece is None:
            chunks_sent_at_first_piece = len(sent)
        received += piece
    assert received == content
    assert chunks_sent_at_first_piece is not None
    assert chunks_sent_at_first_piece < len(sent) // 2
    assert upload.fields == {"purpose": "batch"}
    assert (upload.filename, upload.size_bytes) == ("in.jsonl", len(content))


async def drain(upload: UploadForm) -> None:
    async for _ in upload.file_pieces():
        pass


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (form(part("purpose", b"batch")), "no file"),
        (
            form(part("file", b"a", "a.jsonl"), part("file", b"b", "b.jsonl")),
            "more than one file",
        ),
        (form(part("purpose", b"b" * 2000)), "longer than"),
        (form(part("purpose", b"\xff\xfe")), "not UTF-8"),
        (part("file", b"abc", "a.jsonl"), "closing boundary"),
    ],
)
async def test_malformed_forms_are_invalid_uploads(body: bytes, message: str) -> None:
    upload = UploadForm(CONTENT_TYPE, chunks_of(body, 64, []), max_file_bytes=100)
    with pytest.raises(InvalidUpload, match=message):
        await drain(upload)


async def test_a_file_past_the_limit_is_refused_while_it_streams() -> None:
    body = form(part("file", b"x" * 5000, "big.jsonl"))
    sent: list[int] = []
    upload = UploadForm(CONTENT_TYPE, chunks_of(body, 256, sent), max_file_bytes=1000)
    with pytest.raises(FileTooLarge):
        await drain(upload)
    assert len(sent) < len(body) // 256  # stopped reading, not read to the end


def test_other_content_types_and_missing_boundaries_are_refused() -> None:
    with pytest.raises(UnsupportedMediaType):
        UploadForm("application/json", chunks_of(b"", 1, []), max_file_bytes=10)
    with pytest.raises(InvalidUpload, match="boundary"):
        UploadForm("multipart/form-data", chunks_of(b"", 1, []), max_file_bytes=10)
