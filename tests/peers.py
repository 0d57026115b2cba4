"""Real protocol peers on loopback: an SMTP server (aiosmtpd) and a webhook receiver."""

from __future__ import annotations

import json
import os
import random
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from activities import webhooks
from dev_mailbox import SmtpSink

_HANDED_OUT: set[int] = set()


def _below_ephemeral() -> range:
    """Ports the kernel never hands to a ``bind(0)`` or an outgoing connection: those below
    its ephemeral range. A port the tests choose for a server started later cannot be taken
    meanwhile by a server that picks its own (weed's, Temporal's internal services)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    ours = range(max(1024, low - 12000), low)
    # pytest-xdist's workers run side by side: each takes its own slice.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    return ours[worker::workers]


def free_port() -> int:
    """A loopback port free now, never handed out before in this run."""
    ours = _below_ephemeral()
    for _ in range(500):
        port = random.choice(ours)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {ours}")


class RefusingPort:
    """A loopback port that refuses connections (bound, never listening) and stays ours
    until ``release()``, so no other process takes it before a peer is started on it."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]

    def release(self) -> int:
        self._socket.close()
        return self.port


class Mailbox(SmtpSink):
    """Every message the SMTP server accepted, parsed: the dev stack's sink (dev_mailbox.py),
    keeping every message."""


class SignedReceiver:
    """A local HTTP server that accepts POSTs signed as Standard Webhooks with ``SECRET``;
    a subclass says what to answer each one."""

    SECRET = ""
    PATH = "/hooks"

    def __init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                webhook_id = self.headers["webhook-id"]
                valid = webhooks.verify(receiver.SECRET, webhook_id,
                                        int(self.headers["webhook-timestamp"]), body,
                                        self.headers["webhook-signature"])
                status, answer = receiver.answer(webhook_id, json.loads(body), valid)
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.PATH}"

    def answer(self, webhook_id: str, body: dict, valid: bool) -> tuple[int, dict | None]:
        raise NotImplementedError

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()


class WebhookReceiver(SignedReceiver):
    """Records every delivery; answers 204 (503 to the first ``fail_first`` signed ones)."""

    SECRET = "whsec_" + "dGVtcG9kZXNrLXRlc3Qtd2ViaG9vay1zZWNyZXQ="

    def __init__(self, fail_first: int = 0, hold: threading.Event | None = None) -> None:
        self.received: list[dict] = []
        self.fail_first = fail_first
        self.hold = hold  # if given, each answer waits (up to 20 s) until it is set
        super().__init__()

    def answer(self, webhook_id: str, body: dict, valid: bool) -> tuple[int, dict | None]:
        failing = valid and self.fail_first > 0
        self.fail_first -= failing
        self.received.append({"id": webhook_id, "valid": valid, "body": body,
                              "failed": failing})
        if self.hold is not None:
            self.hold.wait(20)
        return (503 if failing else 204 if valid else 401), None


class ProcurementReceiver(SignedReceiver):
    """The MSP's purchasing system: answers the order id, ETA and install date; the same
    webhook-id twice is the same order (kept once)."""

    SECRET = "whsec_" + "cHJvY3VyZW1lbnQtdGVzdC1zZWNyZXQtMzItYnl0ZXM="
    PATH = "/orders"

    def __init__(self, fail_first: int = 0) -> None:
        self.orders: dict[str, dict] = {}   # webhook-id -> the order's data
        self.posts: list[str] = []          # webhook-ids, every attempt
        self.fail_first = fail_first        # answer 503 to this many first
        super().__init__()

    def answer(self, webhook_id: str, body: dict, valid: bool) -> tuple[int, dict | None]:
        if not valid:
            return 401, None
        self.posts.append(webhook_id)
        if self.fail_first > 0:
            self.fail_first -= 1
            return 503, None
        data = body["data"]
        self.orders.setdefault(webhook_id, data)
        return 200, {"order_id": f"PO-{data['quote_id']}", "eta": "2027-01-15",
                     "install_on": "2027-01-20"}
