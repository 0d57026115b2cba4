"""No dead ends over HTTP: a QBR that does not exist says how to make one, and MSP staff
make one for the current quarter on demand, then read it; another client's key sees
nothing of it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from domain.reviews import quarter_label
from tests.web.helpers import assert_problem, eventually, incident_body
from workflows.reviews import QbrWorkflow


async def test_a_qbr_of_the_current_quarter_is_made_on_demand_then_read(desk):
    client = desk.client_id("belton")
    zone = desk.config.client(client).sla.calendar.timezone
    quarter = quarter_label(datetime.now(UTC).astimezone(ZoneInfo(zone)).date())
    path = f"/v1/reports/qbr/{client}/{quarter}"
    agent, director = desk.as_("belton", "agent"), desk.as_("belton", "director")

    missing = assert_problem(await desk.http.get(path, headers=director), 404)
    assert f"POST {path}" in missing["detail"]
    assert f"tempodesk reports qbr {client} {quarter}" in missing["detail"]
    assert missing["produce"] == {"method": "POST", "href": path}
    # Another client's key: the same answer, naming nothing of the client.
    other = assert_problem(await desk.http.get(path, headers=desk.as_("plexacet", "director")),
                           404)
    assert other["detail"] == missing["detail"]

    made = await desk.http.post("/v1/incidents", json=incident_body(), headers=agent)
    assert made.status_code == 201, made.text
    await eventually(lambda: desk.http.get("/v1/tickets", headers=agent),
                     lambda r: len(r.json()["tickets"]) == 1)

    for refused, status in ((desk.as_("belton", "director"), 403),
                            (desk.as_("belton", "requester"), 403),
                            (desk.as_("plexacet", "agent"), 404)):
        assert_problem(await desk.http.post(path, headers=refused), status)
    ordered = await desk.http.post(path, headers=agent)
    assert ordered.status_code == 202, ordered.text
    body = ordered.json()
    assert body["started"] is True and body["workflow_id"] == f"qbr:{client}:{quarter}"
    assert ordered.headers["location"].endswith(path)
    again = await desk.http.post(path, headers=desk.as_("msp", "agent"))
    assert again.status_code == 200 and again.json()["started"] is False  # the same report

    html = await eventually(lambda: desk.http.get(path, headers=director),
                            lambda r: r.status_code == 200, timeout=30)
    assert quarter in html.text and "interim: the quarter so far" in html.text
    assert "1 (1 incidents)" in html.text
    pdf = await desk.http.get(path, params={"format": "pdf"}, headers=agent)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert_problem(await desk.http.get(path, headers=desk.as_("plexacet", "director")), 404)

    future = assert_problem(await desk.http.post(f"/v1/reports/qbr/{client}/2099-Q1",
                                                 headers=agent), 422)
    assert future["errors"][0]["field"] == "quarter"
    assert "has not begun" in future["errors"][0]["message"]
    assert f"to {quarter}" in future["errors"][0]["fix"]
    old = assert_problem(await desk.http.post(f"/v1/reports/qbr/{client}/2001-Q1",
                                              headers=agent), 422)
    assert "more than 8 quarters back" in old["detail"]
    await desk.client.get_workflow_handle_for(QbrWorkflow.run, body["workflow_id"]).terminate(
        "test done")
