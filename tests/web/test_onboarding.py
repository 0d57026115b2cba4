"""New users over HTTP on the dev server, against local servers speaking Graph, Datto RMM
and SentinelOne, with e-mail to a real SMTP server: too little notice is refused with the
earliest start, then the account, licences, groups and laptop are ready before the start
(through throttling); the confirmation and an .ics induction invite are mailed; an
exhausted licence pool waits for an agent; an expedite waits for approval; HR's
cancellation undoes what was done."""

from __future__ import annotations

import time
from datetime import date

import pytest

from domain.tenants import Providers, RoleTemplate
from provider_sandbox import ProviderServer
from tests.conftest import provider_desk, sandbox_sites
from tests.peers import Mailbox
from tests.web.helpers import assert_problem, eventually

UPN = "sam.lee@harbourside.example"


def new_user(start_date: str, **changes) -> dict:
    form = {"employee": {"name": "Sam Lee", "email": "sam.lee@personal.example",
                         "phone": "+61 400 000 000"},
            "user_principal_name": UPN, "title": "Paralegal", "department": "Legal",
            "manager": {"name": "Mia Chen", "email": "mia.chen@harbourside.example"},
            "start_date": start_date, "role_template": "lawyer",
            "mailbox_access": ["reception@harbourside.example"],
            "hardware": [{"hostname": "BEL-LT-042", "serial": "PF4K2Q"}]}
    form.update(changes)
    return form


@pytest.fixture
async def joiners(dev_client, config, task_queue):
    with ProviderServer() as providers, Mailbox() as mailbox:
        wired = sandbox_sites(Providers(graph_tenant="contoso-tenant", edr_component="comp-s1",
                                        backup_component="comp-backup"))
        templates = {"lawyer": RoleTemplate(licences=["SPE_E3", "VISIOCLIENT"],
                                            groups=["g-all-staff", "g-legal"])}
        with_templates = config.model_copy(update={"clients": [
            c.model_copy(update={"role_templates": templates}) for c in config.clients]})
        async with provider_desk(dev_client, with_templates, providers, wired,
                                 task_queue=task_queue, smtp_host="127.0.0.1",
                                 smtp_port=mailbox.port) as desk:
            yield desk, providers, mailbox


async def earliest(desk, client: str = "belton") -> str:
    """Ask with a start tomorrow: the 422 names the earliest allowed start."""
    refused = await desk.http.post("/v1/onboarding", json=new_user(date.today().isoformat()),
                                   headers=desk.as_(client, "hr"))
    body = assert_problem(refused, 422)
    assert body["errors"][0]["field"] == "start_date"
    assert "earliest allowed start" in body["errors"][0]["message"]
    assert "expedite" in body["errors"][0]["fix"]
    return body["earliest_start"][:10]


async def view_of(desk, ticket: str) -> dict:
    return (await desk.http.get(f"/v1/tickets/{ticket}",
                                headers=desk.as_("belton", "agent"))).json()


async def test_ready_before_the_start_with_confirmation_and_induction_invite(joiners):
    desk, providers, mailbox = joiners
    start = await earliest(desk)
    providers.faults.throttle = 2  # Graph answers 429 twice first
    providers.faults.datto_throttle = 1  # Datto once, then an outage of a few seconds
    providers.faults.datto_down_until = time.monotonic() + 3
    made = await desk.http.post("/v1/onboarding", json=new_user(start),
                                headers=desk.as_("belton", "hr"))
    assert made.status_code == 201, made.text
    opened = made.json()
    assert opened["kind"] == "onboarding" and not opened["expedited"]
    assert opened["starts_at"][:10] == start
    ticket = opened["ticket_id"]

    view = await eventually(lambda: view_of(desk, ticket), lambda v: v["ready_at"], timeout=90)
    assert view["ready_at"] < view["starts_at"] and not view["breached"]
    user = providers.users[UPN]
    assert user["usageLocation"] == "AU" and user["jobTitle"] == "Paralegal"
    assert sorted(providers.licences[UPN]) == ["sku-e3", "sku-visio"]
    assert user["id"] in providers.members["g-legal"]
    assert providers.members["g-reception"] == {user["id"]}  # the shared mailbox's group
    # usageLocation is set before the licences are assigned (Graph refuses them otherwise).
    order = [(s.method, s.path.rsplit("/", 1)[-1]) for s in providers.seen
             if s.path.startswith(f"/graph/v1.0/users/{UPN}")]
    assert order.index(("PATCH", UPN)) < order.index(("POST", "assignLicense"))
    # Each component ran once, through the throttling and the outage.
    assert sorted(providers.quickjobs) == [("dev-uid-042", "comp-backup"),
                                           ("dev-uid-042", "comp-s1")]
    datto = [s for s in providers.seen if s.path.startswith("/datto/api/")]
    assert len(datto) > 4  # retried
    assert providers.devices[0]["udf"] == {"udf1": UPN, "udf2": ticket}

    async def invite():
        return [m for m in mailbox.about(ticket) if "induction" in m["Subject"].lower()]

    [mail] = await eventually(invite, bool, timeout=30)
    [ics] = [part for part in mail.iter_attachments()
             if part.get_content_type() == "text/calendar"]
    text = ics.get_content()
    assert "METHOD:REQUEST" in text and f"UID:onboarding:{ticket}:induction" in text
    assert f"ATTENDEE;RSVP=TRUE:mailto:{UPN}" in text
    assert [m for m in mailbox.about(ticket) if "Account ready" in m["Subject"]]


async def test_an_exhausted_licence_pool_waits_for_an_agent_then_goes_on(joiners):
    desk, providers, _ = joiners
    providers.skus[1].seats = 0  # no Visio seat left
    made = await desk.http.post("/v1/onboarding", json=new_user(await earliest(desk)),
                                headers=desk.as_("belton", "hr"))
    ticket = made.json()["ticket_id"]
    view = await eventually(lambda: view_of(desk, ticket),
                            lambda v: v["waiting_for_agent"], timeout=60)
    assert "licence pool exhausted: VISIOCLIENT (1 of 0 in use)" in view["waiting_for_agent"]
    assert view["status"] == "new" and view["ready_at"] is None
    hr_tries = await desk.http.post(f"/v1/tickets/{ticket}/retry-steps", json={},
                                    headers=desk.as_("belton", "hr"))
    assert hr_tries.status_code == 403
    providers.skus[1].seats = 5  # the client bought seats
    retried = await desk.http.post(f"/v1/tickets/{ticket}/retry-steps",
                                   json={"note": "bought 5 Visio seats"},
                                   headers=desk.as_("belton", "agent"))
    assert retried.status_code == 200, retried.text
    view = await eventually(lambda: view_of(desk, ticket), lambda v: v["ready_at"], timeout=60)
    assert "sku-visio" in providers.licences[UPN] and view["waiting_for_agent"] is None


async def test_an_expedite_waits_for_an_agent_and_cancellation_undoes_it(joiners):
    desk, providers, _ = joiners
    made = await desk.http.post("/v1/onboarding",
                                json=new_user(date.today().isoformat(), expedite=True),
                                headers=desk.as_("belton", "hr"))
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]
    assert made.json()["expedited"] and made.json()["expedite_approved_at"] is None
    assert UPN not in providers.users  # nothing done before the approval
    by_hr = await desk.http.post(f"/v1/tickets/{ticket}/expedite-decision",
                                 json={"approve": True}, headers=desk.as_("belton", "hr"))
    assert by_hr.status_code == 403
    approved = await desk.http.post(f"/v1/tickets/{ticket}/expedite-decision",
                                    json={"approve": True, "reason": "partner's request"},
                                    headers=desk.as_("belton", "agent"))
    assert approved.status_code == 200 and approved.json()["expedite_approved_by"]
    await eventually(lambda: view_of(desk, ticket), lambda v: v["ready_at"], timeout=60)
    user_id = providers.users[UPN]["id"]
    assert user_id in providers.members["g-legal"]

    cancelled = await desk.http.post(f"/v1/tickets/{ticket}/cancel",
                                     json={"reason": "offer withdrawn"},
                                     headers=desk.as_("belton", "hr"))
    assert cancelled.status_code == 200, cancelled.text
    view = cancelled.json()
    assert view["status"] == "resolved" and view["compensated_at"]
    assert UPN not in providers.users and user_id not in providers.members["g-legal"]
    assert providers.devices[0]["udf"] == {"udf1": "", "udf2": ""}
    again = await desk.http.post(f"/v1/tickets/{ticket}/cancel", json={"reason": "twice"},
                                 headers=desk.as_("belton", "hr"))
    assert_problem(again, 409)
    assert "cancelled" in again.json()["detail"]
