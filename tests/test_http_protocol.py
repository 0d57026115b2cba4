"""The API's HTTP protocol (api/http_protocol.py) on its own, with a one-second idle limit:
a request whose head or body stops arriving is ended (408 / closed), while an app that is
slow to take a body (the server paused reading) is never cut off."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn

from api.http_protocol import BoundedHeadProtocol
from tests.peers import free_port

SLOW_APP_SECONDS = 2.5


class OneSecond(BoundedHeadProtocol):
    idle_seconds = 1.0


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":  # takes its time before reading the body
        await asyncio.sleep(SLOW_APP_SECONDS)
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    said = str(size).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(said)).encode())]})
    await send({"type": "http.response.body", "body": said})


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=OneSecond,
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def answer_to(port: int, *pieces: bytes, pause: float = 0.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(pause)
    try:
        return await asyncio.wait_for(reader.read(), 10)  # until the server closes
    finally:
        writer.close()


async def test_a_stalled_head_is_408_and_a_stalled_body_is_closed():
    async with serving() as port:
        head = await answer_to(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        assert head.startswith(b"HTTP/1.1 408"), head
        body = await answer_to(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                                     b"Connection: close\r\n\r\n12345")
        assert body == b"", body  # closed: the app saw the client gone


async def test_a_request_that_keeps_coming_and_a_slow_app_are_served():
    async with serving() as port:
        # Bytes every half second: slower than the whole limit in all, never idle that long.
        trickled = await answer_to(port, b"POST / HTTP/1.1\r\nHost: x\r\n",
                                   b"Content-Length: 4\r\nConnection: close\r\n\r\n",
                                   b"ab", b"cd", pause=0.5)
        assert trickled.startswith(b"HTTP/1.1 200") and trickled.endswith(b"4"), trickled
        # A body over the server's high-water mark while the app does not read it yet: the
        # server pauses reading, which is not the client stalling.
        size = 1024 * 1024
        slow = await answer_to(port, b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                     + str(size).encode() + b"\r\nConnection: close\r\n\r\n",
                               b"x" * size)
        assert slow.startswith(b"HTTP/1.1 200") and slow.endswith(str(size).encode()), slow
