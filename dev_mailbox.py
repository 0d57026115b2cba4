"""`tempodesk dev`'s local mailbox: an SMTP sink on loopback that keeps the newest messages in
memory, and a page listing them (to, subject, time, the body with its links clickable) on a
loopback port of its own. With it a newcomer follows a quote's approval link or a survey
link on `make run` without a mail server.

A dev tool: `tempodesk api` and `tempodesk worker` never start it, and nothing of it is in
the API app. The tests' SMTP peer (tests/peers.py ``Mailbox``) is the same sink, keeping
every message."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from api.pages import PAGE_POLICY, TEMPLATES, page_headers

KEPT = 500  # messages `tempodesk dev` keeps; older ones are dropped
MESSAGE_BYTES_MAX = 10 * 1024 * 1024  # what the sink's SMTP server accepts in one message
BODY_CHARS_SHOWN = 50_000  # of one body, on the page
# A link in a body: http(s) only (a "javascript:" text is never made a link), up to a space
# or a character no mail client takes as part of a URL; trailing punctuation is the text's.
_LINK = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    """One message as the sink accepted it: its envelope, the parsed message, when."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    at: datetime


class SmtpSink:
    """An SMTP server on loopback that accepts every message and keeps it, parsed: the
    newest ``keep`` of them (None: every one). ``with SmtpSink() as sink``."""

    def __init__(self, port: int | None = None, keep: int | None = None) -> None:
        self.received: deque[Received] = deque(maxlen=keep)
        self.port = port or free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                     data_size_limit=MESSAGE_BYTES_MAX)
        self._lock = threading.Lock()  # the SMTP thread appends; readers copy

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          message, datetime.now(UTC)))
        return "250 OK"

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.snapshot()]

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        return [(r.mail_from, r.rcpt_tos) for r in self.snapshot()]

    def about(self, ticket_id: str) -> list[EmailMessage]:
        return [m for m in self.messages if f"[{ticket_id}]" in m["Subject"]]

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


# ---------------------------------------------------------------- the page


def linked(text: str) -> Iterator[tuple[str, bool]]:
    """``text`` in pieces, each with whether it is a link (the template escapes both)."""
    at = 0
    for match in _LINK.finditer(text):
        url = match.group().rstrip(_TRAILING)
        if at < match.start():
            yield text[at:match.start()], False
        yield url, True
        at = match.start() + len(url)
    if at < len(text):
        yield text[at:], False


def body_text(message: EmailMessage) -> str:
    """The message's text (its plain part, else its HTML as text), cut for the page."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        text = part.get_payload(decode=True).decode("utf-8", errors="replace")
    text = text.replace("\r\n", "\n")
    if len(text) > BODY_CHARS_SHOWN:
        text = text[:BODY_CHARS_SHOWN] + f"\n[... cut at {BODY_CHARS_SHOWN} characters]"
    return text


def _entry(received: Received) -> dict:
    message = received.message
    body = body_text(message)
    return {"at": received.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "to": ", ".join(received.rcpt_tos), "from": str(message["From"] or ""),
            "subject": str(message["Subject"] or ""), "body": body,
            "links": [piece for piece, link in linked(body) if link],
            "attachments": [part.get_filename() or part.get_content_type()
                            for part in message.iter_attachments()]}


def render_page(received: list[Received], kept: int | None) -> str:
    """The page: newest message first."""
    messages = []
    for r in reversed(received):
        entry = _entry(r)
        messages.append({**entry, "pieces": list(linked(entry["body"]))})
    return TEMPLATES.get_template("dev_mailbox.html.j2").render(messages=messages, kept=kept)


def _loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in ("127.0.0.1", "localhost", "[::1]")


class MailboxPage:
    """The sink's messages on loopback: ``/`` the page, ``/messages`` the same as JSON (for
    scripts), under the headers of the API's pages (api/pages.py)."""

    def __init__(self, sink: SmtpSink, port: int = 0) -> None:
        headers = {**page_headers(PAGE_POLICY), "X-Content-Type-Options": "nosniff"}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                kept = sink.received.maxlen
                if not _loopback_host(self.headers.get("Host", "")):
                    # A page elsewhere that rebinds its own name to 127.0.0.1 would read
                    # every signed link in the mailbox: only loopback names are answered.
                    self._answer(421, "text/plain; charset=utf-8",
                                 "the mailbox answers only 127.0.0.1 or localhost\n")
                elif path == "/":
                    self._answer(200, "text/html; charset=utf-8",
                                 render_page(sink.snapshot(), kept))
                elif path == "/messages":
                    listed = [_entry(r) for r in reversed(sink.snapshot())]
                    self._answer(200, "application/json", json.dumps({"messages": listed}))
                else:
                    self._answer(404, "text/plain; charset=utf-8",
                                 "not found: the mailbox is at /\n")

            def _answer(self, status: int, content_type: str, text: str) -> None:
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:  # the dev stack's terminal stays readable
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> MailboxPage:
        threading.Thread(target=self.server.serve_forever, name="mailbox page",
                         daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class DevMailbox:
    """The sink (newest :data:`KEPT` messages) and its page, started and stopped together;
    :meth:`settings` points a desk's SMTP settings at the sink."""

    def __init__(self, page_port: int = 0, keep: int = KEPT) -> None:
        self.sink = SmtpSink(keep=keep)
        self.page = MailboxPage(self.sink, page_port)
        self.url = self.page.url

    def settings(self) -> dict[str, object]:
        """What TEMPODESK_SMTP_* must say for a desk to mail into this mailbox."""
        return {"smtp_host": "127.0.0.1", "smtp_port": self.sink.port,
                "smtp_starttls": False, "smtp_username": None, "smtp_password": None}

    def __enter__(self) -> DevMailbox:
        self.sink.__enter__()
        try:
            self.page.__enter__()
        except BaseException:
            self.sink.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.page.__exit__(None, None, None)
        self.sink.__exit__(None, None, None)
