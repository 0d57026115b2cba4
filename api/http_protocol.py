"""The HTTP/1.1 protocol every server of this API speaks: uvicorn's httptools protocol
(llhttp, in C), with the bound on a request's head that only uvicorn's h11 protocol has.

h11 parses in Python: a 25 MiB upload spent a fifth of the API's time in its receive
buffer, and files through the API reached 0.67x of a bare client's put to the same store
where httptools reaches 0.8x (bench/files_bench.py). But httptools reads headers of any
size, so a client could grow one header without end; here a head (request line and
headers) still unfinished past :data:`MAX_HEADER_BYTES` is answered 431 and the
connection closed - after at most the limit plus one read from the socket.

Neither protocol times out a request that stops arriving (a head sent a byte at a time, a
body shorter than its Content-Length): each would hold a connection and a task for ever.
Here a request whose bytes stop for :data:`IDLE_SECONDS` is ended - 408 while its head is
unfinished, the connection closed in its body (the route sees the client gone) - unless
the server itself paused reading (the app is slow to take the body, not the client).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 32 * 1024
IDLE_SECONDS = 30.0
TOO_SLOW = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: 29\r\nconnection: close\r\n\r\nthe request stopped arriving\n")
_SAYS = f"the request's headers are over {MAX_HEADER_BYTES // 1024} KiB".encode()
REFUSED = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
           b"content-type: text/plain; charset=utf-8\r\n"
           b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_SAYS), _SAYS))


class BoundedHeadProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEADER_BYTES
    idle_seconds = IDLE_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait_for_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _wait_for_request(self) -> None:
        self._stop_waiting()
        self._idle = self.loop.call_later(self.idle_seconds, self._stalled)

    def _stop_waiting(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _stalled(self) -> None:
        self._idle = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # our side is behind, not the client
            self._wait_for_request()
            return
        if self._in_head:
            self.transport.write(TOO_SLOW)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._idle is not None:
            self._wait_for_request()  # bytes came: the request is alive
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
        self._stop_waiting()  # between requests, uvicorn's keep-alive timeout applies
        self._in_head, self._head_bytes = True, 0  # the next request on the connection

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._idle is None:
            self._wait_for_request()
