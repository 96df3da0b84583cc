"""Read a multipart/form-data upload as it arrives: the small fields in full, the
file's bytes handed on piece by piece, so no upload is ever held whole."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from shared.errors import FileTooLarge, InvalidUpload, UnsupportedMediaType

if TYPE_CHECKING:  # the library declares its callback table for type checkers only
    from python_multipart.multipart import MultipartCallbacks

MULTIPART = "multipart/form-data"
FILE_FIELD = "file"
MAX_FIELD_BYTES = 1024  # purpose and expiry are short words and numbers
MAX_FIELDS = 16
# What a form may add to its file: boundaries, part headers and the short fields.
MAX_FORM_OVERHEAD_BYTES = 64 * 1024


@dataclass
class _Part:
    name: str
    value: bytearray = field(default_factory=bytearray)


class UploadForm:
    """The fields of one upload; `file_pieces()` yields the file's bytes in order.

    Once the pieces are exhausted, `fields`, `filename` and `size_bytes` are final.
    Raises InvalidUpload for a malformed form, a second file or no file, and
    FileTooLarge past `max_file_bytes`.
    """

    def __init__(
        self, content_type: str, chunks: AsyncIterator[bytes], *, max_file_bytes: int
    ) -> None:
        media, params = parse_options_header(content_type)
        if media.decode("latin-1").lower() != MULTIPART:
            raise UnsupportedMediaType(content_type, [MULTIPART])
        boundary = params.get(b"boundary")
        if not boundary:
            raise InvalidUpload("the multipart/form-data content type has no boundary")
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.size_bytes = 0
        self._chunks = chunks
        self._max_file_bytes = max_file_bytes
        self._pending: list[bytes] = []
        self._part: _Part | None = None
        self._header = (bytearray(), bytearray())
        self._headers: dict[str, bytes] = {}
        self._ended = False
        try:
            self._parser = MultipartParser(boundary, self._callbacks())
        except FormParserError as exc:
            raise InvalidUpload(
                f"the multipart boundary is not usable: {exc}"
            ) from None

    async def file_pieces(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            try:
                self._parser.write(chunk)
            except FormParserError as exc:
                raise InvalidUpload(f"the upload is not a valid form: {exc}") from None
            pieces, self._pending = self._pending, []
            for piece in pieces:
                yield piece
        if not self._ended:
            raise InvalidUpload("the upload ended before the form's closing boundary")
        if self.filename is None:
            raise InvalidUpload(
                f"the form has no file: send it in a part named {FILE_FIELD!r}",
                details={"field": FILE_FIELD},
            )

    def _callbacks(self) -> "MultipartCallbacks":
        return {
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header[0].extend(data[start:end])

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header[1].extend(data[start:end])

    def _on_header_end(self) -> None:
        name, value = self._header
        self._headers[name.decode("latin-1").lower()] = bytes(value)
        self._header = (bytearray(), bytearray())

    def _on_headers_finished(self) -> None:
        disposition, params = parse_options_header(
            self._headers.get("content-disposition", b"")
        )
        self._headers = {}
        name = params.get(b"name")
        if disposition.lower() != b"form-data" or name is None:
            raise InvalidUpload("every part of the form needs a form-data name")
        filename = params.get(b"filename")
        part_name = name.decode("utf-8", "replace")
        if part_name == FILE_FIELD:
            if self.filename is not None:
                raise InvalidUpload("the form holds more than one file")
            self.filename = (filename or b"upload").decode("utf-8", "replace")
        elif len(self.fields) >= MAX_FIELDS:
            raise InvalidUpload(f"the form has more than {MAX_FIELDS} fields")
        self._part = _Part(part_name)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        assert part is not None  # the parser reports data only inside a part
        if part.name == FILE_FIELD:
            self.size_bytes += end - start
            if self.size_bytes > self._max_file_bytes:
                raise FileTooLarge(self._max_file_bytes)
            self._pending.append(data[start:end])
            return
        part.value.extend(data[start:end])
        if len(part.value) > MAX_FIELD_BYTES:
            raise InvalidUpload(
                f"the form field {part.name!r} is longer than {MAX_FIELD_BYTES} bytes",
                details={"field": part.name},
            )

    def _on_part_end(self) -> None:
        part, self._part = self._part, None
        if part is None or part.name == FILE_FIELD:
            return
        try:
            self.fields[part.name] = part.value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidUpload(
                f"the form field {part.name!r} is not UTF-8 text",
                details={"field": part.name},
            ) from None

    def _on_end(self) -> None:
        self._ended = True
