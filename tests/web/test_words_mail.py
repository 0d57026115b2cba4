"""Words for people, end to end (issue 19): what a Melbourne client and its directors read,
through a real SMTP peer - local times with the zone's abbreviation, the ticket's link,
the MSP's name, contact, logo and terms, and no internal wording on the quote's page."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from api.pages import PAGE_POLICY
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
    assert '<img src="/brand/logo"' in html
    assert page.headers["content-security-policy"] == PAGE_POLICY  # the logo is 'self'
    logo = await desk.http.get("/brand/logo")
    assert logo.status_code == 200 and logo.content == PNG
    assert logo.headers["content-type"] == "image/png"
