"""User exits over HTTP on the dev server, against local servers speaking Graph and
SentinelOne: access revoked through throttling and an outage, licences recycled, the EDR
disconnected; a refused step is handed to an agent; hardware returns and legal hold."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from domain.sla.deadlines import compiled_clock
from domain.sla.timeline import to_us
from tests.web.helpers import assert_problem, eventually
from tests.workflows.support import next_local

UPN = "jo.tran@harbourside.example"


def exit_form(**changes) -> dict:
    form = {"employee": {"name": "Jo Tran", "email": UPN}, "user_principal_name": UPN,
            "manager": {"name": "Mia Chen", "email": "mia.chen@harbourside.example"},
            "last_working_day": "2026-12-04", "immediate": True, "reason": "resigned",
            "hardware": [{"serial": "PF3X9K", "managed_device_id": "dev-1"}]}
    form.update(changes)
    return form


@pytest.fixture
def exits(graph_desk):
    return graph_desk


async def view_of(desk, ticket):
    return (await desk.http.get(f"/v1/tickets/{ticket}",
                                headers=desk.as_("belton", "agent"))).json()


async def test_access_is_revoked_through_throttling_and_an_outage(exits):
    desk, providers = exits
    providers.faults.throttle = 2             # two 429s with Retry-After: 1
    providers.faults.down_until = time.monotonic() + 4   # then 503s for a few seconds
    made = await desk.http.post("/v1/offboarding", json=exit_form(),
                                headers=desk.as_("belton", "hr"))
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]
    assert made.json()["kind"] == "offboarding"

    async def revoked():
        return await view_of(desk, ticket)

    view = await eventually(revoked, lambda v: v["access_revoked_at"] is not None, timeout=60)
    late = (datetime.fromisoformat(view["access_revoked_at"])
            - datetime.fromisoformat(view["effective_at"]))
    print(f"\naccess revoked {late.total_seconds():.1f} s after the effective time "
          "(2 throttled calls, ~4 s outage)")
    assert view["revoke_seconds"] < 3600 and not view["breached"]
    assert UPN in providers.disabled
    patch = providers.calls("PATCH", f"/users/{UPN}")
    assert patch[-1].body == {"accountEnabled": False}
    assert len(patch) >= 2  # retried after the throttling / outage
    assert providers.calls("POST", "revokeSignInSessions")
    assert providers.calls("POST", "/login/contoso-tenant/oauth2/v2.0/token")
    done = await eventually(revoked, lambda v: all(s["done_at"] for s in v["steps"]),
                            timeout=60)
    assert providers.licences[UPN] == []  # recycled to the pool
    # Out of every group it was put in; the dynamic group follows the disabled account.
    assert {g for g, members in providers.members.items() if "uid-jo" in members} == {
        "g-dynamic-au"}
    # Jo's laptop, found and disconnected within Belton's SentinelOne site and group only.
    assert providers.calls("POST", "/agents/actions/disconnect")[0].body == {
        "filter": {"ids": ["1234567890"], "siteIds": [providers.S1_SITE],
                   "groupIds": [providers.S1_GROUP]}}
    assert providers.disconnected == {"1234567890"}
    assert {e["kind"] for e in done["events"]} >= {"done:disable_account",
                                                    "done:remove_licences", "access_revoked"}

    # The laptop comes back: a chain-of-custody entry.
    back = await desk.http.post(f"/v1/tickets/{ticket}/hardware-returns",
                                headers=desk.as_("belton", "agent"),
                                json={"serial": "PF3X9K", "condition": "good, charger missing"})
    assert back.status_code == 200, back.text
    assert back.json()["custody"][-1]["by"] == "agent:belton-agent"
    again = await desk.http.post(f"/v1/tickets/{ticket}/hardware-returns",
                                 headers=desk.as_("belton", "agent"), json={"serial": "PF3X9K"})
    assert "returned already" in assert_problem(again, 409)["detail"]


async def test_a_refused_step_goes_to_an_agent_and_roles_are_checked(exits):
    desk, providers = exits
    providers.faults.unknown_users.add("gone@harbourside.example")
    form = exit_form(user_principal_name="gone@harbourside.example", hardware=[])
    assert_problem(await desk.http.post("/v1/offboarding", json=form,
                                        headers=desk.as_("belton", "requester")), 403)
    made = await desk.http.post("/v1/offboarding", json=form,
                                headers=desk.as_("belton", "director"))
    ticket = made.json()["ticket_id"]

    async def failed():
        return await view_of(desk, ticket)

    view = await eventually(failed, lambda v: any(s["needs_agent"] for s in v["steps"]),
                            timeout=30)
    step = next(s for s in view["steps"] if s["name"] == "disable_account")
    assert step["needs_agent"] and "(404)" in step["last_error"]
    assert len(providers.calls("PATCH", "/users/gone@")) == 1  # not retried
    hold = await desk.http.post(f"/v1/tickets/{ticket}/legal-hold",
                                headers=desk.as_("belton", "director"),
                                json={"hold": True, "reason": "pending litigation"})
    assert hold.status_code == 200 and hold.json()["legal_hold"] is True


async def test_exit_form_is_checked(exits):
    desk, _ = exits
    hr = desk.as_("belton", "hr")
    far = await desk.http.post("/v1/offboarding", headers=hr,
                               json=exit_form(immediate=False, last_working_day="2031-01-01"))
    assert assert_problem(far, 422)["errors"][0]["field"] == "last_working_day"
    twice = exit_form(hardware=[{"serial": "A1"}, {"serial": "A1"}])
    assert assert_problem(await desk.http.post("/v1/offboarding", headers=hr, json=twice),
                          422)["errors"][0]["field"] == "hardware"
    friday = next_local(datetime.now(UTC) + timedelta(days=7), weekday=4, hour=17, minute=30)
    policy = desk.config.client(desk.client_id("belton")).sla
    while not compiled_clock(policy).cover(friday.year, friday.year + 1).is_working(
            to_us(friday - timedelta(minutes=1))):  # a public holiday: the next Friday
        friday += timedelta(days=7)
    later = await desk.http.post("/v1/offboarding", headers=hr, json=exit_form(
        immediate=False, last_working_day=friday.date().isoformat()))
    assert later.status_code == 201, later.text
    # Access ends when Belton's office closes that Friday: 17:30 in Melbourne.
    assert datetime.fromisoformat(later.json()["effective_at"]) == friday
