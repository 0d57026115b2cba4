"""Words for people (issue 19): instants in the client's zone with its abbreviation, only
the facts that apply to a notice's kind, the ticket's link and the MSP's name and terms in
every mail - composed without a server (domain/words.py, domain/mail_words.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activities.notifications import letterhead, render_body
from domain.documents.quote import document_pdf
from domain.links import TICKET_PATH, ticket_link
from domain.msp import MspConfig, document_lines
from domain.notifications import Invite, Notice
from domain.quote_lines import ApprovalLink, QuoteDocument, QuoteDraft, totals, valid_until
from domain.quotes import Channel, DecisionRecord, decision_facts
from domain.tenants import ConfigError, load_config
from domain.words import local_time_text, time_for_reader
from tests.conftest import DEMO_CONFIG, REPO
from tests.documents.pdf_text import pdf_text

MELBOURNE = "Australia/Melbourne"
PUBLIC = "https://desk.msp.example"
CONFIG = load_config(DEMO_CONFIG)
DIRECTOR_MAIL = "mia.chen@harbourside.example"
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# "Label:" with nothing after it (a label is a few words; a sentence may end in a colon).
EMPTY_LABEL = re.compile(r"^[A-Z][\w()/.-]*(?: [\w()/.-]+){0,3}:[ \t]*$", re.M)


# ------------------------------------------------------------------ instants


def test_an_instant_reads_in_the_clients_zone_with_its_abbreviation():
    due = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
    assert local_time_text(due, MELBOURNE) == "Mon 7 Dec 2026, 5:30 pm AEDT"
    # Winter in Melbourne is AEST; New York's EST; midnight and noon in 12-hour words.
    assert local_time_text(datetime(2026, 6, 1, 2, 0, tzinfo=UTC), MELBOURNE) == \
        "Mon 1 Jun 2026, 12:00 pm AEST"
    assert local_time_text(datetime(2026, 12, 7, 5, 0, tzinfo=UTC), "America/New_York") == \
        "Mon 7 Dec 2026, 12:00 am EST"
    # A zone the tz database names by offset only is written as one from UTC.
    assert local_time_text(due, "Asia/Kathmandu") == "Mon 7 Dec 2026, 12:15 pm UTC+05:45"
    with pytest.raises(ValueError):
        local_time_text(datetime(2026, 12, 7, 6, 30), MELBOURNE)


def test_the_readers_own_zone_is_added_where_it_differs():
    due = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
    assert time_for_reader(due, MELBOURNE, "Australia/Perth") == \
        "Mon 7 Dec 2026, 5:30 pm AEDT (2:30 pm AWST your time)"
    assert time_for_reader(due, MELBOURNE, "America/New_York") == \
        "Mon 7 Dec 2026, 5:30 pm AEDT (1:30 am EST your time)"
    noon = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # the day before in New York: said
    assert time_for_reader(noon, MELBOURNE, "America/New_York") == \
        "Mon 7 Dec 2026, 12:00 pm AEDT (Sun 6 Dec 2026, 8:00 pm EST your time)"
    assert time_for_reader(due, MELBOURNE, "Australia/Hobart") == \
        "Mon 7 Dec 2026, 5:30 pm AEDT"  # the same clock: said once
    assert time_for_reader(due, MELBOURNE) == "Mon 7 Dec 2026, 5:30 pm AEDT"


# ------------------------------------------------------------------ every notice, composed


def _produced_events() -> set[str]:
    """Every notice event the workflows can produce, read from their source, so a new event
    without a walk below fails this file."""
    found = set()
    for path in (REPO / "workflows").glob("*.py"):
        text = path.read_text()
        found |= set(re.findall(r'(?:_notify|queue_notice)\(\s*"([a-z_]+)"', text))
        found |= set(re.findall(r'_send_to_directors\(\s*"([a-z_]+)"', text))
        if 'f"ticket_{request.to.value}"' in text:
            found |= {"ticket_pending", "ticket_resolved"}
    return found


OPENED = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)


def _document() -> QuoteDocument:
    draft = QuoteDraft(title="Client portal: matter status page", lines=[
        {"description": "Development", "quantity": "80", "unit_price": "150"}])
    return QuoteDocument(quote_id="BEL-000042", draft=draft, totals=totals(draft),
                         client_name="Harbourside Legal", issued_at=OPENED,
                         valid_until=valid_until(OPENED, MELBOURNE), zone=MELBOURNE,
                         msp=document_lines(CONFIG.msp))


def _notice(kind: str, event: str, status: str = "new", **extra) -> Notice:
    """A notice as TicketWorkflow._notify builds it: every core context key, unset ones None."""
    ticket = "BEL-000042"
    context = {"priority": "P2", "subject": "Whole office cannot send e-mail",
               "status": status, "response_due": "2026-12-07T06:30:00+00:00",
               "resolution_due": None if kind in ("onboarding", "offboarding")
               else "2026-12-08T03:30:00+00:00", "escalation_level": 0}
    if kind == "postmortem":
        context = {"due_at": "2026-12-18T06:30:00+00:00"}
    return Notice(notice_id=f"{kind}:{ticket}:3:{event}", client_id="belton", ticket_id=ticket,
                  occurred_at=OPENED, event=event, subject=f"About {ticket}",
                  recipients=["jo.tran@harbourside.example"], context=context, **extra)


def _decided(approve: bool) -> Notice:
    """A quote's resolution notice as QuoteWorkflow words it (domain.quotes.decision_facts)."""
    record = DecisionRecord(approve=approve, reason="" if approve else "over budget",
                            by="director:bel-director", director_email=DIRECTOR_MAIL,
                            channel=Channel.LINK, ip="127.0.0.1", at=OPENED, pdf_sha256="0")
    notice = _notice("quote", "quote_decided", "resolved")
    return notice.model_copy(update={"context": {
        **notice.context, **decision_facts(record, "system", OPENED, "")}})


def _walk() -> list[tuple[str, Notice]]:
    """One notice of every event, on each kind that sends it, as the workflows send them."""
    approval = ApprovalLink(quote_id="BEL-000042", director_email="mia.chen@harbourside.example",
                            expires_at=OPENED + timedelta(days=14))
    invite = Invite(uid="induction-BEL-000042", starts_at=OPENED + timedelta(days=3),
                    minutes=30, summary="Security induction")
    walk = []
    for kind in ("incident", "service_request", "onboarding", "offboarding", "quote"):
        for event in ("ticket_opened", "sla_warning", "sla_breached", "escalated",
                      "client_escalation", "reopened", "ticket_pending", "ticket_resolved"):
            walk.append((event, _notice(kind, event)))
        walk.append(("ticket_closed", _notice(kind, "ticket_closed", "closed",
                                              survey_expires_at=OPENED + timedelta(days=14))))
    walk.append(("escalated", _notice("incident", "escalated", "in_progress")
                 .model_copy(update={"context": {**_notice("incident", "x").context,
                                                 "escalation_level": 2}})))
    for event in ("quote_sent", "quote_reminder"):
        walk.append((event, _notice("quote", event, document=_document(), approval=approval)))
    walk += [("quote_confirm", _notice("quote", "quote_confirm", approval=approval)),
             ("order_failed", _notice("quote", "order_failed", "new")),
             ("order_failed", _notice("quote", "order_failed", "resolved",
                                      document=_document())),
             ("quote_decided", _decided(approve=True)), ("quote_decided", _decided(False)),
             ("quote_ordered", _notice("quote", "quote_ordered", "new"))]
    walk += [(e, _notice("onboarding", e, "in_progress"))
             for e in ("account_confirmation", "mfa_reminder", "mfa_overdue",
                       "provider_step_failed", "provider_failing", "provider_recovered")]
    walk.append(("induction_invite", _notice("onboarding", "induction_invite", invite=invite)))
    walk += [(e, _notice("offboarding", e, "in_progress"))
             for e in ("access_revoked", "provider_step_failed", "provider_failing",
                       "provider_recovered")]
    walk += [(e, _notice("postmortem", e)) for e in ("post_mortem_opened",
                                                     "post_mortem_overdue")]
    return walk


def _bodies(notice: Notice) -> list[str]:
    """The text each reader gets: the link holder's own mail and the desk's copy."""
    head = letterhead(notice, CONFIG, PUBLIC)
    plain = render_body(notice, head)
    linked = notice.model_copy(update={"context": {
        **notice.context, "approval_url": f"{PUBLIC}/v1/quotes/BEL-000042/review?token=t",
        "survey_url": f"{PUBLIC}/v1/surveys/t"}})
    copy = notice.model_copy(update={"context": {**notice.context,
                                                 "personal_link": "sent to x@y.example only"}})
    return [plain, render_body(linked, head), render_body(copy, head)]


def test_the_walk_covers_every_event_the_workflows_produce():
    assert _produced_events() - {event for event, _ in _walk()} == set()


@pytest.mark.parametrize(("event", "notice"), _walk(),
                         ids=[f"{n.notice_id.partition(':')[0]}-{e}" for e, n in _walk()])
def test_no_notice_shows_none_an_empty_field_or_a_raw_timestamp(event, notice):
    link = ticket_link(PUBLIC, notice.ticket_id)
    for body in _bodies(notice):
        assert "None" not in body, body
        assert not EMPTY_LABEL.findall(body), body
        assert not ISO_INSTANT.search(body), body
        assert link in body, body  # every mail links to its ticket
        assert "Southbank Managed IT" in body and "payable within 14 days" in body, body
        assert "contract" not in body.lower(), body  # internal wording stays inside


def test_an_incidents_acknowledgement_reads_its_due_time_in_the_clients_zone():
    body = render_body(_notice("incident", "ticket_opened"),
                       letterhead(_notice("incident", "x"), CONFIG, PUBLIC))
    assert "We have logged your request as BEL-000042 (P2)." in body
    assert "We will respond by Mon 7 Dec 2026, 5:30 pm AEDT." in body
    assert "Resolution due: Tue 8 Dec 2026, 2:30 pm AEDT." in body


def test_a_quote_mail_shows_the_quote_not_the_sla_fields():
    notice = _notice("quote", "quote_sent", document=_document())
    body = render_body(notice, letterhead(notice, CONFIG, PUBLIC))
    for absent in ("Response due", "Escalation level", "Priority", "Resolution due"):
        assert absent not in body, body
    assert "Total (incl. tax): AUD 13,200.00" in body
    assert "Valid until: the end of Fri 18 Dec 2026 (AEDT)" in body
    assert "Southbank Managed IT has sent Harbourside Legal a quote" in body
    assert "Quotes are valid for 14 days" in body


def test_the_escalation_level_shows_only_on_the_ladder_and_only_once_climbed():
    climbed = _notice("incident", "escalated").model_copy(update={"context": {
        **_notice("incident", "x").context, "escalation_level": 2}})
    head = letterhead(climbed, CONFIG, PUBLIC)
    assert "Escalation level: 2" in render_body(climbed, head)
    assert "Escalation level" not in render_body(_notice("incident", "escalated"), head)
    warned = climbed.model_copy(update={"event": "sla_warning"})
    assert "Escalation level" not in render_body(warned, head)


def test_the_ticket_link_is_built_in_one_place():
    assert ticket_link("https://desk.example/", "BEL-000042") == \
        "https://desk.example" + TICKET_PATH.format(ticket_id="BEL-000042")


# ------------------------------------------------------------------ the MSP on documents


def test_the_quote_pdf_carries_the_msps_name_contact_and_terms():
    text = pdf_text(document_pdf(_document()))
    assert "Southbank Managed IT" in text
    assert "Level 3, 120 Collins Street" in text
    assert "Invoices are payable within 14 days." in text
    # A quote issued before documents carried the MSP renders as it did then.
    old = _document().model_copy(update={"msp": None})
    assert "Southbank" not in pdf_text(document_pdf(old))


def _config_with(tmp_path: Path, msp: str) -> Path:
    text = DEMO_CONFIG.read_text()
    start = text.index("msp:\n")
    end = text.index("clients:\n")
    path = tmp_path / "tempodesk.yaml"
    path.write_text(text[:start] + msp + text[end:])
    return path


def test_config_check_names_each_bad_msp_field_and_the_fix(tmp_path: Path):
    script = tmp_path / "logo.svg"
    script.write_text("<svg onload='alert(1)'/>")
    with pytest.raises(ConfigError) as bad:
        load_config(_config_with(tmp_path, f"msp:\n  name: ''\n  logo_file: {script}\n"
                                 "  website: msp.example\n"))
    problems = "\n".join(bad.value.problems)
    assert "msp.name" in problems
    assert "msp.logo_file" in problems and "not a PNG or JPEG" in problems
    assert "msp.website" in problems and "https://" in problems
    png = tmp_path / "logo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    with pytest.raises(ConfigError) as both:
        load_config(_config_with(tmp_path, f"msp:\n  logo_file: {png}\n"
                                 "  logo_url: https://cdn.example/logo.png\n"))
    assert "not both" in "\n".join(both.value.problems)
    good = load_config(_config_with(tmp_path, f"msp:\n  name: Acme IT\n  logo_file: {png}\n"))
    assert good.msp.logo_src("https://desk.example") == "https://desk.example/brand/logo"


def test_a_config_without_an_msp_block_still_loads():
    assert MspConfig().name == "Tempodesk" and MspConfig().terms_text() is None


def test_the_demo_clients_names_carry_no_internal_wording():
    assert all("contract" not in c.name.lower() for c in CONFIG.clients)


def test_pages_allow_images_only_from_the_app_and_the_logos_own_origin():
    from api.pages import PAGE_POLICY, page_policy

    msp = MspConfig(logo_url="https://cdn.msp.example/brand/logo.png")
    policy = page_policy(tuple(msp.image_origins()))
    assert "img-src 'self' data: https://cdn.msp.example;" in policy
    assert policy.replace(" https://cdn.msp.example", "") == PAGE_POLICY  # nothing else
    assert "script-src 'self';" in policy
    assert page_policy(tuple(MspConfig().image_origins())) == PAGE_POLICY


def test_the_qbr_report_and_its_mail_carry_the_msp():
    from bench.qbr_example import example_figures
    from domain.documents.qbr import qbr_html, qbr_pdf
    from domain.mail_words import qbr_mail_text

    figures = example_figures()
    lines = document_lines(CONFIG.msp)
    text = pdf_text(qbr_pdf(figures, msp=lines))
    assert "Southbank Managed IT" in text and "Level 3, 120 Collins Street" in text
    assert "Invoices are payable within 14 days." in text
    html = qbr_html(figures, msp=lines, logo_src="https://desk.example/brand/logo")
    assert "Southbank Managed IT" in html and "Invoices are payable within 14 days." in html
    assert '<img src="https://desk.example/brand/logo"' in html
    mail = qbr_mail_text("Hudson Freight", "2027-Q1", "https://desk.example/q", CONFIG.msp)
    assert "from Southbank Managed IT" in mail and "Full terms:" in mail


def test_the_nps_invitation_says_until_when_in_the_clients_zone():
    from domain.mail_words import nps_invite_text

    closes = datetime(2026, 9, 14, 23, 0, tzinfo=UTC)
    text = nps_invite_text("Ana Ruiz", "Hudson Freight", "https://desk.example/v1/surveys/nps/t",
                           closes, "America/New_York", CONFIG.msp)
    assert "it works until Mon 14 Sep 2026, 7:00 pm EDT and only for you" in text
    assert "recommend Southbank Managed IT to a colleague of Hudson Freight" in text
    assert not ISO_INSTANT.search(text) and "None" not in text


def test_chat_cards_are_worded_as_mail_and_link_the_ticket():
    from activities.notifications import webhook_payload
    from domain.tenants import Webhook

    notice = _notice("quote", "quote_sent", document=_document())
    head = letterhead(notice, CONFIG, PUBLIC)
    slack = webhook_payload(notice, Webhook(url="https://x", secret="s", format="slack"), head)
    line = slack["blocks"][1]["elements"][0]["text"]
    assert "Valid until: the end of Fri 18 Dec 2026 (AEDT)" in line
    assert f"Ticket: {PUBLIC}/v1/tickets/BEL-000042" in line
    assert "None" not in line and "Escalation" not in line and not ISO_INSTANT.search(line)
    teams = webhook_payload(_notice("incident", "sla_warning"),
                            Webhook(url="https://x", secret="s", format="teams"), head)
    facts = teams["attachments"][0]["content"]["body"][1]["facts"]
    assert {"title": "First response due", "value": "Mon 7 Dec 2026, 5:30 pm AEDT"} in facts
    # Our own JSON event is for machines: the raw values stay.
    raw = webhook_payload(notice, Webhook(url="https://x", secret="s"), head)
    assert raw["data"]["response_due"] == "2026-12-07T06:30:00+00:00"


def test_the_cli_converts_an_offset_to_utc_instead_of_cutting_it():
    from commands.tickets import minutes

    assert minutes("2026-12-22T00:00:00+11:00") == "2026-12-21 13:00Z"  # the quote's expiry
    assert minutes("2026-11-23T05:45:00.123456Z") == "2026-11-23 05:45Z"
    assert minutes(None) is None


def test_an_invitation_says_when_in_the_clients_zone():
    invite = Invite(uid="induction-BEL-000042", starts_at=datetime(2026, 12, 7, 0, 30,
                                                                   tzinfo=UTC),
                    minutes=30, summary="Security induction")
    notice = _notice("onboarding", "induction_invite", "in_progress", invite=invite)
    body = render_body(notice, letterhead(notice, CONFIG, PUBLIC))
    assert "When: Mon 7 Dec 2026, 11:30 am AEDT\nLength: 30 minutes" in body


def test_a_quotes_resolution_says_what_was_decided_and_asks_nothing_back():
    """A decision is final (docs/lifecycle.md): no "reply if it is not fixed"; who decided,
    when (in the client's zone), how and why."""
    for notice, decision in ((_decided(True), "Approved"), (_decided(False), "Declined")):
        body = render_body(notice, letterhead(notice, CONFIG, PUBLIC))
        assert f"Decision: {decision}\n" in body and f"Decided by: {DIRECTOR_MAIL}" in body
        assert "Decided on: Fri 4 Dec 2026, 4:00 pm AEDT" in body
        assert "By way of: the approval page" in body and "not fixed" not in body
    assert "Reason: over budget" in render_body(_decided(False), letterhead(
        _decided(False), CONFIG, PUBLIC))


def test_order_by_hand_lists_what_to_order():
    notice = _notice("quote", "order_failed", "resolved", document=_document())
    body = render_body(notice, letterhead(notice, CONFIG, PUBLIC))
    assert "Order line 1: 80 x Development at AUD 150.00 each (AUD 12,000.00 before tax)" in body
    assert "Valid until" not in body  # approved: past its validity, not an offer any more


def test_do_by_hand_names_each_waiting_step_and_why():
    notice = _notice("offboarding", "provider_step_failed", "in_progress")
    notice.context["waiting_steps"] = (
        "disable_account (the provider said: Microsoft Graph is not set up for plexacet)\n"
        "revoke_sessions (the provider said: Microsoft Graph is not set up for plexacet)")
    body = render_body(notice, letterhead(notice, CONFIG, PUBLIC))
    assert ("Waiting for an agent: disable_account (the provider said: Microsoft Graph is "
            "not set up for plexacet)") in body
    assert "Waiting for an agent: revoke_sessions (the provider said: " in body
