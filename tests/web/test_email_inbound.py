"""Mail in, on the dev server: raw RFC 5322 messages posted by the MSP's mail gateway, and a
real SMTP client (smtplib) talking to the inbound listener. A new ticket (once, however
often the provider retries), a reply threaded by our acknowledgement's Message-ID, a
thank-you that does not reopen, automatic mail and our own mail ignored, a director's
"Approved" approving a quote and anyone else's kept as a note."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import signal
import smtplib
import sys
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from api.smtp import serve_smtp
from domain.email_inbound import MESSAGE_MAX_BYTES
from tests.peers import free_port
from tests.web.helpers import eventually

GATEWAY = {"Authorization": "Bearer td_msp_integration_demo",
           "Content-Type": "message/rfc822"}
JO = "jo.tran@harbourside.example"
DIRECTOR = "mia.chen@harbourside.example"


TRUSTED_MTA = "mx.msp.example"  # tempodesk.yaml's mail.trusted_authserv_ids


def passed(sender: str) -> str:
    """What our MTA writes for mail whose From domain passed DMARC."""
    return f"{TRUSTED_MTA}; dkim=pass header.d={sender.rpartition('@')[2]}; dmarc=pass " \
           f"header.from={sender.rpartition('@')[2]}"


def mail(sender: str, subject: str, body: str, authenticated: bool = True,
         **headers: str) -> EmailMessage:
    """A message as our MTA hands it over: authenticated (Authentication-Results from the
    trusted MTA with dmarc=pass) unless told otherwise."""
    message = EmailMessage()
    if authenticated:
        message["Authentication-Results"] = passed(sender)
    message["From"] = sender
    message["To"] = "servicedesk@belton.example"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="harbourside.example")
    for name, value in headers.items():
        del message[name.replace("_", "-")]
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


@pytest.fixture
def mailroom(mailed_desk):
    return mailed_desk


async def post(desk, message: EmailMessage) -> dict:
    answer = await desk.http.post("/v1/email/inbound", content=bytes(message),
                                  headers=GATEWAY)
    assert answer.status_code == 202, answer.text
    return answer.json()


async def ticket(desk, ticket_id: str) -> dict:
    return (await desk.http.get(f"/v1/tickets/{ticket_id}",
                                headers=desk.as_("belton", "agent"))).json()


async def our_mail(mailbox, ticket_id: str, subject_part: str, to: str = ""):
    async def found():
        return [m for m in mailbox.about(ticket_id)
                if subject_part in m["Subject"] and to in str(m["To"])]
    return (await eventually(found, bool, timeout=30))[0]


async def test_mail_opens_a_ticket_threads_replies_and_ignores_automatic_mail(mailroom):
    desk, mailbox = mailroom
    first = mail(JO, "Printer on level 3 jams on every job", "It jams at the fuser.")
    opened = await post(desk, first)
    assert opened["action"] == "opened"
    ticket_id = opened["ticket_id"]
    again = await post(desk, first)  # the provider retried its hook
    assert again == {**opened, "detail": "the same message again: its ticket"}
    view = await ticket(desk, ticket_id)
    assert view["channel"] == "email" and view["technical_contact"] == JO

    ack = await our_mail(mailbox, ticket_id, "Logged")
    assert ack["Auto-Submitted"] == "auto-replied"
    reply = mail(JO, f"Re: {ack['Subject']}", "It also shows error E-203.",
                 In_Reply_To=ack["Message-ID"], References=ack["Message-ID"])
    replied = await post(desk, reply)
    assert replied == {"action": "replied", "ticket_id": ticket_id,
                       "detail": "added to the ticket", "sender_authenticated": True}
    await eventually(lambda: ticket(desk, ticket_id),
                     lambda v: any("E-203" in c["body"] for c in v["comments"]))

    resolved = await desk.http.post(f"/v1/tickets/{ticket_id}/transition", json={
        "to": "resolved", "reason": "fuser replaced"}, headers=desk.as_("belton", "agent"))
    assert resolved.status_code == 200
    thanks = mail(JO, f"Re: [{ticket_id}] Resolved", "Thanks heaps, all good now!\n\n"
                  "> Resolved - reply if it is not fixed")
    assert (await post(desk, thanks))["action"] == "replied"  # threaded by the subject
    view = await eventually(lambda: ticket(desk, ticket_id),
                            lambda v: any("Thanks heaps" in c["body"] for c in v["comments"]))
    assert view["status"] == "resolved"  # a bare thank-you does not reopen

    out_of_office = mail(JO, f"Automatic reply: [{ticket_id}] Resolved", "I am away.",
                         Auto_Submitted="auto-replied")
    bulk = mail(JO, "Newsletter", "Our news", Precedence="bulk")
    mailing_list = mail(JO, "Weekly digest", "This week", List_Id="<news.harbourside.example>")
    ours = mail("servicedesk@tempodesk.invalid", f"[{ticket_id}] Logged", "loop?",
                Auto_Submitted="auto-replied")
    stranger = mail("someone@gmail.example", "Help", "Is this the service desk?")
    for message in (out_of_office, bulk, mailing_list, ours):
        outcome = await post(desk, message)
        assert outcome["action"] == "ignored" and "automatic" in outcome["detail"]
    unknown = await post(desk, stranger)
    assert unknown["action"] == "ignored" and "not one of a client's people" in unknown[
        "detail"]
    listed = (await desk.http.get("/v1/tickets", headers=desk.as_("belton", "agent"))).json()
    assert [t["ticket_id"] for t in listed["tickets"]] == [ticket_id]  # nothing else opened
    view = await ticket(desk, ticket_id)
    assert len(view["comments"]) == 2


async def test_a_directors_approved_approves_and_anyone_elses_is_not_heard(mailroom):
    desk, mailbox = mailroom
    staff = desk.as_("belton", "agent")
    quote_body = {"title": "Meeting room display", "lines": [
        {"description": "75-inch display", "quantity": "1", "unit_price": "2400"}]}
    first = (await desk.http.post("/v1/quotes", json=quote_body, headers=staff)).json()
    second = (await desk.http.post("/v1/quotes", json={**quote_body, "title": "Spare display"},
                                   headers=staff)).json()
    to_director = await our_mail(mailbox, first["ticket_id"], "Quote for approval", DIRECTOR)
    # The director answers their own copy: it replies to their personal address.
    approved = mail(DIRECTOR, f"Re: {to_director['Subject']}",
                    "Approved\n\nMia\n\n> Quote for approval", In_Reply_To=to_director[
                        "Message-ID"], To=to_director["Reply-To"])
    outcome = await post(desk, approved)
    assert outcome["action"] == "decided" and outcome["ticket_id"] == first["ticket_id"]
    view = await eventually(lambda: ticket(desk, first["ticket_id"]),
                            lambda v: v["decision"] is not None)
    assert view["quote_state"] == "approved"
    assert view["decision"]["channel"] == "email"
    assert view["decision"]["director_email"] == DIRECTOR

    # The same words from a client's employee who is not a director: a quote is for its
    # directors (who may see which ticket), so the mail is not heard on it at all.
    not_a_director = mail(JO, f"Re: [{second['ticket_id']}] Quote for approval", "Approved")
    ignored = await post(desk, not_a_director)
    assert ignored["action"] == "ignored" and "director" in ignored["detail"]
    view = await ticket(desk, second["ticket_id"])
    assert view["quote_state"] == "sent" and view["decision"] is None
    assert view["comments"] == []


async def test_the_smtp_listener_takes_mail_from_a_real_smtp_client(mailroom):
    desk, _ = mailroom
    port = free_port()
    # This test's SMTP client on loopback plays the MSP's MTA: the listener's one relay.
    smtp = desk.config.mail.smtp.model_copy(update={"trusted_relays": ["127.0.0.1"]})
    relayed = desk.config.model_copy(update={"mail": desk.config.mail.model_copy(
        update={"smtp": smtp})})
    server = await serve_smtp(dataclasses.replace(desk.state, config=relayed), "127.0.0.1",
                              port)
    message = mail(JO, "VPN drops every 10 minutes", "Since this morning's update.")

    def send() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail(JO)
            smtp.rcpt("servicedesk@belton.example")
            return smtp.data(bytes(message))

    try:
        code, reply = await asyncio.to_thread(send)
    finally:
        server.close()
        await server.wait_closed()
    assert code == 250 and reply.decode().startswith("2.0.0 opened ")
    ticket_id = reply.decode().split()[-1]
    view = await ticket(desk, ticket_id)
    assert view["subject"] == "VPN drops every 10 minutes" and view["channel"] == "email"


async def test_a_client_escalates_by_api_and_by_mail_to_the_escalations_address(mailroom):
    desk, mailbox = mailroom
    opened = await post(desk, mail(JO, "Laptop still not repaired", "Third week now."))
    ticket_id = opened["ticket_id"]
    by_api = await desk.http.post(f"/v1/tickets/{ticket_id}/escalate", json={
        "reason": "Nobody has called back in three weeks"}, headers=desk.as_("belton", "hr"))
    assert by_api.status_code == 200, by_api.text
    assert by_api.json()["escalation_level"] == 1 and by_api.json()["client_escalations"] == 1
    rung = await our_mail(mailbox, ticket_id, "Escalated by the client")
    assert "lead@belton.example" in rung["To"]  # the ladder's first rung
    short = await desk.http.post(f"/v1/tickets/{ticket_id}/escalate", json={"reason": "bad"},
                                 headers=desk.as_("belton", "hr"))
    assert short.status_code == 422

    by_mail = mail(JO, f"Re: [{ticket_id}] Logged", "Still nothing: please escalate.",
                   To="escalations@msp.example")  # tempodesk.yaml's mail.escalations
    outcome = await post(desk, by_mail)
    assert outcome["action"] == "escalated"
    view = await ticket(desk, ticket_id)
    assert view["escalation_level"] == 2 and view["client_escalations"] == 2
    assert [e["by"] for e in view["events"] if e["kind"] == "client_escalation"] == [
        "hr:belton-hr", f"email:{JO}"]


async def test_the_tempodesk_smtp_command_takes_mail(mailroom):
    """The console script itself (its own Temporal client and state), not only the
    listener inside the test's process."""
    desk, _ = mailroom
    port = free_port()
    env = {**os.environ, "TEMPODESK_TEMPORAL_ADDRESS": desk.client.service_client.config
           .target_host, "TEMPODESK_TASK_QUEUE": desk.settings.task_queue,
           "TEMPODESK_INBOUND_SMTP_PORT": str(port),
           "TEMPODESK_SIGNING_SECRET": "smtp-command-test-" + "s" * 32}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "tempodesk"), "smtp", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert b"taking mail on" in line, line
        message = mail(JO, "Monitor flickers", "Since Monday.")

        def send() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                return smtp.sendmail(JO, ["servicedesk@belton.example"], bytes(message)) or (
                    250, b"")

        await asyncio.to_thread(send)
    finally:
        process.send_signal(signal.SIGTERM)
        said = await asyncio.wait_for(process.stdout.read(), timeout=30)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0, said.decode()
    async def incidents():
        return (await desk.client.count_workflows(
            f"TaskQueue = '{desk.settings.task_queue}' AND TicketKind = 'incident' "
            "AND ExecutionStatus != 'ContinuedAsNew'")).count

    assert await eventually(incidents, lambda n: n >= 1) == 1


async def test_attachments_are_kept_by_reference_and_size_is_limited(mailroom):
    desk, _ = mailroom
    photo = b"\x89PNG\r\n" + bytes(range(256)) * 40
    message = mail(JO, "Cracked screen on my laptop", "Photo attached.")
    message.add_attachment(photo, maintype="image", subtype="png", filename="screen.png")
    opened = await post(desk, message)
    described = await desk.client.get_workflow_handle(
        f"incident:{opened['ticket_id']}").describe()
    details = await described.static_details()  # the intake facts the Web UI shows
    digest = hashlib.sha256(photo).hexdigest()
    assert (f"- screen.png (image/png, {len(photo):,} bytes, sha256 {digest[:16]}…)"
            .replace("\n", " ") in details)
    assert "PNG" not in details  # the reference, not the bytes

    port = free_port()
    server = await serve_smtp(desk.state, "127.0.0.1", port)
    huge = mail(JO, "Logs", "All of them.")
    huge.add_attachment(b"x" * (MESSAGE_MAX_BYTES + 1), maintype="application",
                        subtype="octet-stream", filename="all.log")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.sendmail(JO, ["servicedesk@belton.example"], bytes(huge))

    try:
        # Refused at MAIL FROM when the client declares SIZE, else after DATA.
        with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
            await asyncio.to_thread(send)
    finally:
        server.close()
        await server.wait_closed()
    assert refused.value.smtp_code == 552  # too large: the sender's MTA tells the sender
