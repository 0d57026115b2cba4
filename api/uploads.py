"""One uploaded file read from a request as it arrives, never whole in memory: the part
named ``file`` of a ``multipart/form-data`` body (what browsers and ``curl -F`` send), or
a raw body (any other type) named by ``?name=``. The caller stores the chunks as they come
and stops at its limit. What follows the file part is read for up to 64 KiB, to refuse a
second file (one file per request: a second was dropped without a word); one before it is
refused as well."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from api.problems import Problem, field_problem
from desk.errors import DeskError

FIELD = "file"
PREAMBLE_MAX_BYTES = 64 * 1024  # multipart headers and fields before the file part
AFTER_FILE_MAX_BYTES = 64 * 1024  # read after it, looking for a second file


@dataclass
class Upload:
    filename: str
    chunks: AsyncIterator[bytes]
    size: int | None = None  # the file's length when the request says it exactly (raw)


class _Parts:
    """python-multipart's callbacks, collected: the file part's name and its bytes."""

    def __init__(self, boundary: bytes) -> None:
        self.parser = MultipartParser(boundary, callbacks={
            "on_part_begin": self._begin, "on_header_field": self._field,
            "on_header_value": self._value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._data,
            "on_part_end": self._end})
        self.filename: str | None = None
        self.in_file = False
        self.file_ended = False
        self.another_file = False  # another part named 'file', or with a file name
        self.out: list[bytes] = []
        self._headers: dict[bytes, bytes] = {}
        self._name = b""
        self._value_bytes = b""

    def _begin(self) -> None:
        self._headers = {}

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._value_bytes += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._name.lower()] = self._value_bytes
        self._name = self._value_bytes = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        named_file = options.get(b"name") == FIELD.encode()
        if named_file and self.filename is None:
            self.in_file = True
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")
        elif named_file or b"filename" in options:  # before the file part or after it
            self.another_file = True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.out.append(data[start:end])

    def _end(self) -> None:
        if self.in_file:
            self.in_file = False
            self.file_ended = True

    def take(self) -> bytes:
        data = b"".join(self.out)
        self.out.clear()
        return data


async def one_file(request: Request) -> Upload:
    """The upload's file name and its bytes as they arrive; 422 naming what is missing."""
    media, options = parse_options_header(request.headers.get("content-type", ""))
    body = _until_cut_short(request.stream())
    if media != b"multipart/form-data":
        name = request.query_params.get("name", "")
        length = request.headers.get("content-length", "")
        return Upload(filename=name, chunks=_raw(body),
                      size=int(length) if length.isdigit() else None)
    boundary = options.get(b"boundary")
    if not boundary:
        raise field_problem(422, "Content-Type", "multipart/form-data without a boundary",
                            "let your HTTP client build the body (curl -F file=@shot.png)",
                            "Request is not valid", where="header")
    parts = _Parts(boundary)
    seen = 0
    try:
        while parts.filename is None:  # up to the file part's headers
            chunk = await anext(body, None)
            if chunk is None:
                break
            seen += len(chunk)
            parts.parser.write(chunk)
            if parts.filename is None and seen > PREAMBLE_MAX_BYTES:
                break
    except DeskError:
        raise
    except Exception as exc:  # python-multipart's MultipartParseError and kin
        raise field_problem(422, FIELD, f"the multipart body cannot be read: {exc}"[:200],
                            "send multipart/form-data with one part named 'file'",
                            "Request is not valid") from exc
    if parts.filename is None:
        raise field_problem(422, FIELD, "no part named 'file' (in the first 64 KiB)",
                            "send the file as the form field 'file' (curl -F file=@shot.png)",
                            "Request is not valid")
    return Upload(filename=parts.filename, chunks=_file_part(parts, body))


def _cut_short() -> Problem:
    """A client gone mid-upload: an answer nobody reads, and no traceback in the log (it
    is the network, not a fault of ours); nothing of the file is kept."""
    return Problem(400, "Upload cut short", "the client closed the connection")


async def _until_cut_short(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The request's body, a client gone midway being :func:`_cut_short`."""
    try:
        async for chunk in body:
            yield chunk
    except ClientDisconnect as exc:
        raise _cut_short() from exc


async def _raw(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in body:
        if chunk:
            yield chunk


async def _file_part(parts: _Parts, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if parts.another_file:  # a file before the file part: refused before anything is kept
        _refuse_another()
    first = parts.take()
    if first:
        yield first
    while not parts.file_ended:
        chunk = await anext(body, None)
        if chunk is None:
            raise Problem(400, "Upload cut short", "the body ended inside the file part")
        _write(parts, chunk)
        data = parts.take()
        if data:
            yield data
    after = 0  # the rest, before the file is taken: a second file is refused, not dropped
    while not parts.another_file and after < AFTER_FILE_MAX_BYTES:
        chunk = await anext(body, None)
        if chunk is None:
            break
        after += len(chunk)
        _write(parts, chunk)
    if parts.another_file:
        _refuse_another()


def _refuse_another() -> None:
    raise field_problem(422, FIELD, "another file in the form: one file per request",
                        "send each file in a request of its own", "Request is not valid")


def _write(parts: _Parts, chunk: bytes) -> None:
    try:
        parts.parser.write(chunk)
    except Exception as exc:
        raise field_problem(422, FIELD, f"the multipart body cannot be read: {exc}"[:200],
                            "send multipart/form-data with one part named 'file'",
                            "Request is not valid") from exc
