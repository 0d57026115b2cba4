"""Pages that carry a credential (issue 18): every HTML route of the app's route table is
sent with a Content-Security-Policy that forbids framing, X-Frame-Options, no Referer, no
caching and nosniff (and every other answer with nosniff); the quote page's form is
refused from another site; and in a real browser the pages work under their policy (the
API docs render, the director's approval goes through) while framing and a cross-site
form are refused. Each test failed on the code before its fix (the browser test's framing
and cross-site checks)."""

from __future__ import annotations

import re
import shutil
from html import unescape
from typing import Any, get_type_hints

import pytest
from fastapi.responses import HTMLResponse

from api.app import create_app
from api.route_table import every_route
from domain.form_origin import form_refusal
from domain.reviews import Job
from tests.conftest import served
from tests.web.helpers import assert_problem, eventually, incident_body
from workflows.reviews import QbrWorkflow

PAGE_HEADERS = {"x-frame-options": "DENY", "referrer-policy": "no-referrer",
                "cache-control": "no-store", "x-content-type-options": "nosniff"}
CROSS_SITE = "https://evil.example"


@pytest.fixture
def pages(mailed_desk):
    return mailed_desk


async def issue_quote(desk, mailbox) -> tuple[str, str]:
    """A quote issued by MSP staff to Belton's directors: its id and the review page's URL
    (path and query) from the director's e-mail."""
    made = await desk.http.post("/v1/quotes", headers={
        "Authorization": "Bearer td_msp_agent_demo"}, json={
        "client_id": desk.client_id("belton"), "title": "Two laptops",
        "lines": [{"description": "Laptop", "quantity": "2", "unit_price": "1800"}]})
    assert made.status_code == 201, made.text
    quote_id = made.json()["ticket_id"]

    def links() -> list[str]:
        found = []
        for message in mailbox.messages:
            body = message.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            found += re.findall(rf"(/v1/quotes/{quote_id}/review\?token=\S+)", text)
        return found

    [review_url, *_] = await eventually(links, bool, timeout=30)
    return quote_id, review_url


def token_of(review_url: str) -> str:
    return review_url.split("token=", 1)[1]


def _html(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, HTMLResponse)


def html_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route that answers HTML: declared so, or whose function
    says it returns an HTMLResponse."""
    found = set()
    for route in every_route(app.routes):
        declared = getattr(route, "response_class", None)  # None: a mount
        response_class = getattr(declared, "value", declared)  # unwrap FastAPI's default
        try:
            returns = get_type_hints(route.endpoint).get("return")
        except (AttributeError, NameError, TypeError):
            returns = None
        if _html(response_class) or _html(returns):
            found |= {(method, route.path) for method in route.methods}
    return found


def assert_page_headers(response, what: str) -> str:
    """The response is an HTML page with every page header; its CSP."""
    assert response.headers["content-type"].startswith("text/html"), (what, response.text)
    for name, value in PAGE_HEADERS.items():
        assert response.headers.get(name) == value, (what, name, response.headers)
    policy = response.headers.get("content-security-policy", "")
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";")}
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", (what, policy)
    assert directives.get("default-src") == "default-src 'none'", (what, policy)
    assert directives.get("base-uri") == "base-uri 'none'", (what, policy)
    assert "'unsafe-eval'" not in policy, (what, policy)
    assert "'unsafe-inline'" not in directives.get("script-src", ""), (what, policy)
    return policy


async def qbr_path(desk) -> str:
    """A QBR made for BetterWorld now (its kickoff run by hand): the report page's path."""
    client_id = desk.client_id("betterworld")
    kickoff = await desk.client.execute_workflow(
        "ReviewKickoffWorkflow", {"client_id": client_id, "job": Job.QBR.value},
        id=f"kickoff-{client_id}", task_queue=desk.settings.task_queue)
    report = desk.client.get_workflow_handle_for(QbrWorkflow.run, kickoff["workflow_id"])
    await eventually(lambda: report.query(QbrWorkflow.report),
                     lambda r: r.figures is not None, timeout=30)
    return f"/v1/reports/qbr/{client_id}/{kickoff['period']}"


def survey_path(mailbox, pattern: str) -> str | None:
    """The path of the first survey link in the mailbox matching ``pattern``, if any."""
    for message in mailbox.messages:
        body = message.get_body(("plain",))
        found = re.search(pattern, body.get_content() if body is not None else "")
        if found:
            return found.group(0)
    return None


async def survey_paths(desk, mailbox) -> tuple[str, str]:
    """A closed incident's CSAT link and a BetterWorld NPS link (its survey started by
    hand), as their e-mails carry them."""
    agent = desk.as_("belton", "agent")
    ticket = (await desk.http.post("/v1/incidents", json=incident_body(impact="low"), headers=
                                   desk.as_("belton", "requester"))).json()["ticket_id"]
    for to in ("resolved", "closed"):
        await desk.http.post(f"/v1/tickets/{ticket}/transition", json={"to": to}, headers=agent)
    client_id = desk.client_id("betterworld")
    await desk.client.execute_workflow(
        "ReviewKickoffWorkflow", {"client_id": client_id, "job": Job.NPS.value},
        id=f"kickoff-nps-{client_id}", task_queue=desk.settings.task_queue)
    csat = await eventually(lambda: survey_path(mailbox, r"/v1/surveys/(?!nps/)[^\s/]+"),
                            bool, timeout=30)
    nps = await eventually(lambda: survey_path(mailbox, r"/v1/surveys/nps/\S+"), bool,
                           timeout=30)
    return csat, nps


async def test_every_html_route_sends_the_page_headers(pages):
    """From the app's route table: each route that answers HTML is opened and checked, so
    a page added later without being listed here fails this test."""
    desk, mailbox = pages
    quote_id, review_url = await issue_quote(desk, mailbox)
    token = token_of(review_url)
    director = desk.as_("betterworld", "director")
    opened: dict[tuple[str, str], Any] = {
        ("GET", "/docs"): lambda: desk.http.get("/docs"),
        ("GET", "/redoc"): lambda: desk.http.get("/redoc"),
        ("GET", "/v1/quotes/{quote_id}/review"): lambda: desk.http.get(review_url),
        ("POST", "/v1/quotes/{quote_id}/review"): lambda: desk.http.post(
            f"/v1/quotes/{quote_id}/review", data={"token": unescape(token),
                                                   "decision": "approve"}),
        ("GET", "/v1/reports/qbr/{client}/{quarter}"): lambda: qbr_page(),
    }
    csat, nps = await survey_paths(desk, mailbox)
    own = {"Origin": desk.base_url}
    opened |= {
        ("GET", "/v1/surveys/{token}"): lambda: desk.http.get(csat),
        ("POST", "/v1/surveys/{token}/answer"): lambda: desk.http.post(
            f"{csat}/answer", data={"score": "5"}, headers=own),
        ("GET", "/v1/surveys/nps/{token}"): lambda: desk.http.get(nps),
        ("POST", "/v1/surveys/nps/{token}/answer"): lambda: desk.http.post(
            f"{nps}/answer", data={"score": "9"}, headers=own),
    }

    async def qbr_page():
        return await desk.http.get(await qbr_path(desk), headers=director)

    routes = html_routes(create_app(desk.settings, desk.config, desk.client))
    for route in sorted(routes & set(opened)):
        response = await opened[route]()
        assert response.status_code == 200, (route, response.text)
        assert_page_headers(response, str(route))
    assert routes == set(opened), ("a page to open here, or one gone", routes ^ set(opened))
    # The page again once decided, and its refusal of a second decision (a 409 page).
    assert_page_headers(await desk.http.get(review_url), "decided page")
    again = await desk.http.post(f"/v1/quotes/{quote_id}/review",
                                 data={"token": unescape(token), "decision": "decline"})
    assert again.status_code == 409
    assert_page_headers(again, "refusal page")
    # The PDF the page links to carries the token in its URL too.
    pdf = await desk.http.get(f"/v1/quotes/{quote_id}/pdf", params={"token": unescape(token)})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert (pdf.headers["cache-control"], pdf.headers["referrer-policy"]) == (
        "no-store", "no-referrer")


async def test_every_answer_is_nosniff(desk):
    """JSON, problem+json (from a route, from the body limit, from SCIM), static assets."""
    answers = [
        await desk.http.get("/healthz"),
        await desk.http.get("/openapi.json"),
        await desk.http.get("/v1/tickets"),                       # 401 problem
        await desk.http.post("/v1/incidents", content=b"x" * (2 * 1024 * 1024)),  # 413
        await desk.http.get("/scim/v2/Users"),                    # SCIM error
        await desk.http.get("/static-offline-docs/swagger-ui-bundle.js"),
        await desk.http.get("/docs/swagger-init.js"),
    ]
    for answer in answers:
        assert answer.headers.get("x-content-type-options") == "nosniff", (
            answer.request.url, answer.headers)
        assert "content-security-policy" not in answer.headers  # pages only


async def test_the_docs_pages_run_no_inline_script(desk):
    """Swagger UI and ReDoc load every script from the app itself (their policy allows
    scripts from this origin only), and each asset they name is served."""
    for page in ("/docs", "/redoc"):
        html = (await desk.http.get(page)).text
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        assert scripts, html
        for attributes, body in scripts:
            assert "src=" in attributes and not body.strip(), (page, attributes, body)
        for asset in re.findall(r"""(?:src|href|spec-url|data-openapi-url)=["']([^"']+)""",
                                html):
            assert asset.startswith("/"), (page, asset)
            answer = await desk.http.get(asset)
            assert answer.status_code == 200 and answer.content, (page, asset)


async def test_the_review_form_is_refused_from_another_site(pages):
    """A form posted to the review page from another site's page (the browser says so in
    Origin, or in Sec-Fetch-Site when Origin is null) is 403 problem+json and decides
    nothing; from the desk's own page (as a browser sends it under the page's
    no-referrer policy: Origin null, Sec-Fetch-Site same-origin) it decides."""
    desk, mailbox = pages
    quote_id, review_url = await issue_quote(desk, mailbox)
    form = {"token": unescape(token_of(review_url)), "decision": "approve"}
    for headers in ({"Origin": CROSS_SITE},
                    {"Origin": CROSS_SITE, "Sec-Fetch-Site": "cross-site"},
                    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "http://127.0.0.1.evil.example"}):
        refused = await desk.http.post(f"/v1/quotes/{quote_id}/review", data=form,
                                       headers=headers)
        problem = assert_problem(refused, 403)
        assert problem["errors"][0]["field"] == "Origin", (headers, problem)
        assert problem["errors"][0]["in"] == "header"
    view = await desk.http.get(f"/v1/tickets/{quote_id}",
                               headers={"Authorization": "Bearer td_msp_agent_demo"})
    assert view.json()["quote_state"] == "sent" and view.json()["decision"] is None
    decided = await desk.http.post(f"/v1/quotes/{quote_id}/review", data=form,
                                   headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert decided.status_code == 200 and "the quote is approved" in decided.text
    # The desk's own origin as such passes too (a browser without the no-referrer rule).
    second, second_url = await issue_quote(desk, mailbox)
    own = await desk.http.post(f"/v1/quotes/{second}/review", headers={"Origin": desk.base_url},
                               data={"token": unescape(token_of(second_url)),
                                     "decision": "approve"})
    assert own.status_code == 200, own.text


# ------------------------------------------------------------------ a real browser


def chromium() -> str:
    """The system Chromium (Debian: apt-get install chromium), or skip with the reason."""
    pytest.importorskip("playwright.async_api", reason="playwright is a dev dependency")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no Chromium on this machine: `apt-get install -y chromium` runs the "
                    "pages in a real browser")
    return path


async def test_pages_work_in_a_real_browser_and_refuse_framing_and_forgery(pages):
    """Chromium: /docs and /redoc render the API under their policy, with no violation;
    the director's click on Approve decides the quote (the browser's own Origin rules);
    a page on another origin can neither frame the review page nor post its form."""
    browser_path = chromium()
    from playwright.async_api import async_playwright

    desk, mailbox = pages
    quote_id, review_url = await issue_quote(desk, mailbox)
    forged_id, forged_url = await issue_quote(desk, mailbox)
    base = desk.base_url
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=browser_path,
                                          args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))

            await page.goto(f"{base}/docs")
            await page.wait_for_selector(".opblock-summary", timeout=30_000)
            assert await page.locator(".opblock").count() > 20
            await page.goto(f"{base}/redoc")
            await page.wait_for_selector("text=Issue a quote", state="attached",
                                         timeout=30_000)
            assert await page.locator("[data-section-id]").count() > 20
            # Nothing blocked but ReDoc's "powered by" logo, which it fetches from its
            # vendor's CDN: the desk's pages load nothing from outside (offline machines).
            violations = [m for m in console if "Content Security Policy" in m
                          and "https://cdn.redoc.ly/redoc/logo-mini.svg" not in m]
            assert not violations, violations

            console.clear()
            await page.goto(f"{base}{review_url}")
            await page.click("button.approve")
            await page.wait_for_selector("text=the quote is approved", timeout=30_000)
            assert not [m for m in console if "Content Security Policy" in m], console

            # Another origin (the same host, another port): framing and a forged form.
            async with served(other_site(f"{base}{forged_url}", forged_id)) as (evil, _):
                console.clear()
                await page.goto(f"{evil}/frame")
                await eventually(lambda: [m for m in console if "frame-ancestors" in m], bool)
                frame = page.frame(name="quote")
                assert frame is not None and "Two laptops" not in await frame.content()
                await page.goto(f"{evil}/forge")
                await page.click("button")
                await page.wait_for_load_state()
                assert "sent from another site" in await page.content()
        finally:
            await browser.close()
    view = await desk.http.get(f"/v1/tickets/{forged_id}",
                               headers={"Authorization": "Bearer td_msp_agent_demo"})
    assert view.json()["quote_state"] == "sent", view.json()
    decided = await desk.http.get(f"/v1/tickets/{quote_id}",
                                  headers={"Authorization": "Bearer td_msp_agent_demo"})
    assert decided.json()["decision"]["channel"] == "link"


def other_site(review_url: str, quote_id: str):
    """An ASGI app standing for another web site: a page framing the review page, and a
    page whose form posts an approval to it (its author holds the link)."""
    token = unescape(token_of(review_url))
    action = review_url.split("?", 1)[0]
    pages = {
        "/frame": f'<iframe name="quote" src="{review_url}"></iframe>',
        "/forge": (f'<form method="post" action="{action}">'
                   f'<input type="hidden" name="token" value="{token}">'
                   '<input type="hidden" name="decision" value="approve">'
                   '<button type="submit">Win a prize</button></form>'),
    }

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = f"<!doctype html><html><body>{pages.get(scope['path'], '')}</body></html>"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")]})
        await send({"type": "http.response.body", "body": body.encode()})

    return app



@pytest.mark.parametrize(("origin", "fetch_site", "allowed"), [
    ("https://desk.example", None, True),
    ("https://DESK.example:443", "same-origin", True),     # default port, any case
    ("http://127.0.0.1:8000", None, True),                 # the origin the request came to
    ("https://desk.example:8443", None, False),            # another port: another origin
    ("https://desk.example.evil.example", None, False),
    ("null", "same-origin", True),                         # the page's own no-referrer form
    ("null", "none", True),                                # resubmitted by the user
    ("null", "same-site", False),
    ("null", "cross-site", False),
    (None, "cross-site", False),
    ("null", None, True),                                  # an old browser: the token decides
    (None, None, True),
])
def test_a_form_is_judged_by_where_the_browser_says_it_was_sent_from(origin, fetch_site,
                                                                      allowed):
    own = ("https://desk.example", "http://127.0.0.1:8000")
    assert (form_refusal(origin, fetch_site, own) is None) is allowed
