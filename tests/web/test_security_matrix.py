"""Every route x every credential, derived from the app's own route table (issue 12).

Nothing here lists routes by name: a new route is covered the day it is added. A route's
Action is read from its ``require(Action)`` dependency; the roles that may perform it come
from ``domain.roles.PERMISSIONS``. Routes without an Action must be, by rule, either a
signed link (they take a ``token``) or public (outside ``/v1`` and ``/scim``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from api.app import create_app
from api.limits import LARGER_BODIES, MAX_BODY_BYTES, STREAMED
from api.route_table import every_route
from domain.roles import PERMISSIONS, Action, Role, allowed
from tests.conftest import DEMO_CONFIG, file_settings, isolated, make_settings, running_desk
from tests.web.helpers import incident_body

CLIENT_ROLES = [r.value for r in Role]
PROTECTED_PREFIXES = ("/v1/", "/scim/")
# Path parameters naming something a client owns: another client's is 404, never 403.
OWNED = ("ticket_id", "quote_id", "client")
BODY_METHODS = {"POST", "PUT", "PATCH"}


# ------------------------------------------------------------------ the route table


def _actions(dependant) -> list[Action]:
    found = []
    for sub in dependant.dependencies:
        call = sub.call
        if getattr(call, "__qualname__", "").startswith("require."):
            found.append(inspect.getclosurevars(call).nonlocals["action"])
        found += _actions(sub)
    return found


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    action: Action | None
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body_model: type | None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def signed_link(self) -> bool:
        return self.action is None and "token" in (*self.path_params, *self.query_params)

    @property
    def public(self) -> bool:
        return self.action is None and not self.path.startswith(PROTECTED_PREFIXES)

    @property
    def owned(self) -> bool:
        return any(p in OWNED for p in self.path_params)


def route_table() -> list[Endpoint]:
    app = create_app(make_settings(), isolated_config())
    table = []
    for route in every_route(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue  # a mount (the docs' static files) or a plain Starlette route
        actions = set(_actions(dependant))
        assert len(actions) <= 1, f"{route.path} requires several actions: {actions}"
        body = getattr(route, "body_field", None)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            table.append(Endpoint(
                method, route.path, next(iter(actions), None),
                tuple(p.name for p in dependant.path_params),
                tuple(p.name for p in dependant.query_params),
                body.field_info.annotation if body is not None else None))
    # A POST to a signed-link page (its form carries the token) is a signed link too.
    linked = {e.path for e in table if e.signed_link}
    return [Endpoint(e.method, e.path, e.action, e.path_params,
                     (*e.query_params, "token") if e.action is None and e.path in linked
                     else e.query_params, e.body_model) for e in table]


def isolated_config():
    from domain.tenants import load_config

    base = isolated(load_config(DEMO_CONFIG))
    lavish = {role: "100000/min" for role in Role}  # the matrix is not a rate-limit test
    return base.model_copy(update={"rate_limits": lavish, "signed_link_rate": "100000/min",
                                   "clients": [c.model_copy(update={"rate_limits": lavish})
                                               for c in base.clients]})


TABLE = route_table()


# ------------------------------------------------------------------ who calls


@dataclass(frozen=True)
class Caller:
    key: str
    role: Role
    sees: frozenset[str]  # demo client names whose tickets it may see

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


ALL = frozenset({"belton", "plexacet"})
CALLERS = [
    *(Caller(f"td_belton_{r}_demo", Role(r), frozenset({"belton"})) for r in CLIENT_ROLES),
    *(Caller(f"td_plexacet_{r}_demo", Role(r), frozenset({"plexacet"})) for r in CLIENT_ROLES),
    Caller("td_msp_agent_demo", Role.AGENT, ALL),
    Caller("td_msp_admin_demo", Role.ADMIN, ALL),
    Caller("td_msp_integration_demo", Role.INTEGRATION, ALL),
    Caller("td_msp_belton_agent_demo", Role.AGENT, frozenset({"belton"})),
]


# ------------------------------------------------------------------ the rules themselves


def test_every_protected_route_has_an_action_or_a_signed_link():
    assert len(TABLE) > 30, "the route table came back (nearly) empty: the walk is broken"
    loose = [e.id for e in TABLE if e.action is None and not e.signed_link and not e.public]
    assert loose == [], f"/v1 or /scim routes with neither require(Action) nor a token: {loose}"
    assert {e.action for e in TABLE if e.action} <= set(PERMISSIONS)
    # The walk finds what the rules say must exist: surveys are links, /healthz is public.
    assert any(e.signed_link and e.path.startswith("/v1/surveys") for e in TABLE)
    assert any(e.public and e.path == "/healthz" for e in TABLE)
    assert not any(e.public and e.path.startswith(PROTECTED_PREFIXES) for e in TABLE)


def test_every_body_model_forbids_unknown_fields():
    def models(annotation) -> Iterator[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield annotation
            for field in annotation.model_fields.values():
                yield from models(field.annotation)
        for arg in getattr(annotation, "__args__", ()):
            yield from models(arg)

    seen = {m for e in TABLE if e.body_model for m in models(e.body_model)}
    assert len(seen) > 10
    # "ignore" is for foreign formats (Alertmanager, PagerDuty Events v2): unknown fields
    # are dropped, never stored; "allow" (or the default) would keep them.
    lax = sorted(m.__name__ for m in seen if not m.__pydantic_root_model__
                 and m.model_config.get("extra") not in ("forbid", "ignore"))
    assert lax == [], f"request models that keep unknown fields: {lax}"


# ------------------------------------------------------------------ over real HTTP


def minimal_body(model: Any) -> dict[str, Any]:
    """The smallest body the model accepts, from its JSON schema (required fields only), so
    a 404 cannot hide behind a 422: validation runs before the handler looks the id up."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})

    def value(prop: dict[str, Any], name: str) -> Any:
        if "$ref" in prop:
            prop = defs[prop["$ref"].rsplit("/", 1)[1]]
        if "enum" in prop:
            return prop["enum"][0]
        if prop.get("examples"):
            return prop["examples"][0]
        kind = prop.get("type")
        if kind == "boolean":
            return False
        if kind == "string" and prop.get("format") == "date-time":
            return "2027-01-20T10:00:00+00:00"
        if kind == "string" and "email" in name:
            return "someone@example.com"
        if kind == "string" and "pattern" not in prop:
            return "x" * max(prop.get("minLength", 0), 12)
        raise AssertionError(f"{model.__name__}.{name}: minimal_body cannot make {prop}: "
                             "give the field an `examples=[...]`")

    return {name: value(schema["properties"][name], name)
            for name in schema.get("required", [])}


def _url(endpoint: Endpoint, values: dict[str, str]) -> str:
    missing = [p for p in endpoint.path_params if p not in values]
    assert not missing, (f"{endpoint.id}: the matrix has no value for path parameter(s) "
                         f"{missing}: add one to `values` in test_route_matrix")
    return endpoint.path.format(**{p: values[p] for p in endpoint.path_params})


async def _send(desk, endpoint: Endpoint, url: str, headers: dict[str, str], body: Any = None):
    kwargs: dict[str, Any] = {"headers": headers}
    if endpoint.method in BODY_METHODS:
        kwargs["json"] = {} if body is None else body
    return await desk.http.request(endpoint.method, url, **kwargs)


@pytest.fixture
async def matrix_desk(dev_client, task_queue, local_s3):
    async with running_desk(dev_client, isolated_config(),
                            file_settings(local_s3, task_queue=task_queue)) as desk:
        yield desk


async def test_route_matrix(matrix_desk):
    desk = matrix_desk
    tickets = {}
    for name in ("belton", "plexacet"):
        made = await desk.http.post("/v1/incidents", json=incident_body(),
                                    headers=desk.as_(name, "requester"))
        assert made.status_code == 201, made.text
        tickets[name] = made.json()["ticket_id"]

    def values(owner: str) -> dict[str, str]:
        return {"ticket_id": tickets[owner], "quote_id": tickets[owner],
                "client": desk.client_id(owner), "quarter": "2026-Q3",
                "user_id": "no-such-user", "type_id": "User",
                "schema_id": "urn:ietf:params:scim:schemas:core:2.0:User",
                "token": "not-a-signed-link", "sha256": "0" * 64}

    failures: list[str] = []
    seen: dict[str, int] = {}
    gate = asyncio.Semaphore(6)

    async def check(endpoint: Endpoint, owner: str, caller: Caller | None) -> None:
        url = _url(endpoint, values(owner))
        visible = caller is not None and owner in caller.sees
        # A valid body wherever the answer must not come from validation; the callers who
        # may act on their own tickets send {} (422), so the matrix changes no ticket.
        body = (minimal_body(endpoint.body_model)
                if endpoint.body_model is not None and endpoint.owned and not visible else None)
        async with gate:
            answer = await _send(desk, endpoint, url, caller.headers if caller else {}, body)
        status = answer.status_code
        who = caller.key if caller else "no credential"
        where = f"{endpoint.id} [{url}] as {who}"
        seen[f"{endpoint.id} on {owner}'s as {who}"] = status
        if status >= 500:
            failures.append(f"{where}: {status} {answer.text[:200]}")
            return
        if status >= 400 and not answer.headers.get("content-type", "").startswith(
                ("application/problem+json", "application/scim+json")):
            failures.append(f"{where}: {status} is not problem+json: {answer.text[:120]}")
        if endpoint.public:
            if endpoint.method == "GET" and status != 200:
                failures.append(f"{where}: public route answered {status}")
            return
        if endpoint.signed_link:
            if status < 400:
                failures.append(f"{where}: a bad signed link was accepted ({status})")
            return
        assert endpoint.action is not None
        if caller is None:
            expected = 401
        elif not allowed(caller.role, endpoint.action):
            expected = 403
        elif endpoint.owned and owner not in caller.sees:
            expected = 404
        else:
            # SCIM syncs one client's people: the MSP's own (staff) key is refused there.
            staff_on_scim = caller.sees == ALL and endpoint.path.startswith("/scim/")
            # The tickets exist: a 404 on one the caller may act on would hide it from them.
            hidden = status == 404 and endpoint.path_params == ("ticket_id",)
            if status == 401 or (status == 403 and not staff_on_scim) or hidden:
                failures.append(f"{where}: {status} for a role that may "
                                f"{endpoint.action.value}: {answer.text[:160]}")
            return
        if status != expected:
            failures.append(f"{where}: {status}, expected {expected}: {answer.text[:160]}")

    jobs = []
    for endpoint in TABLE:
        owners = ("belton", "plexacet") if endpoint.owned else ("belton",)
        for owner in owners:
            jobs.append(check(endpoint, owner, None))
            jobs += [check(endpoint, owner, caller) for caller in CALLERS]
    await asyncio.gather(*jobs)
    if record := os.environ.get("TEMPODESK_MATRIX_RECORD"):
        # Each call's status, to compare before and after a change that must not alter any.
        Path(record).write_text(json.dumps(dict(sorted(seen.items())), indent=1))
    assert failures == [], f"{len(failures)} of {len(jobs)} calls:\n" + "\n".join(failures)


async def test_unknown_fields_in_bodies_are_422(matrix_desk):
    """Mass assignment: every JSON body model refuses a field it does not declare, for a
    caller who may use the route (so the answer comes from validation, not from auth)."""
    desk = matrix_desk
    made = await desk.http.post("/v1/incidents", json=incident_body(),
                                headers=desk.as_("belton", "requester"))
    ticket = made.json()["ticket_id"]
    values = {"ticket_id": ticket, "quote_id": ticket, "token": "not-a-signed-link"}
    checked = 0
    for endpoint in TABLE:
        if endpoint.method not in BODY_METHODS or endpoint.body_model is None:
            continue
        if getattr(endpoint.body_model, "model_config", {}).get("extra") == "ignore":
            continue  # a foreign format: unknown fields are dropped (see the test above)
        caller = next((c for c in CALLERS if endpoint.action is None
                       or allowed(c.role, endpoint.action)), None)
        assert caller is not None, f"{endpoint.id}: no demo credential may call it"
        answer = await _send(desk, endpoint, _url(endpoint, values), caller.headers,
                             body={"is_admin": True, "client_id": "someone-else"})
        assert answer.status_code == 422, (endpoint.id, answer.status_code, answer.text[:300])
        fields = {e.get("field") for e in answer.json().get("errors", [])}
        assert {"is_admin", "client_id"} & fields, (endpoint.id, answer.text[:300])
        checked += 1
    assert checked >= 12


async def test_size_and_rate_limits_hold_on_every_route(dev_client, task_queue):
    """Under the matrix: every route that takes a body answers 413 to an oversized one
    (before anything else reads it), and once a credential has spent its allowance every
    protected route answers it 429 with Retry-After; the limit is checked before the role,
    so no route, allowed or not, lets a spent credential through."""
    from domain.tenants import load_config

    base = isolated(load_config(DEMO_CONFIG))
    strict = {role: "3/min" for role in Role}
    config = base.model_copy(update={"rate_limits": strict, "signed_link_rate": "3/min",
                                     "clients": [c.model_copy(update={"rate_limits": strict})
                                                 for c in base.clients]})
    async with running_desk(dev_client, config, make_settings(task_queue=task_queue)) as desk:
        values = {"ticket_id": f"{desk.prefix('belton')}-000001",
                  "quote_id": f"{desk.prefix('belton')}-000002",
                  "client": desk.client_id("belton"), "quarter": "2026-Q3",
                  "user_id": "no-such-user", "type_id": "User", "schema_id": "User",
                  "token": "not-a-signed-link", "sha256": "0" * 64}
        def huge(path: str) -> bytes:  # over the route's limit (a mail hook's is 10 MiB)
            size = LARGER_BODIES.get(path, MAX_BODY_BYTES) + 1024 * 1024
            return b'{"subject": "' + b"x" * size + b'"}'

        # File uploads stream to object storage under the client's file limit (25 MB by
        # default): tests/web/test_files.py refuses 200 MB streams there.
        bodied = [e for e in TABLE if e.method in BODY_METHODS and not STREAMED.match(
            _url(e, values))]
        for endpoint in bodied:
            answer = await desk.http.request(
                endpoint.method, _url(endpoint, values), content=huge(endpoint.path),
                headers={"Content-Type": "application/json",
                         **CALLERS[0].headers})
            assert answer.status_code == 413, (endpoint.id, answer.status_code)
        for caller in CALLERS:  # spend every credential's three requests
            for _ in range(3):
                await desk.http.get("/v1/tickets", headers=caller.headers)
        protected = [e for e in TABLE if e.action is not None]
        for endpoint in protected:
            for caller in CALLERS:
                answer = await _send(desk, endpoint, _url(endpoint, values), caller.headers)
                assert answer.status_code == 429, (endpoint.id, caller.key, answer.text[:200])
                assert 1 <= int(answer.headers["Retry-After"]) <= 60
        # Signed links carry no key: limited by address. Spend this address's three.
        linked = [e for e in TABLE if e.signed_link]
        for _ in range(3):
            await _send(desk, linked[0], _url(linked[0], values) + "?token=x", {})
        for endpoint in linked:
            query = "" if "token" in endpoint.path_params else "?token=not-a-signed-link"
            answer = await _send(desk, endpoint, _url(endpoint, values) + query, {})
            assert answer.status_code == 429, (endpoint.id, answer.text[:200])
    assert len(bodied) > 20 and len(protected) > 40 and len(linked) >= 5


def test_who_may_do_the_sensitive_things_is_pinned():
    """The matrix reads PERMISSIONS, so widening a role there would pass it: the actions a
    client relies on being narrow are stated here a second time, by hand."""
    pinned = {
        Action.DECIDE_QUOTE: {"director"},
        Action.PEOPLE_SYNC: {"integration"},
        Action.POST_ALERTS: {"integration"},
        Action.INBOUND_EMAIL: {"integration"},
        Action.ONBOARD: {"hr", "director", "admin"},
        Action.OFFBOARD: {"hr", "director", "admin"},
        Action.LOG_PHONE_INCIDENT: {"agent", "admin"},
        Action.ISSUE_QUOTE: {"agent", "admin"},
        Action.WORK_TICKETS: {"agent", "admin"},
        Action.USE_CODEC: {"agent", "admin"},
    }
    for action, roles in pinned.items():
        assert {r.value for r in PERMISSIONS[action]} == roles, action
