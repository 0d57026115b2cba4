"""Clients own their people (issue 18): one client's credential, an MSP key naming a client,
or an HR system's SCIM sync acts only on that client's own people, and every provider call
stays inside that client's tenant and sites.

- The matrix: every identity-taking route (derived from the app's route table) x every
  credential that may call it (derived from the config) x an address of each other
  client -> refused, naming the field, and the provider stand-ins (provider_sandbox) see
  no call at all; then each route accepts its own client's addresses, and every Graph
  call lands in the owner's tenant, every SentinelOne call in the owner's sites.
- Below the doors: every provider activity refuses another client's person before any
  HTTP call; a ticket opened past the doors (an old one) goes to an agent untouched.
- SentinelOne is searched and acted on only in the client's sites; a client without
  sites is never searched; a joiner's EDR check counts only the client's own sites.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.onboarding import OnboardingActivities
from activities.provider_clients import ProviderClients
from activities.providers import ProviderActivities
from desk.intake import start_ticket
from domain.offboarding import ExitForm, OffboardingStart, ProviderCall
from domain.onboarding import DeviceRequest, JoinerCall
from domain.people import NOT_THE_CLIENTS_PERSON, outsider
from domain.roles import Action, Role, allowed
from domain.scim import ScimUser
from domain.scim_forms import exit_form, joiner_form
from domain.sla.deadlines import snapshot_for
from domain.tenants import Providers, StaffKey, TempodeskConfig, Webhook, hash_api_key
from domain.tickets import Contact
from provider_sandbox import DEMO_SITES, ProviderServer
from tests.conftest import demo_name, make_settings, provider_desk, sandbox_sites
from tests.peers import WebhookReceiver
from tests.web.helpers import assert_problem, eventually
from tests.web.test_security_matrix import BODY_METHODS, TABLE, Endpoint
from workflows.offboarding import OffboardingWorkflow

SCIM_USERS = "/scim/v2/Users"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ONBOARDING = "urn:tempodesk:params:scim:schemas:extension:onboarding:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
# Each demo client in its own Entra tenant here, so a call's tenant shows whose it was.
TENANTS = {"belton": "harbourside-tenant", "betterworld": "hudsonfreight-tenant",
           "plexacet": "opaldental-tenant"}
# An MSP admin who serves Belton only (added to the demo staff for these tests).
BELTON_ADMIN_KEY = "td_msp_belton_admin_trust_people"
# The plaintext of every staff key in the demo config: the matrix refuses to run with a
# staff key it cannot call with (a new one must be added here).
STAFF_KEYS = ("td_msp_agent_demo", "td_msp_admin_demo", "td_msp_integration_demo",
              "td_msp_belton_agent_demo", BELTON_ADMIN_KEY)
ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def demo_config(config: TempodeskConfig) -> TempodeskConfig:
    """The demo config, plus an admin serving Belton only, with limits out of the way (the
    matrix is not a rate-limit test)."""
    lavish = {role: "100000/min" for role in Role}
    belton_admin = StaffKey(id="msp-belton-admin", role=Role.ADMIN, clients=["belton"],
                            sha256=hash_api_key(BELTON_ADMIN_KEY))
    return config.model_copy(update={
        "staff": [*config.staff, belton_admin], "rate_limits": lavish,
        "clients": [c.model_copy(update={"rate_limits": lavish}) for c in config.clients]})


def domain_of(config: TempodeskConfig, demo: str) -> str:
    return next(c for c in config.clients if demo_name(c) == demo).domains[0]


# ------------------------------------------------------------------ the rule, pure


def test_the_rule_is_the_clients_own_domains_exactly(config):
    belton = config.client("belton")
    assert outsider(belton, "user_principal_name", "Sam.Lee@Harbourside.Example") is None
    for foreign in ("sam.lee@hudsonfreight.example", "sam.lee@mail.harbourside.example",
                    "sam.lee@harbourside.example.evil.example", "harbourside.example",
                    "sam@lee@harbourside.example"):
        refusal = outsider(belton, "user_principal_name", foreign)
        assert refusal is not None, foreign
        assert refusal.field == "user_principal_name" and "harbourside.example" in refusal.fix
    # The refusal names the domain, never who may own it (one client learns nothing of
    # another's people).
    said = outsider(belton, "manager.email", "ana.ruiz@hudsonfreight.example")
    assert "hudsonfreight.example" in said.message and "Hudson" not in str(said)
    bare = belton.model_copy(update={"domains": []})
    assert "declares no identity domains" in outsider(bare, "user_principal_name",
                                                      "jo.tran@harbourside.example").message


def test_scim_forms_open_tickets_only_for_the_clients_own_people(config):
    """What a SCIM user stands for: a user stored before the rule with another client's
    name opens no exit (the note says why); a manager outside the client's domains is left
    off an exit (access must still end) and stops an onboarding."""
    belton = config.client("belton")
    now = datetime.now(UTC)
    outsider_user = ScimUser.model_validate({"schemas": [CORE], "userName":
                                             "ana.ruiz@hudsonfreight.example"})
    form, note = exit_form(outsider_user, belton, None, now.date())
    assert form is None and note.startswith("no user exit: userName: the domain")
    own = ScimUser.model_validate({"schemas": [CORE], "userName": "jo.tran@harbourside.example"})
    boss = Contact(name="Ana Ruiz", email="ana.ruiz@hudsonfreight.example")
    form, note = exit_form(own, belton, boss, now.date())
    assert form is not None and form.manager is None and note == ""
    hire = ScimUser.model_validate({
        "schemas": [CORE, ONBOARDING], "userName": "sam.lee@harbourside.example",
        "displayName": "Sam Lee", "title": "Paralegal",
        ONBOARDING: {"startDate": (now + timedelta(days=30)).date().isoformat(),
                     "managerEmail": "ana.ruiz@hudsonfreight.example"}})
    form, note = joiner_form(hire, belton, None, now)
    assert form is None and note.startswith("no onboarding: enterprise manager: the domain")


# ------------------------------------------------------------------ the route table


def identity_routes() -> list[Endpoint]:
    """The routes that take an identity to act on, from the app's own route table: a body
    model that lists its people (``people()``), or a SCIM write of a User."""
    return [e for e in TABLE if e.method in BODY_METHODS and (
        (e.body_model is not None and hasattr(e.body_model, "people"))
        or (e.action is Action.PEOPLE_SYNC and e.path.startswith(SCIM_USERS)
            and not e.path.endswith(".search")))]


def test_every_route_that_names_an_account_is_in_the_matrix():
    routes = {e.id for e in identity_routes()}
    assert routes == set(FORM_CASES) | set(SCIM_CASES), (
        f"identity-taking routes {sorted(routes)}: give each a case in FORM_CASES or "
        "SCIM_CASES of tests/web/test_trust_people.py")
    # A body that names an account but lists no people would slip past the derivation.
    for endpoint in TABLE:
        model = endpoint.body_model
        if model is not None and hasattr(model, "model_fields"):
            names_account = "user_principal_name" in model.model_fields
            assert not names_account or hasattr(model, "people"), (
                f"{endpoint.id}: {model.__name__} names an account: give it people() "
                "(domain/people.py checks them at the door)")
    # Every people action with a body either takes an identity or acts on a ticket (whose
    # own client the ticket routes check: another client's is 404).
    people_actions = {Action.ONBOARD, Action.OFFBOARD, Action.PEOPLE_SYNC}
    for endpoint in TABLE:
        if endpoint.action in people_actions and endpoint.method in BODY_METHODS:
            assert (endpoint.id in routes or "ticket_id" in endpoint.path_params
                    or endpoint.path.endswith(".search")), endpoint.id


# ------------------------------------------------------------------ who calls


@dataclass(frozen=True)
class Caller:
    key: str
    role: Role
    client: str | None          # the demo client of a client credential; None for staff
    serves: tuple[str, ...]     # the demo clients it may act for

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def callers(config: TempodeskConfig, action: Action) -> list[Caller]:
    """Every credential of the (demo) config whose role may perform ``action``."""
    found = []
    for client in config.clients:
        for key in client.api_keys:
            plain = f"td_{client.id}_{key.role.value}_demo"
            assert hash_api_key(plain) == key.sha256, f"{key.id}: not the demo key {plain}"
            if allowed(key.role, action):
                found.append(Caller(plain, key.role, client.id, (client.id,)))
    by_hash = {hash_api_key(k): k for k in STAFF_KEYS}
    for key in config.staff:
        assert key.sha256 in by_hash, f"staff key {key.id}: add its plaintext to STAFF_KEYS"
        if allowed(key.role, action):
            served = tuple(key.clients or (c.id for c in config.clients))
            found.append(Caller(by_hash[key.sha256], key.role, None, served))
    return found


# ------------------------------------------------------------------ the forms


def exit_body(own: str, people: dict[str, str]) -> dict:
    """A user exit of one of ``own``'s people (a domain), with ``people`` replacing any
    address by field; access ends in two weeks (nothing reaches a provider meanwhile)."""
    upn = people.get("user_principal_name", f"leaver.{own.split('.')[0]}@{own}")
    return {"employee": {"name": "Sam Lee", "email": upn}, "user_principal_name": upn,
            "manager": {"name": "Mia Chen",
                        "email": people.get("manager.email", f"manager@{own}")},
            "last_working_day": (date.today() + timedelta(days=14)).isoformat(),
            "immediate": False, "reason": "resigned"}


def joiner_body(own: str, people: dict[str, str]) -> dict:
    """A new user of ``own`` starting in three weeks: the account, the manager and a shared
    mailbox are the client's; the personal e-mail is outside by nature."""
    return {"employee": {"name": "Sam Lee", "email": "sam.lee@personal.example"},
            "user_principal_name": people.get("user_principal_name", f"joiner@{own}"),
            "title": "Paralegal",
            "manager": {"name": "Mia Chen",
                        "email": people.get("manager.email", f"manager@{own}")},
            "mailbox_access": [people.get("mailbox_access[0]", f"reception@{own}")],
            "start_date": (date.today() + timedelta(days=21)).isoformat()}


# route -> (body builder, the fields whose address the door checks)
FORM_CASES = {
    "POST /v1/offboarding": (exit_body, ("user_principal_name", "manager.email")),
    "POST /v1/onboarding": (joiner_body, ("user_principal_name", "manager.email",
                                          "mailbox_access[0]")),
}
# SCIM writes: create, replace and patch (two dialects) of a userName.
SCIM_CASES = ("POST /scim/v2/Users", "PUT /scim/v2/Users/{user_id}",
              "PATCH /scim/v2/Users/{user_id}")


def scim_user(user_name: str, **changes) -> dict:
    return {"schemas": [CORE], "userName": user_name, "active": True,
            "displayName": "Jo Tran", "emails": [{"value": user_name, "type": "work"}],
            **changes}


def rename(user_name: str, dialect: str) -> dict:
    operation = ({"op": "replace", "path": "userName", "value": user_name}
                 if dialect == "okta" else {"op": "Replace", "value": {"userName": user_name}})
    return {"schemas": [PATCH_OP], "Operations": [operation]}


def assert_scim_invalid(response: httpx.Response) -> dict:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR] and body["scimType"] == "invalidValue", body
    assert body["detail"].startswith("userName: "), body
    return body


# ------------------------------------------------------------------ the matrix


@pytest.fixture
async def people_desk(dev_client, config, task_queue):
    """A desk whose clients each have their own Graph tenant, Datto site and SentinelOne
    site and group in the provider sandbox."""
    def own_systems(client):
        return sandbox_sites(Providers(graph_tenant=TENANTS[demo_name(client)]))(client)

    with ProviderServer() as providers:
        async with provider_desk(dev_client, demo_config(config), providers, own_systems,
                                 task_queue=task_queue) as desk:
            yield desk, providers


async def test_no_credential_acts_on_another_clients_people(people_desk, config):
    desk, providers = people_desk
    demo = demo_config(config)
    names = [c.id for c in demo.clients]
    domains = {name: domain_of(desk.config, name) for name in names}
    gate = asyncio.Semaphore(8)
    failures: list[str] = []
    accepted: list[tuple[str, str, str]] = []   # (route, acting for, user principal name)

    async def send(method: str, url: str, headers: dict, body: Any) -> httpx.Response:
        async with gate:
            return await desk.http.request(method, url, headers=headers, json=body)

    # -------------------------------------------------------- forms: refused, by field
    async def refused(route: str, caller: Caller, acting_for: str, foreign: str,
                      field: str) -> None:
        build, _ = FORM_CASES[route]
        body = build(domains[acting_for], {field: f"someone@{domains[foreign]}"})
        if caller.client is None:
            body["client_id"] = desk.client_id(acting_for)
        method, path = route.split(" ")
        answer = await send(method, path, caller.headers, body)
        where = f"{route} as {caller.key} for {acting_for}: {field} of {foreign}"
        if answer.status_code != 422:
            failures.append(f"{where}: {answer.status_code} {answer.text[:200]}")
            return
        problem = assert_problem(answer, 422)
        error = problem["errors"][0]
        if (error["field"], error.get("in")) != (field, "body") or not error["fix"]:
            failures.append(f"{where}: names {error}")
        other = next(c.name for c in desk.config.clients if demo_name(c) == foreign)
        if other in answer.text:
            failures.append(f"{where}: the refusal names the other client {other!r}")

    jobs = []
    for route, (_, fields) in FORM_CASES.items():
        action = next(e.action for e in TABLE if e.id == route)
        for caller in callers(demo, action):
            for acting_for in caller.serves:
                for foreign in (n for n in names if n != acting_for):
                    jobs += [refused(route, caller, acting_for, foreign, f) for f in fields]

    # -------------------------------------------------------- SCIM: refused as invalidValue
    own_users: dict[str, str] = {}   # demo client -> its SCIM user id (a userName of its own)
    scim_callers = callers(demo, Action.PEOPLE_SYNC)
    for caller in scim_callers:
        if caller.client is None:
            continue
        made = await desk.http.post(SCIM_USERS, headers=caller.headers, json=scim_user(
            f"jo.tran@{domains[caller.client]}"))
        assert made.status_code == 201, made.text
        own_users[caller.client] = made.json()["id"]

    async def scim_refused(caller: Caller, foreign: str) -> None:
        name = f"someone@{domains[foreign]}"
        if caller.client is None:  # the MSP's own machines sync nobody's people
            answer = await send("POST", SCIM_USERS, caller.headers, scim_user(name))
            if answer.status_code != 403:
                failures.append(f"SCIM create as {caller.key}: {answer.status_code}")
            return
        user = f"{SCIM_USERS}/{own_users[caller.client]}"
        for method, url, body in (("POST", SCIM_USERS, scim_user(name)),
                                  ("PUT", user, scim_user(name)),
                                  ("PATCH", user, rename(name, "okta")),
                                  ("PATCH", user, rename(name, "entra"))):
            answer = await send(method, url, caller.headers, body)
            try:
                assert_scim_invalid(answer)
            except AssertionError as exc:
                failures.append(f"SCIM {method} {name} as {caller.key}: {exc}")

    for caller in scim_callers:
        jobs += [scim_refused(caller, foreign) for foreign in names if foreign != caller.client]
    await asyncio.gather(*jobs)
    assert failures == [], f"{len(failures)} of {len(jobs)}:\n" + "\n".join(failures)
    assert len(jobs) > 100

    # Nothing reached any provider: no Graph sign-in, no SentinelOne, no Datto call.
    assert list(providers.seen) == [], [(s.method, s.path) for s in providers.seen]
    for demo_client, user_id in own_users.items():  # the refused renames changed nothing
        kept = await desk.http.get(f"{SCIM_USERS}/{user_id}",
                                   headers=desk.as_(demo_client, "integration"))
        assert kept.json()["userName"] == f"jo.tran@{domains[demo_client]}"

    # -------------------------------------------------------- each accepts its own people
    async def accepts(route: str, caller: Caller, acting_for: str) -> None:
        build, _ = FORM_CASES[route]
        tag = f"{caller.role.value}.{len(accepted)}"
        upn = f"{route.rsplit('/', 1)[-1]}.{tag}@{domains[acting_for]}"
        body = build(domains[acting_for], {"user_principal_name": upn})
        if caller.client is None:
            body["client_id"] = desk.client_id(acting_for)
        accepted.append((route, acting_for, upn))
        made = await send("POST", route.split(" ")[1], caller.headers, body)
        assert made.status_code == 201, (route, caller.key, made.text)
        assert made.json()["user_principal_name"] == upn
        assert made.json()["ticket_id"].startswith(desk.prefix(acting_for))

    await asyncio.gather(*(accepts(route, caller, acting_for)
                           for route in FORM_CASES
                           for caller in callers(demo, next(e.action for e in TABLE
                                                            if e.id == route))
                           for acting_for in caller.serves))
    # SCIM: each HR system deactivates its own user (an immediate exit, through Graph and
    # SentinelOne).
    for demo_client, user_id in own_users.items():
        off = await desk.http.patch(f"{SCIM_USERS}/{user_id}", json={
            "schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {
                "active": False}}]}, headers=desk.as_(demo_client, "integration"))
        assert off.status_code == 200, off.text
    leavers = {f"jo.tran@{domains[name]}" for name in own_users}
    await eventually(lambda: providers.disabled, lambda done: leavers <= done, timeout=90)
    await eventually(lambda: providers.calls("POST", "/agents/actions/disconnect"),
                     lambda calls: len(calls) >= 1, timeout=60)

    # Every Graph call was made in the tenant of the client whose people it named, every
    # SentinelOne call in that client's sites, and only the leavers' own agents went.
    owner = {domains[name]: name for name in names}
    graph = [s for s in providers.seen if s.path.startswith("/graph/")]
    assert graph
    for call in graph:
        named = {owner.get(d.lower(), d) for d in ADDRESS.findall(f"{call.path} {call.body}")}
        tenant = providers.tenant_of(call)
        assert all(TENANTS.get(n) == tenant for n in named), (call.method, call.path, tenant)
    for call in providers.calls("GET", "/web/api/v2.1/agents"):
        site = call.query["siteIds"]
        who = owner[call.query["query"].rpartition("@")[2]]
        assert site == DEMO_SITES[who][1], call.query
    assert providers.disconnected == {"1234567890"}  # Jo Tran's laptop, at Belton


async def test_an_msp_key_acts_only_for_a_client_it_serves(people_desk):
    desk, providers = people_desk
    body = exit_body("hudsonfreight.example", {})
    body["client_id"] = desk.client_id("betterworld")
    refused = await desk.http.post("/v1/offboarding", json=body,
                                   headers={"Authorization": f"Bearer {BELTON_ADMIN_KEY}"})
    assert assert_problem(refused, 422)["errors"][0]["field"] == "client_id"
    unnamed = exit_body("harbourside.example", {})
    staff = await desk.http.post("/v1/offboarding", json=unnamed,
                                 headers={"Authorization": "Bearer td_msp_admin_demo"})
    assert assert_problem(staff, 422)["errors"][0]["field"] == "client_id"
    assert list(providers.seen) == []


# ------------------------------------------------------------------ the finding, as filed


async def test_betterworlds_hr_cannot_cut_off_a_belton_laptop(people_desk):
    """The report: Hudson Freight's HR key exits Harbourside's Sam Lee with immediate: true
    -> 201, and the MSP-wide SentinelOne search disconnected Sam's laptop."""
    desk, providers = people_desk
    providers.agents.append({"id": "3234567890", "uuid": "ef56", "computerName": "BEL-LT-051",
                             "lastLoggedInUserName": "sam.lee@harbourside.example",
                             "siteId": providers.S1_SITE, "groupId": providers.S1_GROUP})
    form = exit_body("hudsonfreight.example", {"user_principal_name":
                                               "sam.lee@harbourside.example"})
    form["immediate"] = True
    answer = await desk.http.post("/v1/offboarding", json=form,
                                  headers=desk.as_("betterworld", "hr"))
    assert assert_problem(answer, 422)["errors"][0]["field"] == "user_principal_name"
    joiner = joiner_body("harbourside.example", {"user_principal_name":
                                                 "ceo@hudsonfreight.example"})
    answer = await desk.http.post("/v1/onboarding", json=joiner,
                                  headers=desk.as_("belton", "hr"))
    assert assert_problem(answer, 422)["errors"][0]["field"] == "user_principal_name"
    # Betterworld's HR system: a user in Belton's domain, then deactivated.
    created = await desk.http.post(SCIM_USERS, json=scim_user("sam.lee@harbourside.example"),
                                   headers=desk.as_("betterworld", "integration"))
    assert_scim_invalid(created)
    assert list(providers.seen) == [] and providers.disconnected == set()


# ------------------------------------------------------------------ below the doors


async def test_a_ticket_past_the_doors_goes_to_an_agent_untouched(people_desk):
    """An exit opened before the rule (or by a door that forgot it) for another client's
    person: every step is refused by the activity before any provider call."""
    desk, providers = people_desk
    client = desk.config.client(desk.client_id("belton"))
    now = datetime.now(UTC)
    form = ExitForm.model_validate({**exit_body("harbourside.example", {
        "user_principal_name": "ana.ruiz@hudsonfreight.example"}), "immediate": True})
    start = OffboardingStart(
        ticket_id=await desk.state.numbers.next(client.ticket_prefix), client_id=client.id,
        opened_at=now, raised_by="hr:before-the-rule", form=form, effective_at=now,
        sla=snapshot_for(client.sla, now), rules=client.incidents)
    await start_ticket(desk.state, OffboardingWorkflow, start, f"{start.ticket_id} old exit")

    async def view() -> dict:
        return (await desk.http.get(f"/v1/tickets/{start.ticket_id}",
                                    headers=desk.as_("belton", "agent"))).json()

    shown = await eventually(view, lambda v: v["steps"] and all(
        s["needs_agent"] for s in v["steps"]), timeout=60)
    for step in shown["steps"]:
        assert "not one of" in step["last_error"] and "nothing was sent" in step["last_error"]
    assert shown["access_revoked_at"] is None
    assert list(providers.seen) == [] and providers.disconnected == set()


def _client_with(config: TempodeskConfig, demo: str, providers: Providers):
    return next(c for c in config.clients if c.id == demo).model_copy(
        update={"providers": providers})


async def test_every_provider_activity_refuses_another_clients_person_first(config):
    """Every activity the worker registers for joiners and leavers, for a client on the
    built-in providers and one on its own webhook: refused, typed and non-retryable,
    before the sandbox or the webhook sees a request."""
    with ProviderServer() as providers, WebhookReceiver() as hooks:
        built_in = _client_with(config, "belton", sandbox_sites(Providers(
            graph_tenant="harbourside-tenant", edr_component="comp-s1"))(
                config.client("belton")))
        scripted = _client_with(config, "plexacet", Providers(
            webhook=Webhook(url=hooks.url, secret=WebhookReceiver.SECRET)))
        wired = config.model_copy(update={"clients": [built_in, scripted,
                                                      config.client("betterworld")]})
        settings = make_settings(**providers.settings())
        env = ActivityEnvironment()
        refused = 0
        async with httpx.AsyncClient() as http:
            clients = ProviderClients.build(settings, wired, http)
            leaving = ProviderActivities(wired, clients).all()
            joining = OnboardingActivities(wired, clients).all()
            for client in (built_in, scripted):
                own = client.domains[0]
                calls: list[tuple[Any, Any]] = [
                    (act, ProviderCall(client_id=client.id, ticket_id="T-000001",
                                       step=act.__name__, device=None,
                                       user_principal_name="ana.ruiz@hudsonfreight.example"))
                    for act in leaving]
                for act in joining:
                    for upn, boxes in (("ana.ruiz@hudsonfreight.example", []),
                                       (f"sam.lee@{own}", ["finance@hudsonfreight.example"])):
                        calls.append((act, JoinerCall(
                            client_id=client.id, ticket_id="T-000002", step=act.__name__,
                            user_principal_name=upn, display_name="Sam Lee",
                            mailboxes=boxes, device=DeviceRequest(hostname="BEL-LT-042"))))
                for act, call in calls:
                    with pytest.raises(ApplicationError) as refusal:
                        await env.run(act, call)
                    assert refusal.value.type == NOT_THE_CLIENTS_PERSON, (act.__name__, client.id)
                    assert refusal.value.non_retryable
                    refused += 1
    assert list(providers.seen) == [] and hooks.received == []
    assert refused == 2 * (len(leaving) + 2 * len(joining)) and len(leaving) >= 8


# ------------------------------------------------------------------ SentinelOne and Datto


async def test_an_exit_disconnects_only_the_clients_own_agents(people_desk):
    """Jo Tran (Belton) also signed in to a Hudson Freight kiosk: the MSP's one console
    token would find both; Belton's exit finds and disconnects only Belton's."""
    desk, providers = people_desk
    hudson_site, hudson_group = DEMO_SITES["betterworld"][1:]
    providers.agents.append({"id": "4234567890", "uuid": "gh78", "computerName": "HF-KIOSK-1",
                             "lastLoggedInUserName": "jo.tran@harbourside.example",
                             "siteId": hudson_site, "groupId": hudson_group})
    form = exit_body("harbourside.example", {"user_principal_name":
                                             "jo.tran@harbourside.example"})
    made = await desk.http.post("/v1/offboarding", json={**form, "immediate": True},
                                headers=desk.as_("belton", "hr"))
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]

    async def view() -> dict:
        return (await desk.http.get(f"/v1/tickets/{ticket}",
                                    headers=desk.as_("belton", "agent"))).json()

    shown = await eventually(view, lambda v: any(
        s["name"] == "disconnect_edr" and s["done_at"] for s in v["steps"]), timeout=60)
    assert providers.disconnected == {"1234567890"}
    [search] = providers.calls("GET", "/web/api/v2.1/agents")
    assert (search.query["siteIds"], search.query["groupIds"]) == (providers.S1_SITE,
                                                                   providers.S1_GROUP)
    [action] = providers.calls("POST", "/agents/actions/disconnect")
    assert action.body["filter"]["siteIds"] == [providers.S1_SITE]
    assert any("1 endpoint(s)" in e["detail"] for e in shown["events"]
               if e["kind"] == "done:disconnect_edr")
    assert {providers.tenant_of(c) for c in providers.seen
            if c.path.startswith("/graph/")} == {TENANTS["belton"]}


async def test_a_client_without_sentinelone_sites_is_never_searched(config):
    with ProviderServer() as providers:
        unscoped = config.client("belton").model_copy(update={"providers": Providers(
            graph_tenant="harbourside-tenant")})
        wired = config.model_copy(update={"clients": [unscoped, *config.clients[1:]]})
        async with httpx.AsyncClient() as http:
            activities = ProviderActivities(wired, ProviderClients.build(
                make_settings(**providers.settings()), wired, http))
            with pytest.raises(ApplicationError) as refused:
                await ActivityEnvironment().run(activities.disconnect_edr, ProviderCall(
                    client_id="belton", ticket_id="BEL-000001", step="disconnect_edr",
                    user_principal_name="jo.tran@harbourside.example"))
    assert refused.value.type == "ProviderNotConfigured" and refused.value.non_retryable
    assert "sentinelone_site_ids" in str(refused.value)
    assert list(providers.seen) == [] and providers.disconnected == set()


async def test_a_joiners_edr_check_counts_only_the_clients_own_sites(config):
    """Belton's new laptop BEL-LT-042 is enrolled in Belton's RMM site; a Hudson Freight
    machine of the same name already reports to SentinelOne. It proves nothing: the step
    waits until the agent reports in Belton's own site. Datto is searched in Belton's site
    only: Hudson Freight's device of the same name is never tagged."""
    with ProviderServer() as providers:
        hudson_datto, hudson_site, hudson_group = DEMO_SITES["betterworld"]
        providers.devices.append({"id": 2, "uid": "dev-uid-hf-042", "siteUid": hudson_datto,
                                  "hostname": "BEL-LT-042", "udf": {}})
        providers.agents.append({"id": "5234567890", "uuid": "ij90", "computerName":
                                 "BEL-LT-042", "lastLoggedInUserName": "",
                                 "siteId": hudson_site, "groupId": hudson_group})
        belton = config.client("belton")
        wired = config.model_copy(update={"clients": [
            belton.model_copy(update={"providers": sandbox_sites(Providers(
                graph_tenant="harbourside-tenant"))(belton)}), *config.clients[1:]]})
        call = JoinerCall(client_id="belton", ticket_id="BEL-000002",
                          step="build_device BEL-LT-042",
                          user_principal_name="sam.lee@harbourside.example",
                          display_name="Sam Lee", device=DeviceRequest(hostname="BEL-LT-042"))
        env = ActivityEnvironment()
        async with httpx.AsyncClient() as http:
            joining = OnboardingActivities(wired, ProviderClients.build(
                make_settings(**providers.settings()), wired, http))
            with pytest.raises(ApplicationError) as waiting:
                await env.run(joining.build_device, call)
            assert waiting.value.type == "EdrNotReporting" and not waiting.value.non_retryable
            [search] = providers.calls("GET", "/web/api/v2.1/agents")
            assert search.query == {"computerName": "BEL-LT-042",
                                    "siteIds": providers.S1_SITE,
                                    "groupIds": providers.S1_GROUP}
            providers.agents.append({"id": "6234567890", "uuid": "kl12", "computerName":
                                     "BEL-LT-042", "lastLoggedInUserName": "",
                                     "siteId": providers.S1_SITE, "groupId": providers.S1_GROUP})
            done = await env.run(joining.build_device, call)
            assert done.resource_id == "dev-uid-042"
            released = await env.run(joining.release_device, call)
            assert "released" in released.detail
    belton_device, hudson_device = providers.devices
    assert belton_device["udf"] == {"udf1": "", "udf2": ""}  # tagged, then released
    assert hudson_device["udf"] == {}                         # never touched
    assert all(f"/site/{hudson_datto}/" not in s.path for s in providers.seen)
