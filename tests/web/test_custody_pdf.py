"""The chain-of-custody PDF over HTTP on the dev server: a user exit's laptop comes back,
the PDF shows it (the same bytes on every read), and only a user exit the caller may see
has one."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.documents.pdf_text import pdf_text
from tests.web.helpers import assert_problem, eventually, incident_body
from tests.web.test_offboarding import exit_form


@pytest.fixture
def exits(graph_desk):
    return graph_desk[0]


async def test_the_custody_pdf_of_a_user_exit(exits):
    desk = exits
    hr, agent = desk.as_("belton", "hr"), desk.as_("belton", "agent")
    form = exit_form(hardware=[{"serial": "PF3X9K", "managed_device_id": "dev-1"},
                               {"serial": "R58M12", "kind": "phone"}])
    made = await desk.http.post("/v1/offboarding", json=form, headers=hr)
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]
    back = await desk.http.post(f"/v1/tickets/{ticket}/hardware-returns", headers=agent,
                                json={"serial": "PF3X9K", "condition": "good, charger missing"})
    assert back.status_code == 200, back.text

    async def view():
        return (await desk.http.get(f"/v1/tickets/{ticket}", headers=hr)).json()

    # Access revoked: from here on only the custody record changes the PDF.
    done = await eventually(view, lambda v: v["access_revoked_at"] is not None, timeout=60)

    got = await desk.http.get(f"/v1/tickets/{ticket}/custody.pdf", headers=hr)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"] == (
        f'attachment; filename="{ticket}-chain-of-custody.pdf"')
    assert got.headers["etag"] == f'"{hashlib.sha256(got.content).hexdigest()}"'
    text = pdf_text(got.content)
    for expected in (ticket, "Jo Tran", "Harbourside Legal", "PF3X9K", "returned",
                     "agent:belton-agent", "good, charger missing", "R58M12", "awaited"):
        assert expected in text, expected
    assert "AEDT" in text or "AEST" in text  # times in Melbourne too
    canonical = json.dumps(done["custody"], sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() in text  # printed copy checkable

    again = await desk.http.get(f"/v1/tickets/{ticket}/custody.pdf", headers=agent)
    assert again.content == got.content and again.headers["etag"] == got.headers["etag"]

    # Another client's key: as if the ticket did not exist.
    other = await desk.http.get(f"/v1/tickets/{ticket}/custody.pdf",
                                headers=desk.as_("betterworld", "hr"))
    assert assert_problem(other, 404)["detail"] == f"no ticket {ticket}"
    # An incident has no chain of custody.
    incident = await desk.http.post("/v1/incidents", json=incident_body(),
                                    headers=desk.as_("belton", "requester"))
    assert incident.status_code == 201, incident.text
    wrong = await desk.http.get(f"/v1/tickets/{incident.json()['ticket_id']}/custody.pdf",
                                headers=desk.as_("belton", "requester"))
    assert "user exit" in assert_problem(wrong, 409)["detail"]
