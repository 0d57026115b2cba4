"""Real protocol peers on loopback: an SMTP server (aiosmtpd) and a webhook receiver."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from activities import webhooks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """Every message the SMTP server accepted, parsed."""

    def __init__(self, port: int | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.port = port or free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"

    def about(self, ticket_id: str) -> list[EmailMessage]:
        return [m for m in self.messages if f"[{ticket_id}]" in m["Subject"]]

    def __enter__(self) -> Mailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class WebhookReceiver:
    """Accepts POSTs, verifying the Standard Webhooks signature with ``secret``."""

    SECRET = "whsec_" + "dGVtcG9kZXNrLXRlc3Qtd2ViaG9vay1zZWNyZXQ="

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict] = []
        self.fail_first = fail_first  # answer 503 to this many signed posts first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                valid = webhooks.verify(receiver.SECRET, self.headers["webhook-id"],
                                        int(self.headers["webhook-timestamp"]), body,
                                        self.headers["webhook-signature"])
                failing = valid and receiver.fail_first > 0
                receiver.fail_first -= failing
                receiver.received.append({"id": self.headers["webhook-id"], "valid": valid,
                                          "body": json.loads(body), "failed": failing})
                self.send_response(503 if failing else 204 if valid else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()


class ProcurementReceiver:
    """The MSP's purchasing system: verifies the signed order, answers its order id, ETA
    and install date; the same webhook-id twice is the same order (counted once)."""

    SECRET = "whsec_" + "cHJvY3VyZW1lbnQtdGVzdC1zZWNyZXQtMzItYnl0ZXM="

    def __init__(self) -> None:
        self.orders: dict[str, dict] = {}   # webhook-id -> the order's data
        self.posts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                valid = webhooks.verify(receiver.SECRET, self.headers["webhook-id"],
                                        int(self.headers["webhook-timestamp"]), body,
                                        self.headers["webhook-signature"])
                receiver.posts += 1
                if not valid:
                    self.send_response(401)
                    self.end_headers()
                    return
                data = json.loads(body)["data"]
                receiver.orders.setdefault(self.headers["webhook-id"], data)
                answer = json.dumps({"order_id": f"PO-{data['quote_id']}",
                                     "eta": "2027-01-15", "install_on": "2027-01-20"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/orders"

    def __enter__(self) -> ProcurementReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
