"""Words for people, end to end (issue 19): what a Melbourne client and its directors read,
through a real SMTP peer - local times with the zone's abbreviation, the ticket's link,
the MSP's name, contact, logo and terms, and no internal wording on the quote's page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from api.pages import PAGE_POLICY
from domain import nps, tokens
from domain.msp import MspConfig
from domain.words import local_time_text
from tests.conftest import isolated, make_settings, running_desk
from tests.documents.pdf_text import pdf_text
from tests.peers import Mailbox
from tests.web.helpers import eventually, incident_body

MELBOURNE = "Australia/Melbourne"
DIRECTOR = "mia.chen@harbourside.example"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# A local time as people read it: "Mon 7 Dec 2026, 5:30 pm AEDT" (AEST in winter).
LOCAL_TIME = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} \d{4}, "
                        r"\d{1,2}:\d{2} [ap]m AE[DS]T")


@pytest.fixture
async def branded(dev_client, config, task_queue, tmp_path: Path):
    """A desk with the demo MSP block plus a logo file, mailing a local SMTP peer."""
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    msp = MspConfig.model_validate({**config.msp.model_dump(exclude_none=True),
                                    "logo_file": logo})
    with Mailbox() as mailbox:
        settings = make_settings(task_queue=task_queue, smtp_host="127.0.0.1",
                                 smtp_port=mailbox.port)
        desk_config = isolated(config).model_copy(update={"msp": msp})
        async with running_desk(dev_client, desk_config, settings) as desk:
            yield desk, mailbox


def plain(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def assert_reads_well(text: str, ticket_path: str) -> None:
    """What every mail and page a client reads must (not) carry."""
    assert "None" not in text, text
    assert not ISO_INSTANT.search(text), text
    assert "contract" not in text.lower(), text  # the seed contract is internal wording
    assert "Southbank Managed IT" in text and "Invoices are payable within 14 days." in text
    assert ticket_path in text, text


async def test_a_melbourne_clients_acknowledgement_reads_its_due_time_in_aedt(branded):
    desk, mailbox = branded
    created = (await desk.http.post("/v1/incidents", json=incident_body(),
                                    headers=desk.as_("belton", "requester"))).json()
    ticket = created["ticket_id"]
    [mail] = await eventually(lambda: mailbox.about(ticket), lambda m: len(m) == 1)
    body = plain(mail)

    due = datetime.fromisoformat(created["response_due"])
    said = re.search(r"We will respond by (.+)\.", body)
    assert said and LOCAL_TIME.fullmatch(said.group(1)), body
    assert said.group(1) == local_time_text(due, MELBOURNE)
    link = re.search(r"Your ticket: (\S+)", body)
    assert link and link.group(1) == f"{desk.settings.public_url}/v1/tickets/{ticket}"
    assert_reads_well(body, f"/v1/tickets/{ticket}")
    # The link leads to the ticket (today the API's page, for the reader's own key).
    path = urlsplit(link.group(1)).path
    seen = await desk.http.get(path, headers=desk.as_("belton", "requester"))
    assert seen.status_code == 200 and seen.json()["ticket_id"] == ticket
    assert (await desk.http.get(path)).status_code == 401  # the link alone grants nothing

    # Every later notice of it too: the pending notice carries no empty SLA field.
    agent = desk.as_("belton", "agent")
    moved = await desk.http.post(f"/v1/tickets/{ticket}/transition", headers=agent,
                                 json={"to": "pending", "reason": "which printer?"})
    assert moved.status_code == 200, moved.text
    [_, pending] = await eventually(lambda: mailbox.about(ticket), lambda m: len(m) == 2)
    assert "Status: Waiting for you" in plain(pending)
    assert_reads_well(plain(pending), f"/v1/tickets/{ticket}")


async def test_the_quote_mail_pdf_and_page_carry_the_msp_and_no_internal_wording(branded):
    desk, mailbox = branded
    issued = await desk.http.post("/v1/quotes", headers=desk.as_("belton", "agent"), json={
        "title": "Client portal: matter status page",
        "lines": [{"description": "Development", "quantity": "80", "unit_price": "150"}]})
    assert issued.status_code == 201, issued.text
    quote_id = issued.json()["ticket_id"]
    sent = await eventually(lambda: [m for m in mailbox.about(quote_id)
                                     if "Quote for approval" in m["Subject"]],
                            lambda m: len(m) >= 3)  # two directors and the desk's copy
    [mail] = [m for m in sent if m["To"] == DIRECTOR]
    body = plain(mail)
    assert_reads_well(body, f"/v1/tickets/{quote_id}")
    for absent in ("Response due", "Escalation level", "Priority"):
        assert absent not in body, body
    assert "Total (incl. tax): AUD 13,200.00" in body
    assert re.search(r"Valid until: the end of \w{3} \d{1,2} \w{3} \d{4} \(AE[DS]T\)", body)
    copies = [m for m in sent if m["To"] == "servicedesk@belton.example"]
    assert copies
    for copy in copies:
        assert "token=" not in plain(copy)  # the desk's copy has no link that acts
        assert_reads_well(plain(copy), f"/v1/tickets/{quote_id}")

    [pdf] = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    text = pdf_text(pdf.get_content())
    assert "Southbank Managed IT" in text and "Invoices are payable within 14 days." in text
    assert "Client: Harbourside Legal" in text and "contract" not in text.lower()

    url = re.search(r"(/v1/quotes/\S+/review\?token=\S+)", body).group(1)
    page = await desk.http.get(url)
    assert page.status_code == 200, page.text
    html = unescape(page.text)
    assert "for Harbourside Legal" in html and "contract" not in html.lower()
    assert "Southbank Managed IT" in html and "Invoices are payable within 14 days." in html
    assert re.search(r"valid until the end of \w{3} \d{1,2} \w{3} \d{4} \(AE[DS]T\)", html)
    assert '<img src="/brand/logo"' in html
    assert page.headers["content-security-policy"] == PAGE_POLICY  # the logo is 'self'
    logo = await desk.http.get("/brand/logo")
    assert logo.status_code == 200 and logo.content == PNG
    assert logo.headers["content-type"] == "image/png"


async def test_the_survey_links_open_pages_under_the_msps_name(branded):
    desk, mailbox = branded
    agent = desk.as_("belton", "agent")
    ticket = (await desk.http.post("/v1/incidents", json=incident_body(impact="low"),
                                   headers=desk.as_("belton", "requester"))).json()["ticket_id"]
    for to in ("resolved", "closed"):
        moved = await desk.http.post(f"/v1/tickets/{ticket}/transition", json={"to": to},
                                     headers=agent)
        assert moved.status_code == 200, moved.text
    mails = await eventually(lambda: [m for m in mailbox.about(ticket)
                                      if "how did we do" in m["Subject"]
                                      and "jo.tran@" in m["To"]], bool)
    body = plain(mails[0])
    assert_reads_well(body, f"/v1/tickets/{ticket}")
    path = urlsplit(re.search(r"http://\S+/v1/surveys/\S+", body).group(0)).path

    page = await desk.http.get(path)  # the link opens a page, not a 405
    assert page.status_code == 200, page.text
    html = unescape(page.text)
    assert f"How did we do on your ticket {ticket}?" in html
    assert "Southbank Managed IT" in html and "Invoices are payable within 14 days." in html
    assert LOCAL_TIME.search(html) and not ISO_INSTANT.search(html)
    assert page.headers["content-security-policy"] == PAGE_POLICY and "<script" not in html

    form = {"score": "4", "comment": "Quick fix"}
    origin = {"Origin": desk.base_url}
    foreign = await desk.http.post(f"{path}/answer", data=form,
                                   headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    answered = await desk.http.post(f"{path}/answer", data=form, headers=origin)
    assert answered.status_code == 200 and "Your score of 4" in answered.text
    view = (await desk.http.get(f"/v1/tickets/{ticket}", headers=agent)).json()
    assert view["csat_score"] == 4
    again = await desk.http.post(f"{path}/answer", data=form, headers=origin)
    assert again.status_code == 409 and "Southbank Managed IT" in again.text
    bad = await desk.http.post(f"{path}/answer", data={"score": "9"}, headers=origin)
    assert bad.status_code == 422 and "score" in bad.text


async def test_the_nps_link_opens_a_page_with_the_clients_closing_time(branded):
    desk, _ = branded
    client = desk.client_id("betterworld")
    token = tokens.sign(desk.settings.secret, nps.TOKEN_PURPOSE,
                        nps.token_subject(client, "2026-H2"),
                        datetime(2026, 12, 21, 22, 0, tzinfo=UTC), r="0123456789abcdef")
    page = await desk.http.get(f"/v1/surveys/nps/{token}")
    assert page.status_code == 200, page.text
    html = unescape(page.text)
    assert "recommend Southbank Managed IT to a colleague of Hudson Freight?" in html
    assert "it works until Mon 21 Dec 2026, 5:00 pm EST." in html
    assert "Invoices are payable within 14 days." in html
    # No survey of that half-year runs: the form says so on the page, no 5xx.
    closed = await desk.http.post(f"/v1/surveys/nps/{token}/answer", data={"score": "9"},
                                  headers={"Origin": desk.base_url})
    assert closed.status_code == 410 and "the survey has closed" in closed.text
