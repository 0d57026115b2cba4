"""Which mail may act, end to end (issue 18): a real API and worker on the dev server, a
real SMTP client talking to the inbound listener, our notices caught by a real SMTP peer
and a webhook receiver. Each test is one finding of the issue:

* a forged ``From:`` no longer approves a quote (HTTP and SMTP): a note, and the director
  is sent their own link to confirm;
* escalations only at the configured address, staff comments only from authenticated MSP
  senders, no "Logged" to a sender who failed authentication, per-sender and per-address
  limits on the listener;
* malformed mail is a 422 or a 554, never a 500 or an endless 451; a reused Message-ID
  does not lock a new message out;
* personal links (approval, survey) reach only the person they name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from api.smtp import serve_smtp
from domain import tokens
from domain.mail_config import MailConfig, SmtpLimits
from domain.tenants import Webhook
from tests.conftest import TEST_SECRET, isolated, make_settings, running_desk
from tests.peers import Mailbox, WebhookReceiver, free_port
from tests.web.helpers import assert_problem, eventually

GATEWAY = {"Authorization": "Bearer td_msp_integration_demo",
           "Content-Type": "message/rfc822"}
TRUSTED_MTA = "mx.msp.example"  # tempodesk.yaml's mail.trusted_authserv_ids
JO = "jo.tran@harbourside.example"
MIA = "mia.chen@harbourside.example"
TOM = "tom.walsh@harbourside.example"
DESK = "servicedesk@belton.example"  # belton's notifications.email
ANA = "ana.ruiz@hudsonfreight.example"
QUOTE = {"title": "Meeting room display", "lines": [
    {"description": "75-inch display", "quantity": "1", "unit_price": "2400"}]}
# The finding's header, as the MSP's own MTA writes it for a forged message.
FORGED = (f"{TRUSTED_MTA}; spf=fail smtp.mailfrom=evil.example; dkim=none; dmarc=fail "
          "header.from={domain}")
PASSED = f"{TRUSTED_MTA}; dkim=pass header.d={{domain}}; dmarc=pass header.from={{domain}}"


def mail(sender: str, subject: str, body: str, authenticated: bool, to: str = DESK,
         **headers: str) -> EmailMessage:
    message = EmailMessage()
    domain = sender.rpartition("@")[2]
    message["Authentication-Results"] = (PASSED if authenticated else FORGED).format(
        domain=domain)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=domain)
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


@pytest.fixture
async def trust_desk(dev_client, config, task_queue):
    """The demo config (its mail: block) with a small per-sender limit on the listener."""
    with Mailbox() as mailbox, WebhookReceiver() as hooks:
        base = isolated(config)
        hook = Webhook(url=hooks.url, secret=WebhookReceiver.SECRET)
        clients = [c.model_copy(update={"notifications": c.notifications.model_copy(
            update={"webhooks": [hook]})}) for c in base.clients]
        # The listener's peer is this test's client on loopback: name it as the MSP's relay.
        mail_config = base.mail.model_copy(update={"smtp": SmtpLimits(
            per_ip="1000/min", per_sender="5/min", trusted_relays=["127.0.0.1"])})
        wired = base.model_copy(update={"clients": clients, "mail": mail_config})
        settings = make_settings(task_queue=task_queue, smtp_host="127.0.0.1",
                                 smtp_port=mailbox.port)
        async with running_desk(dev_client, wired, settings) as desk:
            yield desk, mailbox, hooks


async def post(desk, message: EmailMessage | bytes, status: int = 202) -> dict:
    answer = await desk.http.post("/v1/email/inbound", content=bytes(message),
                                  headers=GATEWAY)
    assert answer.status_code == status, answer.text
    return answer.json()


async def view(desk, ticket_id: str) -> dict:
    return (await desk.http.get(f"/v1/tickets/{ticket_id}",
                                headers=desk.as_("belton", "agent"))).json()


def to(message: EmailMessage) -> set[str]:
    return {a.strip().lower() for a in str(message["To"]).split(",")}


async def mails(mailbox: Mailbox, ticket_id: str, subject_part: str,
                reaching: frozenset[str] = frozenset()) -> list[EmailMessage]:
    """Our mails about the ticket with ``subject_part``, once they reach every address in
    ``reaching`` (however they were split up)."""
    async def found():
        return [m for m in mailbox.about(ticket_id) if subject_part in m["Subject"]]

    def complete(found: list[EmailMessage]) -> bool:
        return bool(found) and reaching <= set().union(*(to(m) for m in found))
    return await eventually(found, complete, timeout=30)


def text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def one_to(messages: list[EmailMessage], address: str) -> EmailMessage:
    [found] = [m for m in messages if address in to(m)]
    return found


def smtp_send(port: int, messages: list[EmailMessage]) -> list[tuple[int, str]]:
    """Each message through one SMTP session: its reply code and text (no raise)."""
    replies = []
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo()
        for message in messages:
            code, text = smtp.mail(str(message["From"]))
            if code == 250:
                smtp.rcpt(str(message["To"]))
                code, text = smtp.data(bytes(message))
            else:
                smtp.rset()
            replies.append((code, text.decode()))
    return replies


@pytest.fixture
async def listener(trust_desk):
    desk = trust_desk[0]
    port = free_port()
    server = await serve_smtp(desk.state, "127.0.0.1", port)
    yield port
    server.close()
    await server.wait_closed()


async def quote(desk, mailbox) -> tuple[str, list[EmailMessage]]:
    created = await desk.http.post("/v1/quotes", json=QUOTE, headers=desk.as_("belton", "agent"))
    assert created.status_code == 201, created.text
    ticket_id = created.json()["ticket_id"]
    return ticket_id, await mails(mailbox, ticket_id, "Quote for approval",
                                  frozenset({MIA, TOM, DESK}))


# ---------------------------------------------------------------- finding 1 (and 4)

async def test_a_forged_directors_approved_is_a_note_and_the_director_confirms_by_link(
        trust_desk, listener):
    desk, mailbox, _ = trust_desk
    ticket_id, sent = await quote(desk, mailbox)
    to_mia = one_to(sent, MIA)
    # Even sent to Mia's own reply address (which a forger never sees), a forged From fails.
    forged = mail(MIA, f"Re: {to_mia['Subject']}", "Approved", authenticated=False,
                  to=str(to_mia["Reply-To"]), In_Reply_To=to_mia["Message-ID"])
    outcome = await post(desk, forged)
    assert outcome["action"] == "noted" and not outcome["sender_authenticated"], outcome
    assert "dmarc=fail" in outcome["detail"]
    # The same through `tempodesk smtp`: the finding's MAIL FROM:<attacker@evil.example>.
    by_smtp = mail(MIA, f"Re: [{ticket_id}] Quote for approval", "Approved",
                   authenticated=False)

    def send() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", listener, timeout=60) as smtp:
            smtp.ehlo()
            smtp.mail("attacker@evil.example")
            smtp.rcpt(DESK)
            return smtp.data(bytes(by_smtp))

    code, reply = await asyncio.to_thread(send)
    # Noted, but the reply does not say so to an unproven sender (nor name the ticket).
    assert (code, reply.decode()) == (250, "2.0.0 accepted")

    ticket = await eventually(lambda: view(desk, ticket_id), lambda v: len(v["comments"]) == 2)
    assert ticket["quote_state"] == "sent" and ticket["decision"] is None
    assert all(c["body"].startswith("[Not acted on: 'Approved' not taken: sender not "
                                    "authenticated (dmarc=fail") for c in ticket["comments"])
    assert ticket["confirmations_asked"] == [MIA]  # asked once, however often forged
    confirm = await mails(mailbox, ticket_id, "Please confirm by your link",
                          frozenset({MIA, DESK}))
    personal, copy = one_to(confirm, MIA), one_to(confirm, DESK)
    assert to(personal) == {MIA}
    link = re.search(r"/v1/quotes/\S+/review\?token=(\S+)", text(personal))
    assert link and "token=" not in text(copy)
    signed = tokens.verify(TEST_SECRET, link.group(1), "quote")  # her own page's link
    assert (signed["s"], signed["director"]) == (ticket_id, MIA)


async def test_an_authenticated_director_must_answer_their_own_copy(trust_desk):
    desk, mailbox, _ = trust_desk
    ticket_id, sent = await quote(desk, mailbox)
    to_mia, to_tom = one_to(sent, MIA), one_to(sent, TOM)
    # The desk's copy threads fine, but only Mia's own copy carries her reply address.
    by_subject = mail(MIA, f"Re: [{ticket_id}] Quote for approval", "Approved", True)
    assert (await post(desk, by_subject))["action"] == "noted"
    # Tom's address is Tom's: Mia cannot use it (nor anyone who saw Tom's mail).
    toms = mail(MIA, f"Re: {to_tom['Subject']}", "Approved", True, to=str(to_tom["Reply-To"]))
    outcome = await post(desk, toms)
    assert outcome["action"] == "noted" and "not this sender's own" in outcome["detail"]
    own = mail(MIA, f"Re: {to_mia['Subject']}", "Approved", True, to=str(to_mia["Reply-To"]),
               In_Reply_To=to_mia["Message-ID"])
    assert (await post(desk, own))["action"] == "decided"
    ticket = await eventually(lambda: view(desk, ticket_id), lambda v: v["decision"])
    assert (ticket["decision"]["director_email"], ticket["decision"]["channel"]) == (MIA,
                                                                                     "email")


# ---------------------------------------------------------------- finding 4

async def test_each_directors_link_reaches_that_director_alone(trust_desk):
    desk, mailbox, hooks = trust_desk
    ticket_id, _ = await quote(desk, mailbox)

    async def sent_now():
        return [m for m in mailbox.about(ticket_id) if "Quote for approval" in m["Subject"]]
    sent = await eventually(sent_now, lambda s: len([m for m in s if DESK in to(m)]) == 2)
    for director in (MIA, TOM):
        personal = one_to(sent, director)
        assert to(personal) == {director}, personal["To"]
        assert "token=" in text(personal)
        assert str(personal["Reply-To"]).startswith(f"approvals+{ticket_id}.")
    copies = [m for m in sent if DESK in to(m)]
    assert len(copies) == 2 and all(to(m) == {DESK} for m in copies), [m["To"] for m in sent]
    for copy in copies:
        assert "token=" not in text(copy) and copy["Reply-To"] is None
        assert "no approval link: each director has their own (sent to " in text(copy)
        assert copy["Message-ID"].endswith(".desk@tempodesk>")
    # Webhooks (chat channels) never carry a personal link either.
    posted = await eventually(lambda: [h for h in hooks.received
                                       if h["body"]["data"]["ticket_id"] == ticket_id],
                              lambda h: len(h) >= 2)
    assert all("approval_url" not in h["body"]["data"] for h in posted)


async def test_the_survey_link_reaches_the_requester_alone(trust_desk):
    desk, mailbox, hooks = trust_desk
    opened = await post(desk, mail(JO, "Scanner offline", "Since the move.", True))
    ticket_id = opened["ticket_id"]
    agent = desk.as_("belton", "agent")
    for status in ("resolved", "closed"):
        done = await desk.http.post(f"/v1/tickets/{ticket_id}/transition",
                                    json={"to": status}, headers=agent)
        assert done.status_code == 200, done.text
    closing = await mails(mailbox, ticket_id, "how did we do", frozenset({JO, DESK}))
    personal, copy = one_to(closing, JO), one_to(closing, DESK)
    assert to(personal) == {JO} and "/v1/surveys/" in text(personal)
    assert to(copy) == {DESK} and "/v1/surveys/" not in text(copy)
    assert f"survey link was sent to {JO} only" in text(copy)
    posted = await eventually(lambda: [h for h in hooks.received
                                       if h["body"]["type"] == "ticket.ticket_closed"
                                       and h["body"]["data"]["ticket_id"] == ticket_id], bool)
    assert "survey_url" not in posted[0]["body"]["data"]


# ---------------------------------------------------------------- finding 2

async def test_escalation_needs_the_configured_address_and_an_authenticated_sender(trust_desk):
    desk, _, _ = trust_desk
    ticket_id = (await post(desk, mail(JO, "Laptop still not repaired", "Third week.",
                                       True)))["ticket_id"]
    elsewhere = mail(JO, f"Re: [{ticket_id}] Logged", "Please escalate.", True,
                     to="escalations@evil.example")
    assert (await post(desk, elsewhere))["action"] == "replied"
    forged = mail(JO, f"Re: [{ticket_id}] Logged", "Please escalate.", False,
                  to="escalations@msp.example")
    outcome = await post(desk, forged)
    assert outcome["action"] == "noted" and "not escalated" in outcome["detail"]
    ticket = await eventually(lambda: view(desk, ticket_id), lambda v: len(v["comments"]) == 2)
    assert ticket["escalation_level"] == 0 and ticket["client_escalations"] == 0
    genuine = mail(JO, f"Re: [{ticket_id}] Logged", "Please escalate.", True,
                   to="escalations@msp.example")
    assert (await post(desk, genuine))["action"] == "escalated"
    assert (await view(desk, ticket_id))["escalation_level"] == 1


async def test_a_forged_msp_sender_adds_nothing_to_another_clients_ticket(trust_desk):
    desk, _, _ = trust_desk
    ticket_id = (await post(desk, mail(ANA, "Forklift scanner broken", "Dock 4.",
                                       True)))["ticket_id"]
    forged = mail("sam@msp.example", f"Re: [{ticket_id}] Logged", "Closing this, all fine.",
                  False)
    outcome = await post(desk, forged)
    assert outcome["action"] == "ignored" and "claims the MSP's own domain" in outcome["detail"]
    genuine = mail("sam@msp.example", f"Re: [{ticket_id}] Logged", "On my way.", True)
    assert (await post(desk, genuine))["action"] == "staff_noted"
    ticket = await eventually(lambda: desk.http.get(
        f"/v1/tickets/{ticket_id}", headers=desk.as_("betterworld", "agent")),
        lambda r: r.json()["comments"])
    assert [c["body"] for c in ticket.json()["comments"]] == ["On my way."]


async def test_forged_mail_to_the_listener_is_limited_and_never_mails_the_victim(
        trust_desk, listener):
    desk, mailbox, _ = trust_desk
    forged = [mail(JO, f"Urgent {n}: password reset", "Reset my password.", False)
              for n in range(40)]
    replies = await asyncio.to_thread(smtp_send, listener, forged)
    taken = [text for code, text in replies if code == 250]
    refused = [text for code, text in replies if code != 250]
    # Each opened a ticket, but the reply to an unproven sender names none (issue 24, S3).
    assert taken == ["2.0.0 accepted"] * 5  # per_sender
    assert {code for code, _ in replies if code != 250} == {451}
    assert all(re.fullmatch(rf"4\.7\.1 too much mail from {JO}: try again in \d+ s", t)
               for t in refused), refused[:2]

    async def listed() -> list[str]:
        page = await desk.http.get("/v1/tickets", headers=desk.as_("belton", "agent"))
        return [t["ticket_id"] for t in page.json()["tickets"]]
    tickets = await eventually(listed, lambda ids: len(ids) == 5, timeout=30)
    # The desk's copy of each "Logged" arrives; the forged victim is never mailed.
    for ticket_id in tickets:
        logged = await mails(mailbox, ticket_id, "Logged")
        assert to(logged[0]) == {DESK}
    assert all(JO not in recipients for _, recipients in mailbox.envelopes)
    ticket = await view(desk, tickets[0])
    assert ticket["contact_unconfirmed"] and ticket["technical_contact"] == JO
    # An agent who checked with Jo confirms the address: notices reach Jo from then on.
    agent = desk.as_("belton", "agent")
    confirmed = await desk.http.post(f"/v1/tickets/{tickets[0]}/recipients",
                                     json={"email": JO}, headers=agent)
    assert confirmed.status_code == 200, confirmed.text
    pending = await desk.http.post(f"/v1/tickets/{tickets[0]}/transition",
                                   json={"to": "pending", "reason": "waiting for Jo"},
                                   headers=agent)
    assert pending.status_code == 200, pending.text
    [to_jo] = await eventually(lambda: [m for m in mailbox.about(tickets[0]) if JO in to(m)],
                               bool, timeout=30)
    assert "Logged" not in to_jo["Subject"]


async def test_the_listener_limits_each_sending_address(trust_desk):
    desk, _, _ = trust_desk
    tight = desk.config.model_copy(update={"mail": MailConfig(
        trusted_authserv_ids=[TRUSTED_MTA], smtp=SmtpLimits(per_ip="2/min"))})
    port = free_port()
    server = await serve_smtp(dataclasses.replace(desk.state, config=tight), "127.0.0.1", port)
    try:
        senders = [f"person{n}@harbourside.example" for n in range(3)]
        replies = await asyncio.to_thread(smtp_send, port, [
            mail(s, "Printer jam", "Level 3.", True) for s in senders])
    finally:
        server.close()
        await server.wait_closed()
    assert [code for code, _ in replies] == [250, 250, 451]
    assert re.fullmatch(r"4\.7\.1 too much mail from 127\.0\.0\.1: try again in \d+ s",
                        replies[2][1])


# ---------------------------------------------------------------- finding 3

def deep(levels: int) -> bytes:
    head = f"From: {JO}\r\nTo: {DESK}\r\nSubject: deep\r\nMIME-Version: 1.0\r\n".encode()
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n'
                       % (n, n) for n in range(levels))
    closing = b"".join(b"--b%d--\r\n" % n for n in reversed(range(levels)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nhi\r\n" + closing


async def test_malformed_mail_is_a_4xx_or_a_permanent_refusal(trust_desk, listener):
    desk, _, _ = trust_desk
    refused = assert_problem(await desk.http.post("/v1/email/inbound", content=deep(3000),
                                                  headers=GATEWAY), 422)
    assert refused["errors"][0]["field"] == "(body)"
    assert "more than 100 MIME parts" in refused["errors"][0]["message"]
    charset = (f"Authentication-Results: {PASSED.format(domain='harbourside.example')}\r\n"
               f"From: {JO}\r\nTo: {DESK}\r\nSubject: Klingon\r\nMessage-ID: <k1@h.example>"
               "\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nqapla\xff\r\n"
               ).encode("latin-1")
    opened = await post(desk, charset)
    assert opened["action"] == "opened"
    controls = mail(JO, "VPN\x00 down\x1b[2J again", "Since 9am.\x00", True)
    del controls["Subject"]
    controls["Subject"] = "VPN\x00 down\x1b[2J again"
    outcome = await post(desk, controls)
    assert outcome["action"] == "opened"
    assert (await view(desk, outcome["ticket_id"]))["subject"] == "VPN down[2J again"
    # A different message under a known Message-ID is a new ticket, not a refusal...
    reused = mail(JO, "Another problem", "Different text.", True)
    del reused["Message-ID"]
    reused["Message-ID"] = "<k1@h.example>"
    other = await post(desk, reused)
    assert other["action"] == "opened" and other["ticket_id"] != opened["ticket_id"]
    # ... and the same message again is still its ticket (a retried hook).
    assert (await post(desk, charset))["ticket_id"] == opened["ticket_id"]

    def send(raw: bytes) -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", listener, timeout=60) as smtp:
            smtp.ehlo()
            smtp.mail(JO)
            smtp.rcpt(DESK)
            return smtp.data(raw)

    code, reply = await asyncio.to_thread(send, deep(3000))
    assert code == 554 and b"MIME parts" in reply  # permanent: the MTA does not retry
    code, reply = await asyncio.to_thread(send, bytes(reused))
    assert code == 250 and reply.startswith(b"2.0.0 opened ")


async def test_a_clients_own_key_cannot_vouch_for_a_sender(trust_desk):
    """Only the MSP's own MTA writes Authentication-Results the desk believes: mail posted
    with a client's integration key (its monitoring, its HR system) carries whatever
    headers it likes, so it never acts as MSP staff, never escalates and opens tickets
    whose contact nobody mails (found by the outside review of issue 18)."""
    desk, mailbox, _ = trust_desk
    client_key = {"Authorization": "Bearer td_belton_integration_demo",
                  "Content-Type": "message/rfc822"}
    opened = await post(desk, mail(JO, "VPN down for everyone", "Since 9:00.", True))
    ticket = opened["ticket_id"]

    async def by_client_key(message: EmailMessage) -> dict:
        answer = await desk.http.post("/v1/email/inbound", content=bytes(message),
                                      headers=client_key)
        assert answer.status_code == 202, answer.text
        return answer.json()

    staff = await by_client_key(mail("agent.smith@msp.example", f"Re: [{ticket}] VPN",
                                     "MSP staff here: send us your VPN password.", True))
    assert staff["action"] == "ignored" and staff["sender_authenticated"] is False
    climbed = await by_client_key(mail(JO, f"Re: [{ticket}] VPN", "Escalate this now.", True,
                                       to="escalations@msp.example"))
    assert climbed["action"] == "noted"
    assert (await view(desk, ticket))["escalation_level"] == 0
    new = await by_client_key(mail("ceo@harbourside.example", "Wire the money today",
                                   "Urgent.", True))
    assert new["action"] == "opened" and new["sender_authenticated"] is False
    await mails(mailbox, new["ticket_id"], "Logged", frozenset({DESK}))
    assert not [m for m in mailbox.about(new["ticket_id"])
                if "ceo@harbourside.example" in to(m)]


async def test_sub_addresses_share_their_mailboxs_allowance(trust_desk, listener):
    """jo+1@, jo+2@ ... are all delivered to jo@: one allowance between them, so a flood
    cannot dodge the per-sender limit by varying the tag (the outside review's note)."""
    tagged = [mail(f"jo.tran+{n}@harbourside.example", f"Scanner {n}", "Broken.", False)
              for n in range(10)]
    replies = await asyncio.to_thread(smtp_send, listener, tagged)
    assert [code for code, _ in replies].count(250) == 5  # per_sender
