"""Which mail may act, without a server: the decision table (domain/mail_rules.py), the
sender's authentication (domain/sender_auth.py), the directors' reply addresses
(domain/reply_address.py), the ``mail:`` config block, and the parser's every failure
path (domain/email_inbound.py, fuzzed with hypothesis)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from desk.mail import incident_report, note_body
from domain.email_inbound import (
    ATTACHMENTS_MAX,
    MIME_DEPTH_MAX,
    MIME_PARTS_MAX,
    InboundMessage,
    MalformedMail,
    parse,
    parse_with_files,
)
from domain.ids import TicketKind
from domain.mail_config import MailConfig
from domain.mail_rules import MailAction, MailFacts, ThreadFacts, decide
from domain.reply_address import ReplyClaim, claim, reply_address
from domain.sender_auth import SenderVerdict, verdict
from domain.settings import Settings
from domain.tenants import ConfigError, load_config
from domain.tickets import CommentIn
from tests.conftest import DEMO_CONFIG

CONFIG = load_config(DEMO_CONFIG)
BELTON = CONFIG.client("belton")
MAIL = CONFIG.mail
DIRECTOR = "mia.chen@harbourside.example"
PERSON = "jo.tran@harbourside.example"
OTHER_CLIENTS_PERSON = "ana.ruiz@hudsonfreight.example"
STAFF = "sam@msp.example"
SECRET = "unit-test-secret-" + "x" * 32
NOW = datetime(2026, 12, 1, tzinfo=UTC)
PASS = SenderVerdict(authenticated=True, reason="dmarc=pass")
FAIL = SenderVerdict.failed("dmarc=fail for harbourside.example")


def message(sender: str = PERSON, text: str = "It is still broken.",
            to: tuple[str, ...] = ("servicedesk@belton.example",),
            automatic: str | None = None) -> InboundMessage:
    return InboundMessage(message_id="<m1@harbourside.example>", sender=sender,
                          subject="Re: [BEL-000301] Quote", text=text,
                          recipients=list(to), automatic=automatic)


def facts(msg: InboundMessage, judged: SenderVerdict, kind: TicketKind | None = None,
          reply: ReplyClaim | None = None, new_for=BELTON, contact: str | None = None,
          ) -> MailFacts:
    thread = None if kind is None else ThreadFacts(ticket_id="BEL-000301", kind=kind,
                                                   client=BELTON, contact=contact)
    return MailFacts(message=msg, verdict=judged, thread=thread, mail=MAIL,
                     client_for_new=None if thread else new_for,
                     msp_domains=CONFIG.msp_domains, own_address="servicedesk@tempodesk.invalid",
                     reply=reply or ReplyClaim(reason="not sent to the director's own reply "
                                               "address"))


OWN_REPLY = ReplyClaim(quote_id="BEL-000301", valid=True, reason="own")
OTHER_QUOTE = ReplyClaim(quote_id="BEL-000302", valid=True, reason="own")

# (what, facts, action, acknowledge, ask the director to confirm)
TABLE = [
    # Finding 1: a forged From approves a quote -> a note, and the director is asked.
    ("forged director approves", facts(message(DIRECTOR, "Approved"), FAIL, TicketKind.QUOTE,
                                       OWN_REPLY), MailAction.NOTE, False, DIRECTOR),
    ("authenticated director, not to own address", facts(
        message(DIRECTOR, "Approved"), PASS, TicketKind.QUOTE), MailAction.NOTE, False, DIRECTOR),
    ("authenticated director, address of another quote", facts(
        message(DIRECTOR, "Approved"), PASS, TicketKind.QUOTE, OTHER_QUOTE),
     MailAction.NOTE, False, DIRECTOR),
    ("authenticated director to own address", facts(
        message(DIRECTOR, "Approved"), PASS, TicketKind.QUOTE, OWN_REPLY),
     MailAction.DECIDE, False, None),
    # A quote is for its directors: anyone else's mail on it is not heard (who may see it).
    ("authenticated non-director approves", facts(
        message(PERSON, "Approved"), PASS, TicketKind.QUOTE, OWN_REPLY),
     MailAction.IGNORE, False, None),
    # Mail follows who may see which ticket (the outside review of issue 18).
    ("a person of the client replies on an exit", facts(
        message(PERSON), PASS, TicketKind.OFFBOARDING), MailAction.IGNORE, False, None),
    ("a person of the client escalates a joiner", facts(
        message(to=("escalations@msp.example",)), PASS, TicketKind.ONBOARDING),
     MailAction.IGNORE, False, None),
    ("the exit's contact (the manager) replies", facts(
        message(PERSON), PASS, TicketKind.OFFBOARDING, contact=PERSON),
     MailAction.REPLY, False, None),
    ("the quote's own contact, not a director, approves", facts(
        message(PERSON, "Approved"), PASS, TicketKind.QUOTE, OWN_REPLY, contact=PERSON),
     MailAction.NOTE, False, None),
    ("a director replies on a joiner", facts(
        message(DIRECTOR), PASS, TicketKind.ONBOARDING), MailAction.COMMENT, False, None),
    ("a director replies on a quote", facts(
        message(DIRECTOR), PASS, TicketKind.QUOTE), MailAction.REPLY, False, None),
    # Finding 2: escalations only at the configured address, only authenticated.
    ("escalations at another domain", facts(
        message(to=("escalations@evil.example",)), PASS, TicketKind.INCIDENT, contact=PERSON),
     MailAction.REPLY, False, None),
    ("escalations, authenticated", facts(
        message(to=("escalations@msp.example",)), PASS, TicketKind.INCIDENT),
     MailAction.ESCALATE, False, None),
    ("escalations, forged", facts(
        message(to=("escalations@msp.example",)), FAIL, TicketKind.INCIDENT),
     MailAction.NOTE, False, None),
    # Finding 2: a forged MSP sender is no staff comment.
    ("forged MSP staff", facts(message(STAFF), FAIL, TicketKind.INCIDENT),
     MailAction.IGNORE, False, None),
    ("authenticated MSP staff", facts(message(STAFF), PASS, TicketKind.INCIDENT),
     MailAction.STAFF_NOTE, False, None),
    ("another client's person on the thread", facts(
        message(OTHER_CLIENTS_PERSON), PASS, TicketKind.INCIDENT), MailAction.IGNORE, False, None),
    ("a stranger on the thread", facts(message("x@gmail.example"), PASS, TicketKind.INCIDENT),
     MailAction.IGNORE, False, None),
    ("requester reply, authenticated", facts(message(), PASS, TicketKind.INCIDENT,
                                             contact=PERSON), MailAction.REPLY, False, None),
    # Only the ticket's own people reply as its requester (the outside tester's finding 1).
    ("another of the client's people replies, authenticated", facts(
        message("eve.intern@harbourside.example"), PASS, TicketKind.INCIDENT, contact=PERSON),
     MailAction.COMMENT, False, None),
    ("a director replies on an incident not theirs", facts(
        message(DIRECTOR), PASS, TicketKind.INCIDENT, contact=PERSON),
     MailAction.COMMENT, False, None),
    ("requester reply, forged", facts(message(), FAIL, TicketKind.INCIDENT),
     MailAction.NOTE, False, None),
    # Finding 2 (backscatter): new mail opens a ticket, acknowledged only if authenticated.
    ("new mail, authenticated", facts(message(), PASS), MailAction.OPEN, True, None),
    ("new mail, forged", facts(message(), FAIL), MailAction.OPEN, False, None),
    ("new mail from nobody's people", facts(message("x@gmail.example"), PASS, new_for=None),
     MailAction.IGNORE, False, None),
    ("automatic mail", facts(message(automatic="Auto-Submitted: auto-replied"), PASS,
                             TicketKind.INCIDENT), MailAction.IGNORE, False, None),
    ("our own mail", facts(message("servicedesk@tempodesk.invalid"), PASS), MailAction.IGNORE,
     False, None),
]


@pytest.mark.parametrize(("what", "given", "action", "acknowledge", "confirm"), TABLE,
                         ids=[row[0] for row in TABLE])
def test_what_a_message_may_do(what, given, action, acknowledge, confirm):
    decision = decide(given)
    assert (decision.action, decision.acknowledge, decision.confirm_director) == (
        action, acknowledge, confirm), decision.reason
    assert decision.reason


def test_a_note_says_why():
    forged = decide(TABLE[0][1])
    assert "sender not authenticated (dmarc=fail for harbourside.example)" in forged.reason
    assert "link to confirm" in forged.reason
    wrong = decide(TABLE[2][1])
    assert "for BEL-000302, not BEL-000301" in wrong.reason


# ---------------------------------------------------------------- sender authentication

DOMAIN = "harbourside.example"
TRUSTED = ["mx.msp.example"]

VERDICTS = [
    # The finding's own header: the MTA said fail.
    (["mx.msp.example; spf=fail smtp.mailfrom=evil.example; dkim=none; dmarc=fail "
      "header.from=harbourside.example"], False, "dmarc=fail"),
    (["mx.msp.example 1; dkim=pass header.d=harbourside.example; dmarc=pass (p=reject) "
      "header.from=harbourside.example"], True, "dmarc=pass"),
    # Anyone can write a header: only the trusted authserv-id counts.
    (["evil.example; dmarc=pass header.from=harbourside.example"], False, "no Authentication"),
    (["mx.msp.example.evil.example; dmarc=pass header.from=harbourside.example"], False,
     "no Authentication"),
    # A forged pass below the MTA's real fail (an MTA that does not strip) does not win.
    (["mx.msp.example; dmarc=fail header.from=harbourside.example",
      "mx.msp.example; dmarc=pass header.from=harbourside.example"], False, "dmarc=fail"),
    # DMARC for another domain says nothing about this one.
    (["mx.msp.example; dmarc=pass header.from=evil.example"], False, "judged From 'evil.example'"),
    # Aligned DKIM: the From domain or a parent of it signed.
    (["mx.msp.example; dkim=pass header.d=harbourside.example"], True, "dkim=pass"),
    (["mx.msp.example; dkim=pass header.i=@harbourside.example"], True, "dkim=pass"),
    (["mx.msp.example; dkim=pass header.d=evilharbourside.example"], False, "no dmarc=pass"),
    (["mx.msp.example; dkim=pass header.d=example"], False, "no dmarc=pass"),
    (["mx.msp.example; dkim=fail header.d=harbourside.example"], False, "no dmarc=pass"),
    (["mx.msp.example; dmarc=none header.from=harbourside.example"], False, "dmarc=none"),
    # Unreadable headers prove nothing.
    (["mx.msp.example; dmarc"], False, "no Authentication"),
    (["mx.msp.example; dkim=pass (" + "(" * 3000], False, "no Authentication"),
    ([], False, "no Authentication"),
]


@pytest.mark.parametrize(("headers", "authenticated", "reason"), VERDICTS)
def test_only_a_trusted_servers_dmarc_or_aligned_dkim_pass_authenticates(headers,
                                                                         authenticated, reason):
    judged = verdict(headers, f"mia.chen@{DOMAIN}", 1, TRUSTED)
    assert judged.authenticated is authenticated and reason in judged.reason, judged


def test_a_subdomain_sender_aligns_with_its_parents_signature():
    assert verdict(["mx.msp.example; dkim=pass header.d=harbourside.example"],
                   "mia@mail.harbourside.example", 1, TRUSTED).authenticated


def test_nothing_authenticates_without_a_trusted_id_or_with_two_senders():
    good = ["mx.msp.example; dmarc=pass header.from=harbourside.example"]
    assert "no trusted authserv-id" in verdict(good, f"mia@{DOMAIN}", 1, []).reason
    assert "exactly one sender" in verdict(good, f"mia@{DOMAIN}", 2, TRUSTED).reason


def test_the_parser_reads_the_authentication_results_and_every_from():
    raw = (b"Authentication-Results: mx.msp.example; dmarc=pass header.from=harbourside.example\r\n"
           b"From: Mia <mia.chen@harbourside.example>, boss@evil.example\r\n"
           b"Subject: Approved\r\n\r\nApproved\r\n")
    read = parse(raw)
    assert read.auth_results == ["mx.msp.example; dmarc=pass header.from=harbourside.example"]
    assert read.senders_named == 2  # so never authenticated
    assert not verdict(read.auth_results, read.sender, read.senders_named, TRUSTED).authenticated


# ---------------------------------------------------------------- reply addresses

def test_a_reply_address_works_for_its_director_and_quote_only():
    valid_until = NOW + timedelta(days=14)
    address = reply_address(SECRET, "approvals@msp.example", "BEL-000301", DIRECTOR,
                            valid_until)
    assert len(address.partition("@")[0]) <= 64  # RFC 5321's limit on a local part
    assert address.startswith("approvals+BEL-000301.") and address.endswith("@msp.example")
    ok = claim(SECRET, "approvals@msp.example", ["x@y.example", address.upper()], DIRECTOR, NOW)
    assert ok.valid and ok.quote_id == "BEL-000301"
    other = claim(SECRET, "approvals@msp.example", [address], "tom.walsh@harbourside.example",
                  NOW)
    assert not other.valid and "not this sender's own" in other.reason
    late = claim(SECRET, "approvals@msp.example", [address], DIRECTOR, valid_until
                 + timedelta(seconds=1))
    assert not late.valid and "expired" in late.reason
    forged = address.replace("BEL-000301", "BEL-000302")
    assert not claim(SECRET, "approvals@msp.example", [forged], DIRECTOR, NOW).valid
    elsewhere = address.replace("@msp.example", "@evil.example")
    assert claim(SECRET, "approvals@msp.example", [elsewhere], DIRECTOR, NOW).quote_id is None
    assert not claim("another-secret", "approvals@msp.example", [address], DIRECTOR, NOW).valid
    assert "not configured" in claim(SECRET, None, [address], DIRECTOR, NOW).reason


# ---------------------------------------------------------------- configuration

def test_the_demo_config_trusts_its_mta_and_names_full_addresses():
    assert MAIL.trusted_authserv_ids == ["mx.msp.example"]
    assert (MAIL.escalations, MAIL.approvals) == ("escalations@msp.example",
                                                  "approvals@msp.example")


def test_escalations_and_approvals_must_be_full_addresses_at_the_msps_domain(tmp_path):
    base = textwrap.dedent("""\
        clients:
          - {id: acme, name: Acme, ticket_prefix: ACM, sla: {preset: belton}}
        msp_domains: [msp.example]
        """)
    for mail, expected in [
            ("{escalations: escalations}", "is not a full e-mail address"),
            ("{escalations: escalations@evil.example}", "is not at one of msp_domains"),
            ("{approvals: approvals+x@msp.example}", "leave '+' out"),
            ("{trusted_authserv_ids: ['mx msp']}", "is not an authserv-id"),
            ("{smtp: {per_ip: lots}}", "is not a rate")]:
        path = tmp_path / "tempodesk.yaml"
        path.write_text(base + f"mail: {mail}\n")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert expected in " ".join(info.value.problems), (mail, info.value.problems)
    path.write_text(base)
    assert load_config(path).mail == MailConfig()  # nothing trusted: nothing acts by mail


def test_the_old_escalations_setting_is_refused_with_the_fix(monkeypatch):
    monkeypatch.setenv("TEMPODESK_ESCALATIONS_MAILBOX", "escalations")
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)
    assert "mail: {escalations: escalations@<one of msp_domains>}" in str(info.value)


# ---------------------------------------------------------------- the parser

def nested(depth: int, kind: str = "multipart") -> bytes:
    head = b"From: jo.tran@harbourside.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    body = b""
    for level in range(depth):
        if kind == "multipart":
            body += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (
                level, level)
        else:
            body += b"Content-Type: message/rfc822\r\n\r\n"
    body += b"Content-Type: text/plain\r\n\r\nhello\r\n"
    if kind == "multipart":
        body += b"".join(b"--b%d--\r\n" % level for level in reversed(range(depth)))
    return head + body


@pytest.mark.parametrize("kind", ["multipart", "rfc822"])
def test_deep_or_wide_mime_is_refused_with_the_reason(kind):
    shallow = parse(nested(MIME_DEPTH_MAX - 1, kind))  # an attached message is not the text
    assert shallow.text == ("hello" if kind == "multipart" else "")
    with pytest.raises(MalformedMail, match="nested more than"):
        parse(nested(MIME_DEPTH_MAX + 1, kind))
    with pytest.raises(MalformedMail, match=f"more than {MIME_PARTS_MAX} MIME parts"):
        parse(nested(3000, kind))  # the finding: 3,000 deep was a RecursionError
    wide = EmailMessage()
    wide["From"] = PERSON
    wide.set_content("many")
    for index in range(MIME_PARTS_MAX + 1):
        wide.add_attachment(b"x", maintype="application", subtype="octet-stream",
                            filename=f"{index}.bin")
    with pytest.raises(MalformedMail, match="MIME parts"):
        parse(bytes(wide))


def files_message(count: int) -> bytes:
    message = EmailMessage()
    message["From"] = PERSON
    message.set_content("the logs")
    for index in range(count):
        message.add_attachment(b"log %d" % index, maintype="application",
                               subtype="octet-stream", filename=f"{index}.log")
    return bytes(message)


def test_more_files_than_a_message_may_carry_are_refused_never_cut():
    """The sender is told (554 with the reason) instead of the files past the cap being
    dropped without a word (outside review: 60 files kept 20, answered 250)."""
    _, files = parse_with_files(files_message(ATTACHMENTS_MAX))
    assert len(files) == ATTACHMENTS_MAX
    with pytest.raises(MalformedMail, match=f"more than {ATTACHMENTS_MAX} files"):
        parse_with_files(files_message(ATTACHMENTS_MAX + 1))


def test_unknown_charsets_read_with_replacement_and_controls_are_stripped():
    raw = (b"From: =?x-unknown?q?Jo?= <jo.tran@harbourside.example>\r\n"
           b"Subject: VPN\x00 down\x1b[31m =?x-klingon?q?now?=\r\n"
           b"Content-Type: text/plain; charset=x-klingon\r\n\r\nIt \xff\xfe fails\x00\x07.\r\n")
    read = parse(raw)
    assert read.subject == "VPN down[31m now" and read.text == "It \ufffd\ufffd fails."
    assert read.sender == PERSON


def test_a_message_id_with_other_content_has_another_digest():
    first = parse(b"From: jo.tran@harbourside.example\r\nMessage-ID: <same@x>\r\n\r\nA\r\n")
    second = parse(b"From: jo.tran@harbourside.example\r\nMessage-ID: <same@x>\r\n\r\nB\r\n")
    again = parse(b"Received: by relay2\r\nFrom: jo.tran@harbourside.example\r\n"
                  b"Message-ID: <same@x>\r\n\r\nA\r\n")
    assert first.message_id == second.message_id
    assert first.content_digest != second.content_digest
    assert first.content_digest == again.content_digest  # a relayed retry: the same


LINES = st.sampled_from([
    b"From: jo.tran@harbourside.example", b"From: <>", b"From: a@b, c@d", b"From: \"x\" <",
    b"Subject: =?utf-8?b?AAAA?=", b"Subject: =?x-nope?q?=FF?=", b"Subject: \x00\x1b\x7f",
    b"Content-Type: multipart/mixed; boundary=b", b"Content-Type: multipart/mixed",
    b"Content-Type: message/rfc822", b"Content-Type: text/plain; charset=x-unknown",
    b"Content-Type: text/html; charset=\"utf-7\"", b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable", b"Content-Disposition: attachment; "
    b"filename*=x-bad''%FF", b"--b", b"--b--", b"", b"In-Reply-To: <<<>>>",
    b"References: " + b"<a@b> " * 10, b"Message-ID: \x00<x@y>", b"To: ,,,@,<>",
    b"Authentication-Results: mx.msp.example; dmarc=pass (((", b"=?=?=?", b"\xff\xfe\x00",
    b"Auto-Submitted: \x00", b"Return-Path: <>", b"From: a\x01b@harbourside.example",
    b"From: =?utf-8?q?J=00o?= <jo\x7f@harbourside.example>", b"Subject: \t\x85x",
    b"Content-Disposition: attachment; filename=\"a\x00\nb.txt\""])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(LINES, st.binary(max_size=40)), max_size=40))
def test_any_message_parses_or_is_malformed_never_anything_else(lines):
    raw = b"\r\n".join(lines)
    try:
        read = parse(raw)
    except MalformedMail as refused:
        assert refused.reason
        return
    assert "\x00" not in read.subject + read.text + read.sender_name
    assert len(read.subject) <= 200 and "\n" not in read.subject
    verdict(read.auth_results, read.sender, read.senders_named, TRUSTED)  # never raises
    if read.sender:  # what the intake makes of it validates (no endless 451, no 500)
        incident_report(read, "belton")
        CommentIn(body=note_body("sender not authenticated", read), by=f"email:{read.sender}")


def test_a_from_read_two_ways_is_never_authenticated():
    """``jo@client <attacker@evil>``: the parser repairs it to jo@client, a DMARC checker
    reads attacker@evil. Such a sender is never authenticated, and a trusted server's
    DMARC result about another From domain vetoes whatever else is said."""
    raw = (b"Authentication-Results: mx.msp.example; dmarc=pass header.from=evil.example\r\n"
           b"Authentication-Results: mx.msp.example(x); dmarc=pass "
           b"header.from=harbourside.example\r\n"
           b"From: jo.tran@harbourside.example <attacker@evil.example>\r\n"
           b"To: escalations@msp.example\r\nSubject: Re: [BEL-000002] Printer\r\n\r\nNow!\r\n")
    read = parse(raw)
    assert read.senders_named == 0
    judged = verdict(read.auth_results, read.sender, read.senders_named, MAIL.trusted_authserv_ids)
    assert not judged.authenticated
    # Even were the From read one way only, the server judged evil.example: no.
    mismatch = verdict(read.auth_results, "jo.tran@harbourside.example", 1,
                       MAIL.trusted_authserv_ids)
    assert not mismatch.authenticated and "evil.example" in mismatch.reason
    # An unambiguous display name with a period (obsolete syntax) is still one sender.
    plain = parse(b"From: J. R. Tran <jo.tran@harbourside.example>\r\nSubject: x\r\n\r\nhi")
    assert plain.senders_named == 1


def test_a_leavers_own_mailbox_is_theirs_whatever_its_spelling():
    from domain.offboarding import ExitForm, is_the_leaver

    form = ExitForm.model_validate({
        "employee": {"name": "Sam Lee", "email": "sam.lee@harbourside.example"},
        "user_principal_name": "sam.lee@harbourside.example",
        "last_working_day": "2026-12-04"})
    for spelled in ("Sam.Lee+hr@harbourside.example", "sam.lee@harbourside.example.",
                    "SAM.LEE@HARBOURSIDE.EXAMPLE"):
        assert is_the_leaver(form, spelled), spelled
    assert not is_the_leaver(form, "sam.leeds@harbourside.example")
