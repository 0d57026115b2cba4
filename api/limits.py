"""Bounds on what a request may be, checked before anything parses or authenticates it.

* Headers: the server's protocol (:mod:`api.http_protocol`) refuses a request whose
  headers exceed :data:`api.http_protocol.MAX_HEADER_BYTES` while reading them -> 431.
* Body: at most ``max_body_bytes`` (a declared Content-Length over it is refused at once;
  a chunked body is counted as it arrives) -> 413 problem+json.
* Query parameters: no control characters (a NUL reached Temporal's SQL) -> 422.
* Time: once its body is read, a request is answered within ``seconds``
  (:class:`RequestDeadline`) -> 503 problem+json with Retry-After.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qsl

from api.http_protocol import BoundedHeadProtocol
from api.problems import field_problem, problem_response, unanswered
from domain.email_inbound import MESSAGE_MAX_BYTES

MAX_BODY_BYTES = 1024 * 1024
# A refused body is read on (and thrown away) up to this much, so the client, still
# sending, gets the 413 rather than a reset connection; past it the connection is closed.
DRAIN_BYTES = 16 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# File routes stream: an upload's body goes to object storage as it arrives (bounded by
# the client's file limit in the route, and here by STREAMED_MAX_BYTES), a download's to
# the client; neither is buffered here nor cut by the request deadline (the route bounds
# its own calls to Temporal).
STREAMED = re.compile(r"^/v1/(tickets/[^/]+/attachments(/[0-9a-f]{64})?|attachments)$")
STREAMED_MAX_BYTES = 1024 ** 3 + 1024 * 1024
# A mail provider's inbound hook posts whole messages, files included: up to what the
# SMTP listener takes (still read into memory, as the parser needs the message whole).
LARGER_BODIES = {"/v1/email/inbound": MESSAGE_MAX_BYTES}

Scope = dict[str, Any]


# On shutdown, requests still running get this long (each ends within its deadline anyway).
GRACEFUL_SHUTDOWN_SECONDS = 30


def uvicorn_options() -> dict[str, Any]:
    """Protocol settings every server of this API uses (CLI and tests alike)."""
    return {"http": BoundedHeadProtocol, "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS}


class RequestDeadline:
    """ASGI middleware answering 503 for a request still waiting after ``seconds``: an
    update or query to a ticket whose worker is down, or whose task keeps failing, is
    otherwise awaited for ever (the SDK polls an update's outcome without a deadline)."""

    def __init__(self, app, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or STREAMED.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, tracked)
        except TimeoutError:
            if started:  # too late for a status: the client sees the body cut short
                raise
            problem = unanswered(f"within {self.seconds:g} s")
            await problem_response(problem, scope.get("path", ""))(scope, receive, send)


class RequestLimits:
    """ASGI middleware enforcing the body and query-string bounds."""

    def __init__(self, app, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            if _CONTROL.search(value) or _CONTROL.search(name):
                problem = field_problem(422, name[:40], "contains a control character "
                                        "(e.g. NUL)", "send printable text only",
                                        "Request is not valid", where="query")
                await problem_response(problem, path)(scope, receive, send)
                return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if STREAMED.match(path):
            await self._streamed(scope, receive, send, declared)
            return
        max_body = LARGER_BODIES.get(path, self.max_body)
        refused = declared is not None and (not declared.isdigit()
                                            or int(declared) > max_body)
        chunks: list[bytes] = []
        seen = 0
        more = True
        while more and seen <= DRAIN_BYTES:  # bound the body before anything parses it
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            more = message.get("more_body", False)
            refused = refused or seen > max_body
            if not refused:
                chunks.append(chunk)
        if refused:
            problem = field_problem(413, "(body)", f"over {max_body:,} bytes",
                                    "send a smaller body: text fields have their own limits "
                                    "(see /docs)", "Request too large", where="body")
            await problem_response(problem, path, {"Connection": "close"})(scope, receive, send)
            return
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive, send, declared: bytes | None) -> None:
        """A file route: the body passes through as it arrives, counted."""
        if declared is not None and (not declared.isdigit()
                                     or int(declared) > STREAMED_MAX_BYTES):
            problem = field_problem(413, "(body)", f"over {STREAMED_MAX_BYTES:,} bytes",
                                    "send a smaller file", "Request too large", where="body")
            closing = problem_response(problem, scope.get("path", ""), {"Connection": "close"})
            await closing(scope, receive, send)
            return
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > STREAMED_MAX_BYTES:  # a chunked body past every limit: stop reading
                return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)
