"""The HTTP/1.1 protocol every server of this API speaks: uvicorn's httptools protocol
(llhttp, in C), with the bound on a request's head that only uvicorn's h11 protocol has.

h11 parses in Python: a 25 MiB upload spent a fifth of the API's time in its receive
buffer, and files through the API reached 0.67x of a bare client's put to the same store
where httptools reaches 0.8x (bench/files_bench.py). But httptools reads headers of any
size, so a client could grow one header without end; here a head (request line and
headers) still unfinished past :data:`MAX_HEADER_BYTES` is answered 431 and the
connection closed - after at most the limit plus one read from the socket.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 32 * 1024
_SAYS = f"the request's headers are over {MAX_HEADER_BYTES // 1024} KiB".encode()
REFUSED = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
           b"content-type: text/plain; charset=utf-8\r\n"
           b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_SAYS), _SAYS))


class BoundedHeadProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes \
                and not self.transport.is_closing():
            self.logger.warning("Request headers over %d bytes: refused", self.max_head_bytes)
            self.transport.write(REFUSED)
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0  # the next request on the connection
