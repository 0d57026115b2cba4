"""Every error is RFC 9457 problem+json naming the field and the fix; nothing is a 500."""

from __future__ import annotations

import pytest

from tests.web.helpers import assert_problem, incident_body


async def post_incident(desk, body=None, content=None, role="requester"):
    headers = {**desk.as_("belton", role), "content-type": "application/json"}
    return await desk.http.post("/v1/incidents", json=body, content=content, headers=headers)


async def test_malformed_json_is_400(desk):
    body = assert_problem(await post_incident(desk, content=b'{"subject": "x",'), 400)
    assert body["errors"][0]["field"] == "(body)"
    assert "JSON" in body["errors"][0]["fix"]


async def test_missing_fields_are_each_named_with_a_fix(desk):
    body = assert_problem(await post_incident(desk, {"subject": "Printer on fire"}), 422)
    named = {e["field"]: e["fix"] for e in body["errors"]}
    text = "text of at most 10000 characters"
    assert named == {"doing": f"add 'doing': {text}", "expected": f"add 'expected': {text}",
                     "actual": f"add 'actual': {text}", "tried": f"add 'tried': {text}",
                     "technical_contact": "add 'technical_contact': an object with 'name' "
                     "(text of at most 200 characters) and 'email' (an e-mail address)"}


@pytest.mark.parametrize(("overrides", "field", "fix"), [
    ({"urgency": None}, "urgency", "add 'urgency': high, medium or low"),
    ({"impact": None}, "impact", "add 'impact': high, medium or low"),
    ({"impact": None, "urgency": None}, "impact", "add 'impact' and 'urgency'"),
    ({"severity": {"work_stoppage": "full"}}, "severity", "remove 'severity'"),
    ({"impact": "huge"}, "impact", "use one of: 'high', 'medium' or 'low'"),
    ({"technical_contact": {"name": "Jo", "email": "jo-at-example"}},
     "technical_contact.email", "not an e-mail address"),
    ({"severity": {"users_affected_pct": 140}, "impact": None, "urgency": None},
     "severity.users_affected_pct", "use a value of at most 100"),
])
async def test_missing_or_contradictory_priority_inputs(desk, overrides, field, fix):
    body = assert_problem(await post_incident(desk, incident_body(**overrides)), 422)
    assert [e["field"] for e in body["errors"]] == [field]
    assert fix in body["errors"][0]["fix"] or fix in body["errors"][0]["message"]


async def test_unknown_route_and_wrong_method(desk):
    assert_problem(await desk.http.get("/v1/nope", headers=desk.as_("belton", "agent")), 404)
    body = assert_problem(await desk.http.delete("/v1/incidents",
                                                 headers=desk.as_("belton", "agent")), 405)
    assert body["title"] == "Method not allowed"


async def test_bad_path_and_query_parameters(desk):
    body = assert_problem(await desk.http.get("/v1/tickets/not-a-ticket",
                                              headers=desk.as_("belton", "agent")), 422)
    assert body["errors"][0]["field"] == "ticket_id" and body["errors"][0]["in"] == "path"
    body = assert_problem(await desk.http.get("/v1/tickets?priority=P9&limit=0",
                                              headers=desk.as_("belton", "agent")), 422)
    assert {e["field"] for e in body["errors"]} == {"priority", "limit"}
    body = assert_problem(await desk.http.get("/v1/tickets?page_token=%%%",
                                              headers=desk.as_("belton", "agent")), 400)
    assert body["errors"][0]["field"] == "page_token"


async def test_sla_preview_errors(desk):
    headers = desk.as_("belton", "agent")
    naive = {"policy": "belton", "priority": "P1", "opened_at": "2026-11-20T16:30:00"}
    body = assert_problem(await desk.http.post("/v1/sla/preview", json=naive, headers=headers),
                          422)
    assert body["errors"][0]["field"] == "opened_at"
    assert "offset" in body["errors"][0]["fix"]
    backwards = {"policy": "belton", "priority": "P1", "opened_at": "2026-11-20T16:30:00Z",
                 "pauses": [["2026-11-20T18:00:00Z", "2026-11-20T17:00:00Z"]]}
    body = assert_problem(await desk.http.post("/v1/sla/preview", json=backwards,
                                               headers=headers), 422)
    assert body["errors"][0]["field"] == "pauses[0]"


async def test_healthz_needs_no_credential(desk):
    response = await desk.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "temporal": "ok"}


async def test_docs_pages_load_every_asset_from_the_app_itself(desk):
    """/docs and /redoc work on a machine with no internet: every script, stylesheet and
    icon they reference is served by the app (no CDN, no web fonts)."""
    import re

    for page in ("/docs", "/redoc"):
        html = (await desk.http.get(page)).text
        assets = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']""", html)
        assets += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)  # the OpenAPI document
        assert assets, html
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            response = await desk.http.get(asset)
            assert response.status_code == 200 and response.content, (page, asset)


async def test_fixes_say_what_to_send_instead(desk):
    """A fix that only repeats the problem helps nobody: each says what to send."""
    headers = desk.as_("belton", "requester")
    wrong_type = assert_problem(await desk.http.post(
        "/v1/incidents", json=incident_body(technical_contact="Jo Tran"), headers=headers), 422)
    [error] = wrong_type["errors"]
    assert error["field"] == "technical_contact" and '"email"' in error["fix"]
    empty = assert_problem(await desk.http.post("/v1/incidents", headers=headers), 422)
    assert "JSON object" in empty["errors"][0]["fix"]
    bad_id = assert_problem(await desk.http.get("/v1/tickets/BEL-12", headers=headers), 422)
    assert bad_id["errors"][0]["fix"].startswith("write a ticket id like BEL-000123")
    assert "^" not in bad_id["errors"][0]["fix"]  # no raw regex
    long_id = await desk.http.get("/v1/tickets/BEL-" + "1" * 5000, headers=headers)
    assert long_id.status_code in (404, 422)


async def test_text_no_mail_server_accepts_is_refused_at_intake(desk):
    """A line break in a subject would fail every e-mail of the ticket: 422 at intake."""
    headers = desk.as_("belton", "requester")
    for subject in ("Printer broken\r\nBcc: everyone@evil.example", "Tab\tin subject",
                    "NUL\x00byte"):
        refused = assert_problem(await desk.http.post(
            "/v1/incidents", json=incident_body(subject=subject), headers=headers), 422)
        assert refused["errors"][0]["field"] == "subject", refused


async def test_idempotent_and_plain_intakes_share_one_numbering(desk):
    headers = desk.as_("belton", "requester")
    numbers = []
    for key in (None, "retry-me", None):
        extra = {"Idempotency-Key": key} if key else {}
        made = await desk.http.post("/v1/incidents", json=incident_body(),
                                    headers={**headers, **extra})
        numbers.append(int(made.json()["ticket_id"].rsplit("-", 1)[1]))
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]  # in issue order
    again = await desk.http.post("/v1/incidents", json=incident_body(),
                                 headers={**headers, "Idempotency-Key": "retry-me"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert int(again.json()["ticket_id"].rsplit("-", 1)[1]) == numbers[1]
    other = await desk.http.post("/v1/incidents", json=incident_body(),
                                 headers={**desk.as_("belton", "agent"),
                                          "Idempotency-Key": "retry-me"})
    assert "Idempotent-Replayed" not in other.headers  # keys belong to one credential


async def test_a_signed_links_token_is_not_echoed_in_its_refusal(desk):
    """The path of a survey link is its credential: a refusal names the route, not it."""
    token = "eyJwIjoiY3NhdCJ9.not-the-signature-of-this-payload-at-all"
    for path in (f"/v1/surveys/{token}", f"/v1/surveys/nps/{token}"):
        answer = await desk.http.post(path, json={"score": 5})
        assert answer.status_code in (401, 410, 422), answer.text
        assert token not in answer.text
        assert answer.json()["instance"].endswith("/{token}")
