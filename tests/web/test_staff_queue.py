"""MSP staff work many clients from one queue; a client's credential still sees only its
own tickets (another client's ticket: 404, as if it did not exist)."""

from __future__ import annotations

from datetime import datetime

from tests.web.helpers import assert_problem, eventually, incident_body

STAFF = {"Authorization": "Bearer td_msp_agent_demo"}
BELTON_ONLY = {"Authorization": "Bearer td_msp_belton_agent_demo"}


async def raise_for(desk, client: str, **body) -> str:
    response = await desk.http.post("/v1/incidents", json=incident_body(**body),
                                    headers=desk.as_(client, "requester"))
    assert response.status_code == 201, response.text
    return response.json()["ticket_id"]


async def test_staff_queue_spans_clients_sorted_by_next_due(desk):
    belton_p3 = await raise_for(desk, "belton", impact="medium", urgency="medium")
    plexacet = await raise_for(desk, "plexacet")
    belton_p1 = await raise_for(desk, "belton")
    mine = {belton_p3, plexacet, belton_p1}
    clients = [desk.client_id("belton"), desk.client_id("plexacet")]

    async def queue():
        response = await desk.http.get("/v1/tickets", headers=STAFF,
                                       params={"sort": "next_due", "limit": 500})
        assert response.status_code == 200, response.text
        listed = response.json()["tickets"]
        # Only this desk's clients: the suite's other desks share the Temporal server.
        assert {t["client_id"] for t in listed} <= {c.id for c in desk.config.clients}
        return [t for t in listed if t["client_id"] in clients]

    rows = await eventually(queue, lambda r: {t["ticket_id"] for t in r} == mine)
    assert {t["client_id"] for t in rows} == set(clients)  # two clients, one queue
    dues = [datetime.fromisoformat(t["next_due"]) for t in rows]
    assert dues == sorted(dues)
    assert all(t["next_due"] == (t["response_due"] or t["resolution_due"]) for t in rows)
    assert rows[0]["ticket_id"] == belton_p1  # a P1 answers first

    # Filters: one client, priority, breached.
    only = await desk.http.get("/v1/tickets", headers=STAFF, params={
        "client": clients[1], "limit": 500})
    assert {t["ticket_id"] for t in only.json()["tickets"]} == {plexacet}
    p3 = await desk.http.get("/v1/tickets", headers=STAFF,
                             params={"client": clients[0], "priority": "P3"})
    assert [t["ticket_id"] for t in p3.json()["tickets"]] == [belton_p3]

    # Staff work any client's ticket, recorded under their own name.
    assigned = await desk.http.post(f"/v1/tickets/{plexacet}/assign", headers=STAFF,
                                    json={"assignee": "sam@msp.example"})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["events"][-1]["by"] == "agent:msp-agent"


async def test_client_credentials_and_limited_staff_see_only_their_clients(desk):
    belton = await raise_for(desk, "belton")
    plexacet = await raise_for(desk, "plexacet")
    belton_agent = desk.as_("belton", "agent")

    async def listed(headers):
        response = await desk.http.get("/v1/tickets", headers=headers,
                                       params={"limit": 500})
        return {t["ticket_id"] for t in response.json()["tickets"]}

    await eventually(lambda: listed(STAFF), lambda ids: {belton, plexacet} <= ids)
    assert plexacet not in await listed(belton_agent)
    assert belton in await listed(belton_agent)
    assert plexacet not in await listed(BELTON_ONLY)
    for headers in (belton_agent, BELTON_ONLY):
        missing = assert_problem(await desk.http.get(f"/v1/tickets/{plexacet}",
                                                     headers=headers), 404)
        assert missing["detail"] == f"no ticket {plexacet}"
    refused = await desk.http.get("/v1/tickets", headers=BELTON_ONLY,
                                  params={"client": desk.client_id("plexacet")})
    assert assert_problem(refused, 404)["errors"][0]["field"] == "client"
    shown = await desk.http.get(f"/v1/tickets/{belton}", headers=BELTON_ONLY)
    assert shown.status_code == 200 and shown.json()["kind"] == "incident"


async def test_staff_intake_names_the_client(desk):
    body = incident_body(channel="phone")
    missing = assert_problem(await desk.http.post("/v1/incidents", json=body,
                                                  headers=STAFF), 422)
    assert missing["errors"][0]["field"] == "client_id"
    assert desk.client_id("belton") in missing["errors"][0]["fix"]
    plexacet = desk.client_id("plexacet")
    made = await desk.http.post("/v1/incidents", json={**body, "client_id": plexacet},
                                headers=STAFF)
    assert made.status_code == 201, made.text
    assert made.json()["client_id"] == plexacet
    not_served = await desk.http.post("/v1/incidents", json={**body, "client_id": plexacet},
                                      headers=BELTON_ONLY)
    assert assert_problem(not_served, 422)["errors"][0]["field"] == "client_id"
    elsewhere = await desk.http.post("/v1/incidents", json={**incident_body(),
                                                            "client_id": plexacet},
                                     headers=desk.as_("belton", "requester"))
    assert assert_problem(elsewhere, 422)["errors"][0]["fix"] == "remove 'client_id'"
