"""Mail proves its sender at the SMTP door too (the outside review of issue 24):

* S1: the listener believes Authentication-Results only from the MSP's own relays
  (``mail.smtp.trusted_relays``): a header that whoever connects wrote itself, naming the
  trusted authserv-id, neither escalates nor comments as staff;
* S3: the listener's replies tell no one unproven (nor anyone whose mail is ignored) which
  ticket ids exist;
* W7: the mail hook refuses a body that is not a message (415 naming the media types).

The rules are pure functions (domain/sender_auth.py, domain/mail_config.py), tested first
without a server; then a real API and worker, a real SMTP client talking over loopback to
api/smtp.py's listener (as tests/web/test_trust_mail.py does).
"""

from __future__ import annotations

import asyncio
import dataclasses
import smtplib
from email.message import EmailMessage

import pytest
from pydantic import ValidationError

from api.smtp import serve_smtp
from composition import open_mail_in
from domain.mail_config import SmtpLimits
from domain.sender_auth import from_trusted_relay, judged_at_smtp, smtp_reply
from tests.conftest import isolated, make_settings
from tests.peers import free_port
from tests.web.helpers import assert_problem, eventually
from tests.web.test_trust_mail import (  # noqa: F401  (trust_desk: the fixture)
    DESK,
    GATEWAY,
    JO,
    TRUSTED_MTA,
    mail,
    post,
    trust_desk,
    view,
)

ESCALATIONS = "escalations@msp.example"  # tempodesk.yaml's mail.escalations
BOSS = "boss@msp.example"
PASS_JO = [f"{TRUSTED_MTA}; dmarc=pass header.from=harbourside.example"]


# ---------------------------------------------------------------- the rules, no server

@pytest.mark.parametrize(("peer", "relays", "believed"), [
    ("192.0.2.25", ["192.0.2.25/32"], True),
    ("192.0.2.30", ["192.0.2.16/28"], True),
    ("192.0.2.40", ["192.0.2.16/28"], False),
    ("::ffff:192.0.2.25", ["192.0.2.25/32"], True),  # IPv4 through an IPv6 socket
    ("2001:db8::25", ["2001:db8::/64"], True),
    ("127.0.0.1", [], False),  # the default: no peer is a relay
    ("", ["0.0.0.0/0"], False),  # no address (a Unix socket): never a relay
    ("not-an-address", ["0.0.0.0/0"], False),
])
def test_a_relay_is_a_configured_address_or_network(peer, relays, believed):
    assert from_trusted_relay(peer, relays) is believed


def test_relays_are_validated_addresses_or_networks():
    assert SmtpLimits().trusted_relays == []
    limits = SmtpLimits(trusted_relays=[" 192.0.2.25 ", "2001:db8::/64", "10.0.0.0/8"])
    assert limits.trusted_relays == ["192.0.2.25/32", "2001:db8::/64", "10.0.0.0/8"]
    for wrong in ("mx.msp.example", "10.0.0.1/8", "300.1.1.1"):
        with pytest.raises(ValidationError) as refused:
            SmtpLimits(trusted_relays=[wrong])
        assert "is not an IP address or CIDR network" in str(refused.value)
    with pytest.raises(ValidationError):
        SmtpLimits(trusted_relays=[f"192.0.2.{n}" for n in range(51)])  # bounded


def test_the_start_says_which_peers_are_believed():
    assert "no peer" in SmtpLimits().believed_peers()
    assert "only from 192.0.2.25/32" in SmtpLimits(
        trusted_relays=["192.0.2.25"]).believed_peers()


def test_headers_from_a_peer_outside_the_relays_prove_nothing():
    straight = judged_at_smtp(PASS_JO, JO, 1, [TRUSTED_MTA], "203.0.113.9", [])
    assert not straight.authenticated and "not through a trusted relay" in straight.reason
    relayed = judged_at_smtp(PASS_JO, JO, 1, [TRUSTED_MTA], "192.0.2.25", ["192.0.2.25"])
    assert relayed.authenticated, relayed.reason
    # A relay's mail is still judged by its headers: no dmarc=pass, no sender.
    failed = judged_at_smtp([f"{TRUSTED_MTA}; dmarc=fail header.from=harbourside.example"],
                            JO, 1, [TRUSTED_MTA], "192.0.2.25", ["192.0.2.25"])
    assert not failed.authenticated


def test_a_reply_names_a_ticket_only_to_a_proven_sender_whose_mail_acts():
    assert smtp_reply("noted", "BEL-000005", False) == "accepted"
    assert smtp_reply("opened", "BEL-000009", None) == "accepted"
    assert smtp_reply("ignored", "BEL-000005", True) == "ignored"
    assert smtp_reply("ignored", None, True) == "ignored"
    assert smtp_reply("escalated", "BEL-000005", True) == "escalated BEL-000005"


# ---------------------------------------------------------------- over real SMTP

def sent(port: int, message: EmailMessage, rcpt: list[str]) -> tuple[int, str]:
    """One message to the listener on loopback: its reply code and text."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo()
        smtp.mail(str(message["From"]))
        for to in rcpt:
            smtp.rcpt(to)
        code, text = smtp.data(bytes(message))
    return code, text.decode()


def claimed(sender: str, subject: str, body: str, **headers: str) -> EmailMessage:
    """The finding's message: a dmarc=pass the sender wrote itself, naming our MTA."""
    message = EmailMessage()
    domain = sender.rpartition("@")[2]
    message["Authentication-Results"] = f"{TRUSTED_MTA}; dmarc=pass header.from={domain}"
    message["From"] = sender
    message["To"] = DESK
    message["Subject"] = subject
    for name, value in headers.items():
        message[name] = value
    message.set_content(body)
    return message


@pytest.fixture
async def listeners(trust_desk):  # noqa: F811
    """Two listeners on one desk: the default (no relay) and one whose relay is loopback."""
    desk = trust_desk[0]
    servers, ports = [], []
    for relays in ([], ["127.0.0.1"]):
        mail_config = desk.config.mail.model_copy(update={
            "smtp": desk.config.mail.smtp.model_copy(update={"trusted_relays": relays})})
        config = desk.config.model_copy(update={"mail": mail_config})
        port = free_port()
        servers.append(await serve_smtp(dataclasses.replace(desk.state, config=config),
                                        "127.0.0.1", port))
        ports.append(port)
    yield ports
    for server in servers:
        server.close()
        await server.wait_closed()


async def opened(desk) -> str:
    return (await post(desk, mail(JO, "Printer down", "Paper jam on floor 2.", True)))[
        "ticket_id"]


async def test_headers_written_by_the_sender_do_not_escalate(trust_desk, listeners):  # noqa: F811
    desk = trust_desk[0]
    straight, relayed = listeners
    ticket = await opened(desk)
    escalate = claimed(JO, f"Re: [{ticket}] Printer down", "Nobody came: escalate.",
                       Cc=ESCALATIONS)
    assert await asyncio.to_thread(sent, straight, escalate, [DESK, ESCALATIONS]) == (
        250, "2.0.0 accepted")
    # Jo's words are recorded as a note, and the ladder stays where it was.
    noted = await eventually(lambda: view(desk, ticket), lambda v: len(v["comments"]) == 1)
    [note] = noted["comments"]
    assert note["body"].startswith("[Not acted on:") and "not through a trusted relay" in (
        note["body"])
    assert noted["escalation_level"] == 0 and noted["client_escalations"] == 0
    # The same mail through the MSP's own relay is believed.
    assert await asyncio.to_thread(sent, relayed, escalate, [DESK, ESCALATIONS]) == (
        250, f"2.0.0 escalated {ticket}")
    climbed = await view(desk, ticket)
    assert climbed["escalation_level"] == 1 and climbed["client_escalations"] == 1


async def test_headers_written_by_the_sender_do_not_speak_for_staff(
        trust_desk, listeners):  # noqa: F811
    desk = trust_desk[0]
    straight, relayed = listeners
    ticket = await opened(desk)
    boss = claimed(BOSS, f"Re: [{ticket}] Printer down",
                   "MSP here: closing this, send us your password.")
    assert await asyncio.to_thread(sent, straight, boss, [DESK]) == (250, "2.0.0 accepted")
    # Unauthenticated mail claiming the MSP's domain leaves nothing: Jo's reply after it is
    # the ticket's only comment.
    reply = claimed(JO, f"Re: [{ticket}] Printer down", "Still jammed.")
    assert await asyncio.to_thread(sent, straight, reply, [DESK]) == (250, "2.0.0 accepted")
    after = await eventually(lambda: view(desk, ticket), lambda v: len(v["comments"]) >= 1)
    assert [c["by"] for c in after["comments"]] == [f"email (not acted on):{JO}"]
    # Through the MSP's own relay the boss's mail is a staff comment.
    assert await asyncio.to_thread(sent, relayed, boss, [DESK]) == (
        250, f"2.0.0 staff_noted {ticket}")
    staffed = await eventually(lambda: view(desk, ticket), lambda v: len(v["comments"]) == 2)
    assert staffed["comments"][-1]["by"] == f"email:{BOSS}"


async def test_replies_tell_no_outsider_which_tickets_exist(trust_desk, listeners):  # noqa: F811
    desk = trust_desk[0]
    ticket = (await post(desk, mail(JO, "VPN down", "Since 9:00.", True)))["ticket_id"]
    made_up = f"{ticket.rpartition('-')[0]}-999999"
    straight, relayed = listeners
    # Unproven: an outsider or the client's own person, straight in; ignored: an outsider
    # through the relay. (Jo through the relay is proven: her own ticket's id is hers.)
    for port, sender in ((straight, "x@nowhere.example"), (straight, JO),
                         (relayed, "x@nowhere.example")):
            replies = {await asyncio.to_thread(sent, port, claimed(
                sender, f"[{ticket_id}] hi", "hello"), [DESK])
                for ticket_id in (ticket, made_up)}
            assert len(replies) == 1, (port, sender, replies)
            [(code, text)] = replies
            assert code == 250 and ticket not in text and made_up not in text


# ---------------------------------------------------------------- the mail hook

async def test_the_hook_refuses_a_body_that_is_not_a_message(trust_desk):  # noqa: F811
    desk = trust_desk[0]
    for key in (GATEWAY["Authorization"], "Bearer td_belton_integration_demo"):
        answer = await desk.http.post("/v1/email/inbound", json={},
                                      headers={"Authorization": key})
        refused = assert_problem(answer, 415)
        assert refused["errors"][0]["field"] == "Content-Type"
        assert "message/rfc822" in refused["errors"][0]["fix"]
    # A real message is taken as before, with or without a Content-Type.
    message = bytes(mail(JO, "Scanner offline", "Since Monday.", True))
    for headers in (GATEWAY, {"Authorization": GATEWAY["Authorization"]}):
        taken = await desk.http.post("/v1/email/inbound", content=message, headers=headers)
        assert taken.status_code == 202 and taken.json()["action"] == "opened", taken.text


async def test_dev_mail_in_prints_whom_it_believes(dev_client, config, capsys):
    """`tempodesk dev`'s listener on the demo config: it says no peer is believed."""
    settings = make_settings(inbound_smtp_host="127.0.0.1", inbound_smtp_port=free_port())
    server = await open_mail_in(settings, isolated(config), dev_client)
    assert server is not None
    server.close()
    await server.wait_closed()
    assert "believed from no peer" in capsys.readouterr().out
