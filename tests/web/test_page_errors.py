"""The pages speak to people, in a real browser (Chromium, checked by axe-core): a link that
is damaged or expired is a page saying so under the MSP's name, not JSON; a form the page
cannot take says what to mend beside the field (aria-invalid, described by the message,
focused), keeps what was typed, and takes every reason the page allows; a survey answered
already says so when its link is opened again, instead of a form that can only be
refused. Other callers of the same routes still get problem+json. (Outside review: raw
JSON on 401/410, messages above the table naming 'reason', 1000 "é" refused as too
large, a comment lost with the form.)"""

from __future__ import annotations

from html import unescape

import pytest

from tests.web.helpers import incident_body
from tests.web.test_trust_pages import (
    assert_page_headers,
    chromium,
    issue_quote,
    survey_paths,
    token_of,
)


@pytest.fixture
async def browser():
    path = chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def accessible(page) -> None:
    """axe-core finds no violation on the page as it stands."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


async def test_a_bad_link_is_a_page_for_a_browser_and_json_for_a_program(mailed_desk):
    desk, mailbox = mailed_desk
    _, review_url = await issue_quote(desk, mailbox)
    damaged = review_url[:-4] + ("AAAA" if not review_url.endswith("AAAA") else "BBBB")
    as_browser = await desk.http.get(damaged, headers={"Accept": "text/html,*/*;q=0.8"})
    assert as_browser.status_code == 401
    assert_page_headers(as_browser, "a damaged link")
    assert "<h1>Invalid link</h1>" in as_browser.text
    assert "urn:tempodesk:problem" not in as_browser.text  # a page, not JSON
    as_program = await desk.http.get(damaged)
    assert as_program.status_code == 401
    assert as_program.headers["content-type"] == "application/problem+json"
    assert as_program.json()["title"] == "Invalid link"
    assert token_of(review_url) not in as_browser.text  # the credential is not echoed


async def test_a_tickets_link_opened_in_a_browser_says_what_to_do(desk, browser):
    """The link in every mail (the API's ticket address, until the portal has a page)
    opened in a browser without a key: a page saying how to add to the ticket, not a JSON
    401; a program still gets problem+json, and a key still gets the ticket."""
    ticket = (await desk.http.post("/v1/incidents", json=incident_body(), headers=desk.as_(
        "belton", "requester"))).json()["ticket_id"]
    page = await browser.new_page()
    opened = await page.goto(f"{desk.base_url}/v1/tickets/{ticket}")
    assert opened.status == 401
    assert "reply to the e-mail" in await page.locator("main").inner_text()
    await accessible(page)
    as_program = await desk.http.get(f"/v1/tickets/{ticket}")
    assert as_program.headers["content-type"] == "application/problem+json"
    with_key = await desk.http.get(f"/v1/tickets/{ticket}", headers={
        **desk.as_("belton", "agent"), "Accept": "text/html,*/*"})
    assert with_key.status_code == 200 and with_key.json()["ticket_id"] == ticket


async def test_the_quote_page_says_beside_the_reason_what_to_mend(mailed_desk, browser):
    desk, mailbox = mailed_desk
    quote_id, review_url = await issue_quote(desk, mailbox)
    page = await browser.new_page()
    await page.goto(f"{desk.base_url}{review_url}")
    await accessible(page)
    await page.fill("#reason", "   ")
    await page.click("button[value=decline]")
    await page.wait_for_selector("#reason-error")
    reason = page.locator("#reason")
    assert await reason.get_attribute("aria-invalid") == "true"
    assert await reason.get_attribute("aria-describedby") == "reason-error"
    assert await page.evaluate("document.activeElement.id") == "reason"
    assert await reason.input_value() == "   "  # what was typed is kept
    assert "Say why you decline" in await page.locator("#reason-error").inner_text()
    await accessible(page)

    # The longest reason the page allows, in letters of two bytes and with line breaks
    # (each one character for the page, CRLF in the form), is taken.
    longest = ("é" * 99 + "\n") * 10
    await page.fill("#reason", longest)
    await page.click("button[value=decline]")
    await page.wait_for_selector("text=the quote is declined")
    view = await desk.http.get(f"/v1/tickets/{quote_id}",
                               headers={"Authorization": "Bearer td_msp_agent_demo"})
    assert view.json()["decision"]["reason"] == longest

    # Decided: the other choice sent from an old tab says why, whatever its reason
    # (one over the page's limit was a blank 422: the form it names is gone).
    own = {"Origin": desk.base_url, "Accept": "text/html"}
    again = await desk.http.post(f"/v1/quotes/{quote_id}/review", headers=own, data={
        "token": unescape(token_of(review_url)), "decision": "approve",
        "reason": "x" * 1001})
    assert again.status_code == 409, again.text
    assert "declined already" in again.text


async def test_a_survey_page_keeps_the_comment_and_says_what_is_missing(mailed_desk,
                                                                         browser):
    desk, mailbox = mailed_desk
    csat, _ = await survey_paths(desk, mailbox)
    page = await browser.new_page()
    await page.goto(f"{desk.base_url}{csat}")
    await accessible(page)
    # A browser asks for the score itself (required): the form is posted as a script
    # or an older browser would, without one.
    comment = ("ü" * 99 + "\n") * 50  # 5,000 characters for the page, CRLF in the form
    await page.fill("#comment", comment)
    await page.evaluate("document.querySelectorAll('input[name=score]')"
                        ".forEach(r => r.removeAttribute('required'))")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#score-error")
    assert "Pick a score" in await page.locator("#score-error").inner_text()
    assert await page.locator("#comment").input_value() == comment
    assert await page.evaluate("document.activeElement.name") == "score"
    await accessible(page)

    await page.check("input[name=score][value='4']")
    await page.click("button[type=submit]")
    await page.wait_for_selector("text=is recorded")
    await page.goto(f"{desk.base_url}{csat}")  # the link again: no form to be refused
    assert "is recorded already" in await page.locator("[role=status]").inner_text()
    assert await page.locator("input[name=score]").count() == 0
    await accessible(page)
