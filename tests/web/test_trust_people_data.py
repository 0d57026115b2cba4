"""People's data inside a client (issue 18), over real HTTP with a real SMTP peer and the
local Graph/SentinelOne/Datto of provider_sandbox.py:

* a leaver is never mailed about their own exit - raised by HR's form without a manager,
  or by the HR system over SCIM (a deactivation, no manager known) - while the desk is;
  with a manager, the manager is; a form naming the leaver as manager is refused (422);
* a joiner's personal e-mail and phone are shown to HR and the service desk, withheld from
  a director (in a view and in an action's answer), hidden with the ticket from everyone
  else, and carried by no e-mail.
"""

from __future__ import annotations

from datetime import date, timedelta
from email.message import EmailMessage

import pytest

from domain.tenants import Providers
from provider_sandbox import ProviderServer
from tests.conftest import provider_desk, sandbox_sites
from tests.peers import Mailbox
from tests.web.helpers import assert_problem, eventually
from tests.web.test_offboarding import UPN as LEAVER
from tests.web.test_offboarding import exit_form
from tests.web.test_onboarding import new_user
from tests.web.test_scim import SCIM, hr_system
from tests.web.test_scim import new_user as scim_user

MANAGER = "mia.chen@harbourside.example"
PERSONAL_EMAIL = "sam.lee@personal.example"   # on tests.web.test_onboarding's form
PERSONAL_PHONE = "+61 400 000 000"


@pytest.fixture
async def people(dev_client, config, task_queue):
    with ProviderServer() as providers, Mailbox() as mailbox:
        wired = sandbox_sites(Providers(graph_tenant="contoso-tenant",
                                        edr_component="comp-s1"))
        async with provider_desk(dev_client, config, providers, wired, task_queue=task_queue,
                                 smtp_host="127.0.0.1", smtp_port=mailbox.port) as desk:
            yield desk, mailbox


def mails_about(mailbox: Mailbox, ticket: str) -> list[tuple[EmailMessage, list[str]]]:
    """Each message about ``ticket`` with the addresses it was delivered to (the SMTP
    envelope: Cc and Bcc included)."""
    return [(message, [r.lower() for r in recipients])
            for message, (_, recipients) in zip(mailbox.messages, mailbox.envelopes,
                                                strict=True)
            if f"[{ticket}]" in message["Subject"]]


async def access_revoked_mail(desk, mailbox: Mailbox, ticket: str) -> None:
    """Wait until the exit's later notice, 'Access revoked', has been delivered."""
    await eventually(lambda: [m for m, _ in mails_about(mailbox, ticket)
                              if m["Subject"].startswith(f"[{ticket}] Access revoked")],
                     bool, timeout=60)


async def scim_exit(desk) -> str:
    """The HR system creates Jo (no manager in the directory) and deactivates them."""
    made = await desk.http.post(f"{SCIM}/Users", json=scim_user(), headers=hr_system(desk))
    assert made.status_code == 201, made.text
    off = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "replace", "value": {"active": False}}]}
    patched = await desk.http.patch(f"{SCIM}/Users/{made.json()['id']}", json=off,
                                    headers=hr_system(desk))
    assert patched.status_code == 200, patched.text

    async def exits() -> list[str]:  # the client's only exit so far
        listed = await desk.http.get("/v1/tickets", params={"kind": "offboarding"},
                                     headers=desk.as_("belton", "agent"))
        return [t["ticket_id"] for t in listed.json()["tickets"]]

    [ticket] = await eventually(exits, bool, timeout=30)
    return ticket


async def test_a_leaver_is_never_mailed_about_their_own_exit(people):
    desk, mailbox = people
    hr = desk.as_("belton", "hr")
    belton = next(c for c in desk.config.clients if c.id == desk.client_id("belton"))
    desk_mailbox = belton.notifications.email[0]
    from_scim = await scim_exit(desk)  # first: then it is the client's only exit
    no_manager = await desk.http.post("/v1/offboarding", headers=hr,
                                      json=exit_form(manager=None, hardware=[]))
    assert no_manager.status_code == 201, no_manager.text
    alone = no_manager.json()
    managed = await desk.http.post("/v1/offboarding", headers=hr, json=exit_form(hardware=[]))
    assert managed.status_code == 201, managed.text
    with_manager = managed.json()["ticket_id"]

    for ticket in (alone["ticket_id"], from_scim, with_manager):
        await access_revoked_mail(desk, mailbox, ticket)
        sent = mails_about(mailbox, ticket)
        subjects = {m["Subject"].split("] ", 1)[1].split(":")[0] for m, _ in sent}
        assert {"Access revoked", "Logged"} <= subjects, subjects
        for message, recipients in sent:
            assert LEAVER not in recipients, (ticket, message["Subject"], recipients)
            assert desk_mailbox in recipients, (ticket, message["Subject"], recipients)
            assert (MANAGER in recipients) == (ticket == with_manager), (ticket, recipients)
    assert alone["technical_contact"] == ""  # nobody named: the desk alone is told


async def test_a_form_naming_the_leaver_as_their_manager_is_refused(people):
    desk, _ = people
    for manager in (LEAVER.upper(), "jo@personal.example"):
        form = exit_form(manager={"name": "Jo Tran", "email": manager},
                         employee={"name": "Jo Tran", "email": "jo@personal.example"})
        refused = await desk.http.post("/v1/offboarding", json=form,
                                       headers=desk.as_("belton", "hr"))
        problem = assert_problem(refused, 422)
        [error] = problem["errors"]
        assert error["field"] == "manager" and "leaver" in error["message"], error
        assert "leave 'manager' out" in error["fix"]


async def test_a_joiners_personal_data_reaches_only_hr_and_the_desk(people):
    desk, mailbox = people
    start = (date.today() + timedelta(days=30)).isoformat()
    made = await desk.http.post("/v1/onboarding", headers=desk.as_("belton", "hr"),
                                json=new_user(start, role_template=None, licences=["SPE_E3"],
                                              mailbox_access=[]))
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]

    async def view(role: str, client: str = "belton") -> tuple[int, dict]:
        answer = await desk.http.get(f"/v1/tickets/{ticket}", headers=desk.as_(client, role))
        return answer.status_code, answer.json()

    # Ready: the account confirmation and the induction invite have been mailed.
    await eventually(lambda: view("agent"), lambda v: v[1]["ready_at"], timeout=90)
    await eventually(lambda: [m for m, _ in mails_about(mailbox, ticket)
                              if "induction" in m["Subject"].lower()], bool, timeout=30)

    for role, client in (("hr", "belton"), ("agent", "belton"), ("admin", "belton"),
                         ("agent", "msp"), ("admin", "msp")):
        status, shown = await view(role, client)
        assert status == 200, (role, client, shown)
        assert shown["personal_email"] == PERSONAL_EMAIL, (role, client)
        assert shown["personal_phone"] == PERSONAL_PHONE and shown["withheld"] == []

    status, to_director = await view("director")
    assert status == 200 and to_director["employee"] == "Sam Lee"
    assert to_director["personal_email"] is None and to_director["personal_phone"] is None
    assert to_director["withheld"] == ["personal_email", "personal_phone"]
    # An action's answer is the same view, withheld the same way.
    escalated = await desk.http.post(f"/v1/tickets/{ticket}/escalate",
                                     headers=desk.as_("belton", "director"),
                                     json={"reason": "Sam starts soon and has no laptop yet"})
    assert escalated.status_code == 200, escalated.text
    assert PERSONAL_EMAIL not in escalated.text and PERSONAL_PHONE not in escalated.text
    assert escalated.json()["withheld"] == ["personal_email", "personal_phone"]
    for role in ("requester", "integration"):
        assert (await view(role))[0] == 404, role

    # No e-mail carries it, to anyone (the joiner's first contact is the desk's, by hand).
    sent = mails_about(mailbox, ticket)
    assert len(sent) >= 3  # logged, account ready, induction invite (and the escalation)
    for message, recipients in sent:
        text = message.as_string()
        assert PERSONAL_EMAIL not in text and PERSONAL_PHONE not in text, message["Subject"]
        assert PERSONAL_EMAIL not in recipients
