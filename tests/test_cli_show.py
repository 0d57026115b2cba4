"""`tempodesk tickets show` on every kind, run for real, each with its request as it was
made; and the CLI never drops an offset: a quote valid until the end of a Melbourne day
is listed at that instant in UTC, not 11 hours late (issue 19)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from commands.tickets import minutes
from tests.web.helpers import eventually, incident_body
from tests.web.test_cli_tickets import cli
from tests.web.test_offboarding import exit_form
from tests.web.test_onboarding import new_user
from tests.web.test_quotes import draft
from tests.web.test_service_requests import request


def test_an_instant_with_an_offset_is_printed_in_utc():
    assert minutes("2026-12-22T00:00:00+11:00") == "2026-12-21 13:00Z"
    assert minutes("2026-12-21T13:00:00Z") == "2026-12-21 13:00Z"
    assert minutes("2026-07-01T09:30:59.999999-04:00") == "2026-07-01 13:30Z"
    assert minutes(None) is None


def cells(table: str, field: str) -> str:
    """The value printed beside ``field`` in `tickets show`'s table (folded lines joined)."""
    found = []
    for line in table.splitlines():
        parts = [p.strip() for p in line.split("│")[1:-1]]
        if len(parts) != 2:
            if found:
                break
            continue
        name, value = parts
        if name == field or (found and not name):
            found.append(value)
        elif found:
            break
    assert found, f"no row {field!r} in:\n{table}"
    return " ".join(found)


async def test_show_works_on_every_kind_with_its_request(graph_desk):
    desk, _ = graph_desk
    post = desk.http.post
    agent, hr = desk.as_("belton", "agent"), desk.as_("belton", "hr")
    start = (date.today() + timedelta(days=30)).isoformat()
    made = {
        "incident": await post("/v1/incidents", json=incident_body(), headers=agent),
        "service_request": await post("/v1/service-requests", json=request(),
                                      headers=desk.as_("belton", "requester")),
        "quote": await post("/v1/quotes", json=draft(notes="Fixed price, 2 sprints"),
                            headers=agent),
        "onboarding": await post("/v1/onboarding", headers=hr, json=new_user(
            start, role_template=None, licences=["SPE_E3"], hardware=[],
            office="Level 3, Collins St")),
        "offboarding": await post("/v1/offboarding", headers=hr, json=exit_form(
            immediate=False, last_working_day=start, reason="moving interstate")),
    }
    for kind, answer in made.items():
        assert answer.status_code == 201, (kind, answer.text)
    ids = {kind: answer.json()["ticket_id"] for kind, answer in made.items()}
    expected = {  # a fact of each kind's request that no view showed before
        "incident": ("request.actual", "Bounce: 550 5.7.1 relay denied"),
        "service_request": ("request.requester.name", "Mia Chen"),
        "quote": ("request.notes", "Fixed price, 2 sprints"),
        "onboarding": ("request.office", "Level 3, Collins St"),
        "offboarding": ("request.reason", "moving interstate"),
    }
    for kind, ticket in ids.items():
        table = await cli(desk, "show", ticket, columns=200)
        assert cells(table, "kind") == kind
        field, value = expected[kind]
        assert cells(table, field) == value, (kind, table)

    # The quote's expiry: the end of day 14 in Melbourne, listed at that instant in UTC.
    valid_until = datetime.fromisoformat(made["quote"].json()["valid_until"])
    in_utc = f"{valid_until.astimezone(UTC):%Y-%m-%d %H:%M}Z"
    client = desk.client_id("belton")

    async def listed() -> str:
        return await cli(desk, "list", "--client", client, "--kind", "quote", columns=200)

    table = await eventually(listed, lambda t: ids["quote"] in t)
    row = next(line for line in table.splitlines() if ids["quote"] in line)
    assert f"sent until {in_utc}" in row, (in_utc, row)
