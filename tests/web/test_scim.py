"""SCIM 2.0 at /scim/v2 over real HTTP on the dev server: scim2-tester's conformance checks,
Okta's and Entra's deactivations each opening exactly one user exit that revokes access
(against the local Graph of tests/provider_servers.py), a create opening an onboarding,
the integration role only, SCIM's error format, and `userName eq` filters."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from scim2_client import BaseSyncSCIMClient
from scim2_tester import Status, check_server

from tests.web.helpers import eventually

SCIM = "/scim/v2"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ONBOARDING = "urn:tempodesk:params:scim:schemas:extension:onboarding:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
UPN = "jo.tran@harbourside.example"   # the provider server knows Jo's licences


class HttpxScimClient(BaseSyncSCIMClient):
    """scim2-client over httpx, the project's HTTP client (its own engine wants httpx2)."""

    def __init__(self, http: httpx.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = http

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, url, **kwargs)

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def _stays_under_base_url(self, endpoint: str) -> bool:
        url, base = self.client.build_request("GET", endpoint).url, self.client.base_url
        return url.netloc == base.netloc and url.raw_path.startswith(base.raw_path)


@pytest.fixture
def scim(graph_desk):
    return graph_desk


def hr_system(desk) -> dict[str, str]:
    return {**desk.as_("belton", "integration"), "Content-Type": "application/scim+json"}


def new_user(user_name: str = UPN, **changes) -> dict:
    user = {"schemas": [CORE, ENTERPRISE], "userName": user_name, "active": True,
            "name": {"givenName": "Jo", "familyName": "Tran"}, "displayName": "Jo Tran",
            "title": "Paralegal", "emails": [{"value": user_name, "type": "work",
                                              "primary": True}],
            ENTERPRISE: {"department": "Litigation"}}
    user.update(changes)
    return user


async def tickets(desk, kind: str) -> list[str]:
    """The ids of the client's tickets of ``kind`` (once each: a ticket that continued as
    new is listed once per run)."""
    listed = await desk.http.get("/v1/tickets", params={"kind": kind},
                                 headers=desk.as_("belton", "agent"))
    assert listed.status_code == 200, listed.text
    return sorted({t["ticket_id"] for t in listed.json()["tickets"]})


async def ticket(desk, ticket_id: str) -> dict:
    shown = await desk.http.get(f"/v1/tickets/{ticket_id}", headers=desk.as_("belton", "agent"))
    assert shown.status_code == 200, shown.text
    return shown.json()


def assert_scim_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"]
    return body


async def test_scim2_tester_finds_no_failing_check(scim):
    desk, _ = scim

    def run():
        with httpx.Client(base_url=f"{desk.base_url}{SCIM}", timeout=30,
                          headers=desk.as_("belton", "integration")) as http:
            return check_server(HttpxScimClient(http))

    results = await asyncio.to_thread(run)
    counts = Counter(result.status.name for result in results)
    print(f"\nscim2-tester: {len(results)} checks: "
          + ", ".join(f"{n} {name.lower()}" for name, n in sorted(counts.items())))
    for result in results:
        if result.status is not Status.SUCCESS:
            print(f"  {result.status.name} {result.title}: {result.reason}")
    failing = [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    assert not failing, "\n".join(f"{r.title}: {r.reason} {r.data!r}"[:600] for r in failing)
    assert counts["SUCCESS"] >= 50  # discovery, CRUD and PATCH were all exercised


async def create(desk, user: dict) -> dict:
    made = await desk.http.post(f"{SCIM}/Users", json=user, headers=hr_system(desk))
    assert made.status_code == 201, made.text
    assert made.headers["content-type"].startswith("application/scim+json")
    assert made.headers["etag"] == made.json()["meta"]["version"]
    return made.json()


async def directory_user(desk, user_id: str):
    """The user's workflow state (tickets opened, notes), as an operator would query it."""
    from domain.ids import directory_user_workflow_id
    from workflows.directory_user import DirectoryUserWorkflow

    handle = desk.client.get_workflow_handle_for(
        DirectoryUserWorkflow.run, directory_user_workflow_id(desk.client_id("belton"), user_id))
    return await handle.query(DirectoryUserWorkflow.view)


async def exactly_one_exit(desk, providers) -> dict:
    """The one user exit opened for Jo: listed once, and access revoked at Graph."""
    listed = await eventually(lambda: tickets(desk, "offboarding"), lambda t: len(t) >= 1)
    await asyncio.sleep(0.5)  # anything opened twice would be listed by now
    assert len(await tickets(desk, "offboarding")) == 1, listed
    view = await eventually(lambda: ticket(desk, listed[0]),
                            lambda v: v["access_revoked_at"] is not None, timeout=60)
    assert view["kind"] == "offboarding" and view["user_principal_name"] == UPN
    assert view["events"][0]["by"] == "integration:belton-integration"
    assert view["revoke_seconds"] < 3600 and not view["breached"]
    assert UPN in providers.disabled
    assert providers.calls("POST", f"/users/{UPN}/revokeSignInSessions")
    return view


async def test_okta_deactivation_opens_one_exit_that_revokes_access(scim):
    desk, providers = scim
    user = await create(desk, new_user())   # no manager: no onboarding, the note says why
    assert "manager" in (await directory_user(desk, user["id"])).note
    okta = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    patched = await desk.http.patch(f"{SCIM}/Users/{user['id']}", json=okta,
                                    headers=hr_system(desk))
    assert patched.status_code == 200, patched.text
    assert patched.json()["active"] is False
    # Okta retries, and deletes the user later: neither opens another exit.
    again = await desk.http.patch(f"{SCIM}/Users/{user['id']}", json=okta,
                                  headers=hr_system(desk))
    assert again.status_code == 200, again.text
    view = await exactly_one_exit(desk, providers)
    assert (await directory_user(desk, user["id"])).offboarding_ticket == view["ticket_id"]
    gone = await desk.http.delete(f"{SCIM}/Users/{user['id']}", headers=hr_system(desk))
    assert gone.status_code == 204, gone.text
    assert_scim_error(await desk.http.get(f"{SCIM}/Users/{user['id']}",
                                          headers=hr_system(desk)), 404)
    assert len(await tickets(desk, "offboarding")) == 1


async def test_entra_deactivation_opens_one_exit_that_revokes_access(scim):
    desk, providers = scim
    user = await create(desk, new_user())
    entra = {"schemas": [PATCH_OP],
             "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    for _ in range(2):
        patched = await desk.http.patch(f"{SCIM}/Users/{user['id']}", json=entra,
                                        headers=hr_system(desk))
        assert patched.status_code == 200, patched.text
        assert patched.json()["active"] is False
    await exactly_one_exit(desk, providers)


async def test_a_create_with_a_start_date_opens_an_onboarding(desk):
    boss = await create(desk, new_user("mia.chen@harbourside.example", displayName="Mia Chen",
                                       name={"givenName": "Mia", "familyName": "Chen"}))
    start = (datetime.now(UTC) + timedelta(days=28)).date()
    start += timedelta(days=(7 - start.weekday()) % 7)  # a Monday, four weeks out
    joiner = new_user("sam.lee@harbourside.example", displayName="Sam Lee", title="Paralegal")
    joiner["schemas"].append(ONBOARDING)
    joiner[ENTERPRISE] = {"department": "Litigation", "manager": {"value": boss["id"]}}
    joiner[ONBOARDING] = {"startDate": start.isoformat()}
    made = await create(desk, joiner)
    assert made[ENTERPRISE]["manager"]["value"] == boss["id"]
    opened = (await directory_user(desk, made["id"])).onboarding_ticket
    assert opened is not None
    view = await ticket(desk, opened)
    assert view["kind"] == "onboarding" and view["user_principal_name"] == joiner["userName"]
    assert view["title"] == "Paralegal" and view["manager"] == "Mia Chen"
    starts = datetime.fromisoformat(view["starts_at"])
    assert starts.astimezone(ZoneInfo("Australia/Melbourne")).date() == start
    assert not view["expedited"]
    # No start date: an existing employee (an HR system's first sync): stored, nothing
    # provisioned, the reason kept.
    existing = new_user("lee.wu@harbourside.example", displayName="Lee Wu")
    existing[ENTERPRISE] = {"manager": {"value": boss["id"]}}
    made = await create(desk, existing)
    stored = await directory_user(desk, made["id"])
    assert stored.onboarding_ticket is None and "existing person" in stored.note
    # A start inside the notice (tomorrow): opened, flagged, waiting for an agent.
    rushed = new_user("ana.ruiz@harbourside.example", displayName="Ana Ruiz")
    rushed["schemas"].append(ONBOARDING)
    rushed[ENTERPRISE] = {"manager": {"value": boss["id"]}}
    rushed[ONBOARDING] = {"startDate": (datetime.now(UTC) + timedelta(days=1)).date()
                          .isoformat()}
    made = await create(desk, rushed)
    view = await ticket(desk, (await directory_user(desk, made["id"])).onboarding_ticket)
    assert view["expedited"] and view["expedite_approved_at"] is None


async def test_only_the_integration_role_and_errors_in_scim_format(scim):
    desk, _ = scim
    for headers in ({}, {"Authorization": "Bearer not-a-key"}):
        body = assert_scim_error(await desk.http.get(f"{SCIM}/Users", headers=headers), 401)
        assert "Bearer" in body["detail"]
    for role in ("requester", "hr", "agent"):
        refused = await desk.http.post(f"{SCIM}/Users", json=new_user(),
                                       headers=desk.as_("belton", role))
        assert "integration" in assert_scim_error(refused, 403)["detail"]
    # Outside /scim/v2 errors stay RFC 9457.
    plain = await desk.http.get("/v1/tickets")
    assert plain.status_code == 401
    assert plain.headers["content-type"] == "application/problem+json"
    user = await create(desk, new_user())
    unchanged = {**hr_system(desk), "If-None-Match": user["meta"]["version"]}
    same = await desk.http.get(f"{SCIM}/Users/{user['id']}", headers=unchanged)
    assert same.status_code == 304 and same.headers["etag"] == user["meta"]["version"]
    twice = await desk.http.post(f"{SCIM}/Users", json=new_user(UPN.upper()),
                                 headers=hr_system(desk))
    assert assert_scim_error(twice, 409)["scimType"] == "uniqueness"
    stale = await desk.http.put(f"{SCIM}/Users/{user['id']}", json=new_user(title="Partner"),
                                headers={**hr_system(desk), "If-Match": 'W/"999"'})
    assert_scim_error(stale, 412)
    bad = await desk.http.get(f"{SCIM}/Users", params={"filter": 'userName eq "x" and ('},
                              headers=hr_system(desk))
    assert assert_scim_error(bad, 400)["scimType"] == "invalidFilter"
    broken = await desk.http.post(f"{SCIM}/Users", content=b"{not json",
                                  headers=hr_system(desk))
    assert assert_scim_error(broken, 400)["scimType"] == "invalidSyntax"
    huge = new_user("big@harbourside.example", nickName="x" * 20_000)
    assert_scim_error(await desk.http.post(f"{SCIM}/Users", json=huge,
                                           headers=hr_system(desk)), 413)


async def test_a_user_name_filter_finds_the_user(scim):
    desk, _ = scim
    user = await create(desk, new_user())
    await create(desk, new_user("mia.chen@harbourside.example"))

    async def named(name: str) -> dict:
        found = await desk.http.get(f"{SCIM}/Users", headers=hr_system(desk),
                                    params={"filter": f'userName eq "{name}"'})
        assert found.status_code == 200, found.text
        return found.json()

    found = await named(UPN.upper())  # userName compares case-insensitively
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"]
    assert (await named("nobody@harbourside.example"))["totalResults"] == 0
    # A renamed user is found by the new name, and its old name is free.
    rename = {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "userName", "value": "jo.nguyen@harbourside.example"}]}
    renamed = await desk.http.patch(f"{SCIM}/Users/{user['id']}", json=rename,
                                    headers=hr_system(desk))
    assert renamed.status_code == 200 and renamed.json()["id"] == user["id"], renamed.text
    found = await eventually(lambda: named("jo.nguyen@harbourside.example"),
                             lambda f: f["totalResults"] == 1)
    assert found["Resources"][0]["id"] == user["id"]
    assert (await named(UPN))["totalResults"] == 0
    everyone = await desk.http.get(f"{SCIM}/Users", headers=hr_system(desk),
                                   params={"filter": 'title eq "paralegal"', "count": "1"})
    assert everyone.json()["totalResults"] == 2 and len(everyone.json()["Resources"]) == 1


async def test_put_inactive_and_delete_each_open_one_exit(desk):
    leaver = await create(desk, new_user())
    put = await desk.http.put(f"{SCIM}/Users/{leaver['id']}", json=new_user(active=False),
                              headers={**hr_system(desk), "If-Match": leaver["meta"]["version"]})
    assert put.status_code == 200 and put.json()["active"] is False, put.text
    assert put.headers["etag"] != leaver["meta"]["version"]
    deleted = await create(desk, new_user("mia.chen@harbourside.example"))
    gone = await desk.http.delete(f"{SCIM}/Users/{deleted['id']}", headers=hr_system(desk))
    assert gone.status_code == 204, gone.text
    # A hire created inactive that never started: updated and deleted, it opens no exit.
    hire = await create(desk, new_user("lee.wu@harbourside.example", active=False))
    assert "inactive" in (await directory_user(desk, hire["id"])).note
    kept = await desk.http.put(f"{SCIM}/Users/{hire['id']}", headers=hr_system(desk),
                               json=new_user("lee.wu@harbourside.example", active=False,
                                             title="Clerk"))
    assert kept.status_code == 200, kept.text
    assert (await desk.http.delete(f"{SCIM}/Users/{hire['id']}",
                                   headers=hr_system(desk))).status_code == 204
    exits = await eventually(lambda: tickets(desk, "offboarding"), lambda t: len(t) >= 2)
    await asyncio.sleep(0.5)
    exits = await tickets(desk, "offboarding")
    names = sorted([(await ticket(desk, t))["user_principal_name"] for t in exits])
    assert names == ["jo.tran@harbourside.example", "mia.chen@harbourside.example"]
    # The name of a deleted user may be used again: a new user, a new id's workflow run.
    again = await create(desk, new_user("mia.chen@harbourside.example"))
    assert again["id"] == deleted["id"] and again["meta"]["version"] == 'W/"1"'


ODD_PATCHES = [
    {"op": "replace", "path": "emails", "value": "not-a-list"},
    {"op": "add", "path": "name", "value": 42},
    {"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"},
    {"op": "remove", "path": "userName"},
    {"op": "replace", "value": {"userName": None}},
    {"op": "replace", "path": 'emails[type eq "work"', "value": "x@y.z"},
    {"op": "remove", "path": f"{ENTERPRISE}:manager", "value": [{"value": "nobody"}]},
    {"op": "add", "path": f"{ENTERPRISE}:manager", "value": 7},
    {"op": "replace", "path": "active", "value": "perhaps"},
    {"op": "replace", "path": "x509Certificates", "value": [{"value": "!!not base64"}]},
    {"op": "replace", "path": "userName", "value": None},
    {"op": "add", "path": "nickName", "value": "y" * 17_000},
]


async def test_odd_scim_input_is_refused_never_a_500(scim):
    desk, _ = scim
    user = await create(desk, new_user())
    at = f"{SCIM}/Users/{user['id']}"
    answers = []
    for operation in ODD_PATCHES:
        answers.append(await desk.http.patch(at, headers=hr_system(desk), json={
            "schemas": [PATCH_OP], "Operations": [operation]}))
    many = [{"op": "replace", "path": "title", "value": "t"}] * 101
    for body in ([], "x", {"Operations": "x"}, {"schemas": [PATCH_OP], "Operations": [7]},
                 {"schemas": [PATCH_OP], "Operations": many}):
        answers.append(await desk.http.patch(at, json=body, headers=hr_system(desk)))
    for params in ({"startIndex": "x"}, {"count": "-3"}, {"count": "10000"},
                   {"attributes": "no..such"}, {"sortBy": "emails"}, {"filter": "x" * 5000},
                   {"filter": 'emails[type eq "work" and value co "@"]'}):
        answers.append(await desk.http.get(f"{SCIM}/Users", params=params,
                                           headers=hr_system(desk)))
    for body in ({"userName": None}, {"schemas": ["urn:nope"], "userName": "a@b.c"},
                 {**new_user("x@y.z"), "id": "chosen-by-client", "meta": {"version": "1"}},
                 {**new_user("q@y.z"), ENTERPRISE: {"manager": "not-an-object"}}):
        answers.append(await desk.http.post(f"{SCIM}/Users", json=body,
                                            headers=hr_system(desk)))
    answers.append(await desk.http.get(f"{SCIM}/Users/{'0' * 32}", headers=hr_system(desk)))
    answers.append(await desk.http.get(f"{SCIM}/Users/..%2F..", headers=hr_system(desk)))
    answers.append(await desk.http.post(f"{SCIM}/Schemas", headers=hr_system(desk)))
    for answer in answers:
        assert answer.status_code < 500, (answer.request.url, answer.text)
        if answer.status_code >= 400:
            assert_scim_error(answer, answer.status_code)
    print("\n" + ", ".join(str(a.status_code) for a in answers))
    still = await desk.http.get(at, headers=hr_system(desk))
    assert still.status_code == 200 and still.json()["userName"] == UPN


async def test_a_hire_deleted_before_the_start_is_withdrawn_not_exited(scim):
    """HR deletes a hire whose first day has not come: the account being set up for them is
    undone by cancelling the onboarding (no user exit for someone who never had access),
    and the hire's account is gone from the directory."""
    desk, providers = scim
    boss = await create(desk, new_user("mia.chen@harbourside.example", displayName="Mia Chen",
                                       name={"givenName": "Mia", "familyName": "Chen"}))
    start = (datetime.now(UTC) + timedelta(days=28)).date()
    start += timedelta(days=(7 - start.weekday()) % 7)
    hire_upn = "sam.lee@harbourside.example"
    hire = new_user(hire_upn, displayName="Sam Lee")
    hire["schemas"].append(ONBOARDING)
    hire[ENTERPRISE] = {"department": "Litigation", "manager": {"value": boss["id"]}}
    hire[ONBOARDING] = {"startDate": start.isoformat()}
    made = await create(desk, hire)
    onboarding = (await directory_user(desk, made["id"])).onboarding_ticket
    await eventually(lambda: ticket(desk, onboarding), lambda v: v["ready_at"], timeout=60)
    assert hire_upn in providers.users  # the account was made weeks ahead
    gone = await desk.http.delete(f"{SCIM}/Users/{made['id']}", headers=hr_system(desk))
    assert gone.status_code == 204, gone.text
    view = await eventually(lambda: ticket(desk, onboarding), lambda v: v["compensated_at"],
                            timeout=60)
    assert view["status"] == "resolved" and "before the start date" in view["cancel_reason"]
    assert hire_upn not in providers.users
    await asyncio.sleep(0.5)
    assert await tickets(desk, "offboarding") == []


async def test_a_pre_hire_created_inactive_is_onboarded_when_activated(scim):
    """Okta and Workday stage pre-hires as inactive users: nothing is provisioned while
    they are, and activation opens the onboarding with the start date they carry."""
    desk, _ = scim
    boss = await create(desk, new_user("mia.chen@harbourside.example", displayName="Mia Chen",
                                       name={"givenName": "Mia", "familyName": "Chen"}))
    start = (datetime.now(UTC) + timedelta(days=28)).date()
    start += timedelta(days=(7 - start.weekday()) % 7)
    staged = new_user("sam.lee@harbourside.example", displayName="Sam Lee", active=False)
    staged["schemas"].append(ONBOARDING)
    staged[ENTERPRISE] = {"department": "Litigation", "manager": {"value": boss["id"]}}
    staged[ONBOARDING] = {"startDate": start.isoformat()}
    made = await create(desk, staged)
    assert (await directory_user(desk, made["id"])).onboarding_ticket is None
    activated = await desk.http.patch(
        f"{SCIM}/Users/{made['id']}", headers=hr_system(desk),
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "value": {"active": True}}]})
    assert activated.status_code == 200 and activated.json()["active"] is True, activated.text
    opened = (await directory_user(desk, made["id"])).onboarding_ticket
    assert opened is not None
    view = await ticket(desk, opened)
    assert view["kind"] == "onboarding" and view["user_principal_name"] == staged["userName"]
    assert datetime.fromisoformat(view["starts_at"]).astimezone(
        ZoneInfo("Australia/Melbourne")).date() == start
    assert await tickets(desk, "offboarding") == []
