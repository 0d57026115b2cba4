"""Local servers that speak the request and response shapes of Microsoft Graph (with its
OAuth token endpoint) and SentinelOne, with faults a test can schedule: 429 with
Retry-After, 5xx outages, 404 for unknown users. Every request is recorded."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class Seen:
    method: str
    path: str
    body: dict
    headers: dict
    at: float


@dataclass
class Faults:
    throttle: int = 0                 # the next N Graph API calls answer 429
    retry_after: int = 1
    down_until: float = 0.0           # Graph API answers 503 until this monotonic time
    unknown_users: set[str] = field(default_factory=set)


class ProviderServer:
    """Graph at ``/graph``, its sign-in at ``/login``, SentinelOne at ``/s1``."""

    TOKEN = "test-graph-token"
    S1_TOKEN = "test-s1-token"

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.faults = Faults()
        self.licences = {"jo.tran@harbourside.example": ["sku-e3", "sku-visio"]}
        self.disabled: set[str] = set()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: object | None = None,
                        headers: dict | None = None) -> None:
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype and raw:
                    body = json.loads(raw)
                elif raw:
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                else:
                    body = {}
                url = urlparse(self.path)
                with server.lock:
                    server.seen.append(Seen(self.command, unquote(url.path), body,
                                            dict(self.headers),
                                            time.monotonic()))
                    status, answer, headers = server.route(self.command, url.path,
                                                           parse_qs(url.query), body,
                                                           dict(self.headers))
                self._answer(status, answer, headers)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}"

    # ------------------------------------------------------------------ routing

    def route(self, method: str, path: str, query: dict, body: dict, headers: dict):
        if path.startswith("/login/"):
            if body.get("grant_type") != "client_credentials" or not body.get("client_secret"):
                return 400, {"error": "invalid_request"}, {}
            return 200, {"token_type": "Bearer", "expires_in": 3599,
                         "access_token": self.TOKEN}, {}
        if path.startswith("/graph/"):
            return self.graph(method, path.removeprefix("/graph/v1.0"), body, headers)
        if path.startswith("/s1/"):
            return self.sentinelone(method, path.removeprefix("/s1"), query, body, headers)
        return 404, {"error": "no such route"}, {}

    def graph(self, method: str, path: str, body: dict, headers: dict):
        if headers.get("Authorization") != f"Bearer {self.TOKEN}":
            return 401, {"error": {"code": "InvalidAuthenticationToken"}}, {}
        if self.faults.throttle > 0:
            self.faults.throttle -= 1
            return 429, {"error": {"code": "TooManyRequests"}}, {
                "Retry-After": str(self.faults.retry_after)}
        if time.monotonic() < self.faults.down_until:
            return 503, {"error": {"code": "ServiceUnavailable"}}, {}
        parts = path.strip("/").split("/")
        if parts[0] == "users":
            user = unquote(parts[1])
            if user in self.faults.unknown_users:
                return 404, {"error": {"code": "Request_ResourceNotFound",
                                       "message": f"Resource '{user}' does not exist"}}, {}
            action = parts[2] if len(parts) > 2 else None
            if method == "PATCH" and action is None:
                if body.get("accountEnabled") is False:
                    self.disabled.add(user)
                return 204, None, {}
            if method == "POST" and action == "revokeSignInSessions":
                return 200, {"@odata.context": "...$metadata#Edm.Boolean", "value": True}, {}
            if method == "GET" and action == "licenseDetails":
                return 200, {"value": [{"id": f"l-{sku}", "skuId": sku,
                                        "skuPartNumber": sku.upper()}
                                       for sku in self.licences.get(user, [])]}, {}
            if method == "POST" and action == "assignLicense":
                held = self.licences.get(user, [])
                self.licences[user] = [s for s in held if s not in body["removeLicenses"]]
                return 200, {"id": "user-1", "userPrincipalName": user}, {}
            if method == "DELETE" and action is None:
                return 204, None, {}
        if parts[:2] == ["deviceManagement", "managedDevices"] and parts[-1] == "wipe":
            return 204, None, {}
        return 404, {"error": {"code": "BadRequest"}}, {}

    def sentinelone(self, method: str, path: str, query: dict, body: dict, headers: dict):
        if headers.get("Authorization") != f"ApiToken {self.S1_TOKEN}":
            return 401, {"errors": [{"code": 4010010, "title": "Authentication Failed"}]}, {}
        if method == "GET" and path == "/web/api/v2.1/agents":
            user = query.get("query", [""])[0]
            agents = [{"id": "1234567890", "uuid": "ab12", "computerName": "PF3X9K",
                       "lastLoggedInUserName": user}] if user in self.licences else []
            return 200, {"data": agents, "pagination": {"totalItems": len(agents),
                                                        "nextCursor": None}}, {}
        if method == "POST" and path == "/web/api/v2.1/agents/actions/disconnect":
            return 200, {"data": {"affected": len(body["filter"]["ids"])}}, {}
        return 404, {"errors": [{"code": 4040001, "title": "Not Found"}]}, {}

    # ------------------------------------------------------------------ helpers

    def calls(self, method: str, fragment: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and fragment in s.path]

    def __enter__(self) -> ProviderServer:
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.http.shutdown()
