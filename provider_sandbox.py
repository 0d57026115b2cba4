"""The provider sandbox: one local server that speaks the request and response shapes of
Microsoft Graph (with its OAuth token endpoint), SentinelOne and Datto RMM (API v2, its
OAuth password grant), so `tempodesk dev` and the tests drive the real HTTP adapters
without a Microsoft 365 tenant. Faults a test can schedule: 429 with Retry-After, 5xx
outages (for a while, or for a number of calls), 404 for unknown users. Its demo data is
listed in docs/sandbox.md. Every request is recorded (the newest ``keep`` of them in
a long-running `tempodesk dev`), and ``GET /calls`` lists them as JSON. Graph keeps users,
licences (with seat counts per SKU), group members and authentication methods, so
provisioning can be checked by its effect.

Like the real consoles, one MSP token sees every client: Datto RMM devices and SentinelOne
agents belong to sites (one per demo client, ``DEMO_SITES``, as tempodesk.yaml names
them), and only the filters a call sends (``/v2/site/<uid>/devices``; ``siteIds`` and
``groupIds`` on SentinelOne's agent search and on its actions' ``filter``) keep one
client's call off another client's endpoints."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class Seen:
    method: str
    path: str
    body: dict
    headers: dict
    at: float                   # monotonic, for tests' intervals
    received: float = field(default_factory=time.time)
    query: dict[str, str] = field(default_factory=dict)  # the query string, first values


# Each demo client's sites, as tempodesk.yaml names them: (Datto RMM site uid, SentinelOne
# site id, SentinelOne group id). A SentinelOne agent sits in the site (and group) of the
# Datto site its installer ran in.
DEMO_SITES = {
    "belton": ("site-harbourside", "s1-site-harbourside", "s1-group-harbourside"),
    "betterworld": ("site-hudsonfreight", "s1-site-hudsonfreight", "s1-group-hudsonfreight"),
    "plexacet": ("site-opaldental", "s1-site-opaldental", "s1-group-opaldental"),
}
_S1_OF_DATTO = {datto: (site, group) for datto, site, group in DEMO_SITES.values()}


def _listed(query: dict, name: str) -> set[str] | None:
    """A SentinelOne list filter (comma-separated in a query string), or None if absent."""
    values = query.get(name)
    return None if values is None else {v for v in ",".join(values).split(",") if v}


def _redacted(body: dict) -> dict:
    """Passwords and secrets never leave the sandbox's memory."""
    return {k: "***" if any(w in k.lower() for w in ("password", "secret")) else v
            for k, v in body.items()}


@dataclass
class Faults:
    throttle: int = 0                 # the next N Graph API calls answer 429
    retry_after: int = 1
    down_until: float = 0.0           # Graph API answers outage_status until this monotonic time
    outage_status: int = 503          # 503 (planned) or 500 (Graph's InternalServerError)
    outage_calls: int = 0             # the next N Graph API calls answer outage_status (an
                                      # outage counted in calls: for time-skipping tests)
    unknown_users: set[str] = field(default_factory=set)
    datto_throttle: int = 0           # the next N Datto API calls answer 429
    datto_down_until: float = 0.0     # Datto answers 503 until this monotonic time


@dataclass
class Sku:
    sku_id: str
    part_number: str
    seats: int


class ProviderServer:
    """Graph at ``/graph``, its sign-in at ``/login``, SentinelOne at ``/s1``, Datto RMM
    at ``/datto``."""

    TOKEN = "test-graph-token"
    S1_TOKEN = "test-s1-token"
    DATTO_KEY, DATTO_SECRET, DATTO_TOKEN = "datto-key", "datto-secret", "test-datto-token"
    SITE, S1_SITE, S1_GROUP = DEMO_SITES["belton"]

    def __init__(self, port: int = 0, keep: int | None = None) -> None:
        self.seen: deque[Seen] = deque(maxlen=keep)  # None: every call (tests, benches)
        self.faults = Faults()
        self.licences = {"jo.tran@harbourside.example": ["sku-e3", "sku-visio"]}
        self.disabled: set[str] = set()
        self.wiped: set[str] = set()               # Intune managed device ids
        self.skus = [Sku("sku-e3", "SPE_E3", 25), Sku("sku-visio", "VISIOCLIENT", 5)]
        # upn -> the user as Graph returns it; a leaver to be exits the demo and the tests
        self.users: dict[str, dict] = {"jo.tran@harbourside.example": {
            "id": "uid-jo", "userPrincipalName": "jo.tran@harbourside.example",
            "displayName": "Jo Tran", "accountEnabled": True, "usageLocation": "AU"}}
        self.members: dict[str, set[str]] = {     # group id -> user ids
            "g-all-staff": {"uid-jo"}, "g-legal": {"uid-jo"}, "g-dynamic-au": {"uid-jo"}}
        self.dynamic = {"g-dynamic-au"}           # membership by rule: not edited by hand
        self.mail_groups = {"reception@harbourside.example": "g-reception"}
        self.mfa: set[str] = set()                # upns with an authenticator registered
        self.devices = [{"id": 1, "uid": "dev-uid-042", "siteUid": self.SITE,
                         "hostname": "BEL-LT-042", "udf": {}}]
        self.quickjobs: list[tuple[str, str]] = []  # (device uid, component uid)
        # SentinelOne agents, each in a site and group: Jo Tran's laptop at Harbourside and
        # Ana Ruiz's at Hudson Freight. An EDR install (Datto's comp-s1) adds one.
        hudson_site, hudson_group = DEMO_SITES["betterworld"][1:]
        self.agents: list[dict] = [
            {"id": "1234567890", "uuid": "ab12", "computerName": "PF3X9K",
             "lastLoggedInUserName": "jo.tran@harbourside.example",
             "siteId": self.S1_SITE, "groupId": self.S1_GROUP},
            {"id": "2234567890", "uuid": "cd34", "computerName": "HF-LT-007",
             "lastLoggedInUserName": "ana.ruiz@hudsonfreight.example",
             "siteId": hudson_site, "groupId": hudson_group}]
        self.disconnected: set[str] = set()       # agent ids network-quarantined
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

            def _calls(self) -> None:
                with server.lock:
                    calls = [{"method": c.method, "path": c.path, "query": c.query,
                              "body": _redacted(c.body), "received": c.received}
                             for c in server.seen]
                self._answer(200, {"calls": calls})

            def _handle(self) -> None:
                if self.command == "GET" and self.path == "/calls":
                    return self._calls()
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
                query = parse_qs(url.query)
                with server.lock:
                    server.seen.append(Seen(self.command, unquote(url.path), body,
                                            dict(self.headers), time.monotonic(),
                                            query={k: v[0] for k, v in query.items()}))
                    status, answer, headers = server.route(self.command, url.path, query,
                                                           body, dict(self.headers))
                self._answer(status, answer, headers)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}"

    # ------------------------------------------------------------------ routing

    def route(self, method: str, path: str, query: dict, body: dict, headers: dict):
        if path.startswith("/login/"):
            if body.get("grant_type") != "client_credentials" or not body.get("client_secret"):
                return 400, {"error": "invalid_request"}, {}
            tenant = unquote(path.removeprefix("/login/").split("/", 1)[0])
            return 200, {"token_type": "Bearer", "expires_in": 3599,  # bound to the tenant
                         "access_token": f"{self.TOKEN}:{tenant}"}, {}
        if path.startswith("/graph/"):
            return self.graph(method, path.removeprefix("/graph/v1.0"), query, body, headers)
        if path.startswith("/s1/"):
            return self.sentinelone(method, path.removeprefix("/s1"), query, body, headers)
        if path.startswith("/datto/"):
            return self.datto(method, path.removeprefix("/datto"), body, headers)
        return 404, {"error": "no such route"}, {}

    def graph(self, method: str, path: str, query: dict, body: dict, headers: dict):
        if not headers.get("Authorization", "").startswith(f"Bearer {self.TOKEN}:"):
            return 401, {"error": {"code": "InvalidAuthenticationToken"}}, {}
        if self.faults.throttle > 0:
            self.faults.throttle -= 1
            return 429, {"error": {"code": "TooManyRequests"}}, {
                "Retry-After": str(self.faults.retry_after)}
        counted = self.faults.outage_calls > 0
        if counted:
            self.faults.outage_calls -= 1
        if counted or time.monotonic() < self.faults.down_until:
            code = {500: "InternalServerError"}.get(self.faults.outage_status,
                                                    "ServiceUnavailable")
            return self.faults.outage_status, {"error": {"code": code}}, {}
        parts = path.strip("/").split("/")
        joiner = self.joiners(method, [unquote(p) for p in parts], query, body)
        if joiner is not None:
            return joiner
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
                known = self.users.get(user)
                if body["addLicenses"] and known is not None and not known.get("usageLocation"):
                    return 400, {"error": {"code": "Request_BadRequest", "message": "License "
                                 "assignment cannot be done for user with invalid usage "
                                 "location."}}, {}
                held = self.licences.get(user, [])
                kept = [s for s in held if s not in body["removeLicenses"]]
                self.licences[user] = kept + [a["skuId"] for a in body["addLicenses"]
                                              if a["skuId"] not in kept]
                return 200, {"id": "user-1", "userPrincipalName": user}, {}
            if method == "DELETE" and action is None:
                if user in self.users:
                    del self.users[user]
                    self.licences.pop(user, None)
                elif user not in self.licences:  # neither made here nor a known leaver
                    return 404, {"error": {"code": "Request_ResourceNotFound"}}, {}
                return 204, None, {}
        if parts[:2] == ["deviceManagement", "managedDevices"] and parts[-1] == "wipe":
            self.wiped.add(unquote(parts[2]))
            return 204, None, {}
        if parts[:2] == ["deviceManagement", "managedDevices"] and len(parts) == 3:
            device = unquote(parts[2])
            results = [{"actionName": "wipe", "actionState": "done",
                        "startDateTime": "2026-01-01T00:00:00Z"}] if device in self.wiped else []
            return 200, {"id": device, "deviceActionResults": results}, {}
        return 404, {"error": {"code": "BadRequest"}}, {}

    def joiners(self, method: str, parts: list[str], query: dict, body: dict):
        """What onboarding drives: users, SKUs, groups, authentication methods."""
        def conflict():
            return 400, {"error": {"code": "Request_BadRequest", "message": "Another object "
                         "with the same value for property userPrincipalName already "
                         "exists."}}, {}
        if method == "POST" and parts == ["users"]:
            upn = body["userPrincipalName"]
            if upn in self.users:
                return conflict()
            user = {"id": f"uid-{len(self.users) + 1}", **{k: v for k, v in body.items()
                                                          if k != "passwordProfile"}}
            self.users[upn] = user
            return 201, user, {}
        if parts == ["subscribedSkus"] and method == "GET":
            used = [sku for held in self.licences.values() for sku in held]
            return 200, {"value": [{"skuId": k.sku_id, "skuPartNumber": k.part_number,
                                    "prepaidUnits": {"enabled": k.seats, "suspended": 0},
                                    "consumedUnits": used.count(k.sku_id)}
                                   for k in self.skus]}, {}
        if parts == ["groups"] and method == "GET":
            mail = query.get("$filter", [""])[0].split("'")[1]
            group = self.mail_groups.get(mail)
            return 200, {"value": [{"id": group}] if group else []}, {}
        if len(parts) >= 4 and parts[0] == "groups" and parts[2] == "members":
            members = self.members.setdefault(parts[1], set())
            if method == "POST":
                user_id = body["@odata.id"].rsplit("/", 1)[-1]
                if user_id in members:
                    return 400, {"error": {"code": "Request_BadRequest", "message": "One or "
                                 "more added object references already exist for the "
                                 "following modified properties: 'members'."}}, {}
                members.add(user_id)
                return 204, None, {}
            if method == "DELETE":
                if parts[3] not in members:
                    return 404, {"error": {"code": "Request_ResourceNotFound"}}, {}
                if parts[1] in self.dynamic:
                    return 400, {"error": {"code": "Request_BadRequest", "message": "Cannot "
                                 "update members of a dynamic group."}}, {}
                members.discard(parts[3])
                return 204, None, {}
        if parts[0] == "users" and len(parts) >= 2 and parts[1] in self.users:
            user = self.users[parts[1]]
            if len(parts) == 2 and method == "GET":
                return 200, user, {}
            if len(parts) == 2 and method == "PATCH":
                user.update(body)
                if body.get("accountEnabled") is False:
                    self.disabled.add(parts[1])
                return 204, None, {}
            if parts[2:] == ["memberOf"] and method == "GET":
                return 200, {"value": [
                    {"@odata.type": "#microsoft.graph.group", "id": group,
                     "groupTypes": ["DynamicMembership"] if group in self.dynamic else []}
                    for group, members in self.members.items() if user["id"] in members]}, {}
            if parts[2:] == ["authentication", "methods"]:
                methods = [{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
                            "id": "28c10230-6103-485e-b985-444c60001490"}]
                if parts[1] in self.mfa:
                    methods.append({"@odata.type": "#microsoft.graph."
                                    "microsoftAuthenticatorAuthenticationMethod",
                                    "id": "6e8b1f3a", "displayName": "iPhone"})
                return 200, {"value": methods}, {}
        elif parts[0] == "users" and len(parts) == 2 and method == "GET":
            return 404, {"error": {"code": "Request_ResourceNotFound"}}, {}
        return None

    def datto(self, method: str, path: str, body: dict, headers: dict):
        if path == "/auth/oauth/token":
            basic = base64.b64encode(b"public-client:public").decode()
            if (headers.get("Authorization") != f"Basic {basic}"
                    or body.get("grant_type") != "password"
                    or (body.get("username"), body.get("password"))
                    != (self.DATTO_KEY, self.DATTO_SECRET)):
                return 401, {"error": "unauthorized"}, {}
            return 200, {"access_token": self.DATTO_TOKEN, "token_type": "bearer",
                         "expires_in": 359999, "scope": "default"}, {}
        if headers.get("Authorization") != f"Bearer {self.DATTO_TOKEN}":
            return 401, {"error": "unauthorized"}, {}
        if self.faults.datto_throttle > 0:
            self.faults.datto_throttle -= 1
            return 429, {"message": "Rate limit exceeded"}, {"Retry-After": "1"}
        if time.monotonic() < self.faults.datto_down_until:
            return 503, {"message": "Service Unavailable"}, {}
        parts = path.strip("/").split("/")  # api v2 ...
        if parts[:3] == ["api", "v2", "site"] and parts[4:] == ["devices"]:
            devices = [d for d in self.devices if d["siteUid"] == parts[3]]
            return 200, {"pageDetails": {"count": len(devices), "totalCount": len(devices),
                                         "prevPageUrl": None, "nextPageUrl": None},
                         "devices": devices}, {}
        if parts[:3] == ["api", "v2", "device"] and len(parts) == 5:
            device = next((d for d in self.devices if d["uid"] == parts[3]), None)
            if device is None:
                return 404, {"message": "Device not found"}, {}
            if parts[4] == "udf" and method == "POST":
                device["udf"] = {**device["udf"], **body}
                return 200, None, {}
            if parts[4] == "quickjob" and method == "PUT":
                component = body["jobComponent"]["componentUid"]
                self.quickjobs.append((device["uid"], component))
                if component == "comp-s1":  # the EDR installer: the agent checks in
                    self._install_agent(device)
                return 200, {"job": {"uid": f"job-{len(self.quickjobs)}", "status": "active",
                                     "name": body["jobName"]}}, {}
        return 404, {"message": "Not found"}, {}

    def sentinelone(self, method: str, path: str, query: dict, body: dict, headers: dict):
        if headers.get("Authorization") != f"ApiToken {self.S1_TOKEN}":
            return 401, {"errors": [{"code": 4010010, "title": "Authentication Failed"}]}, {}
        if method == "GET" and path == "/web/api/v2.1/agents":
            agents = self._agents({k: v[0] for k, v in query.items()}, query)
            return 200, {"data": agents, "pagination": {"totalItems": len(agents),
                                                        "nextCursor": None}}, {}
        if method == "POST" and path == "/web/api/v2.1/agents/actions/disconnect":
            scope = body.get("filter") or {}
            lists = {k: ",".join(v) if isinstance(v, list) else str(v)
                     for k, v in scope.items()}
            matched = self._agents(lists, {k: [v] for k, v in lists.items()})
            self.disconnected |= {a["id"] for a in matched}
            return 200, {"data": {"affected": len(matched)}}, {}
        return 404, {"errors": [{"code": 4040001, "title": "Not Found"}]}, {}

    def _agents(self, first: dict[str, str], query: dict) -> list[dict]:
        """The agents a search or an action's filter matches: free text (``query``) in the
        host or last user, exact ``computerName``, and the ``ids``, ``siteIds`` and
        ``groupIds`` lists; an absent filter matches every agent in the console."""
        text = first.get("query", "").lower()
        ids, sites, groups = (_listed(query, n) for n in ("ids", "siteIds", "groupIds"))
        return [dict(a) for a in self.agents
                if (not text or text in a["computerName"].lower()
                    or text in a["lastLoggedInUserName"].lower())
                and first.get("computerName", a["computerName"]) == a["computerName"]
                and (ids is None or a["id"] in ids)
                and (sites is None or a["siteId"] in sites)
                and (groups is None or a["groupId"] in groups)]

    def _install_agent(self, device: dict) -> None:
        """Datto ran SentinelOne's installer on ``device``: its agent checks in, in the
        SentinelOne site (and group) of the device's Datto site."""
        site, group = _S1_OF_DATTO.get(device["siteUid"], ("s1-site-unknown", "s1-group-unknown"))
        if not any(a["computerName"] == device["hostname"] and a["siteId"] == site
                   for a in self.agents):
            self.agents.append({"id": f"edr-{device['uid']}", "uuid": device["uid"],
                                "computerName": device["hostname"],
                                "lastLoggedInUserName": "", "siteId": site, "groupId": group})

    # ------------------------------------------------------------------ helpers

    def calls(self, method: str, fragment: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and fragment in s.path]

    def tenant_of(self, call: Seen) -> str | None:
        """The Entra tenant a Graph call was made in (its token was issued for one)."""
        auth = call.headers.get("Authorization", "")
        prefix = f"Bearer {self.TOKEN}:"
        return auth.removeprefix(prefix) if auth.startswith(prefix) else None

    def __enter__(self) -> ProviderServer:
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def settings(self) -> dict[str, str]:
        """The settings that point Tempodesk's adapters at this sandbox."""
        return {"graph_url": f"{self.base}/graph", "graph_login_url": f"{self.base}/login",
                "graph_client_id": "tempodesk-sandbox", "graph_client_secret": "sandbox",
                "sentinelone_url": f"{self.base}/s1", "sentinelone_token": self.S1_TOKEN,
                "datto_url": f"{self.base}/datto", "datto_api_key": self.DATTO_KEY,
                "datto_api_secret": self.DATTO_SECRET}

    def __exit__(self, *exc) -> None:
        self.http.shutdown()
