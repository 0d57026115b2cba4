"""No dead ends over HTTP: a QBR that does not exist says how to make one, and MSP staff
make one for the current quarter on demand, then read it (another client's key sees
nothing of it); a field the desk fills itself (who acted, the channel, ...) is absent from
every body's schema and refused by name when sent, never silently replaced."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from api.app import create_app
from domain.request_bodies import FILLED_BY_THE_DESK, CallerBody
from domain.reviews import quarter_label
from domain.roles import Role, allowed
from tests.conftest import make_settings
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


# ------------------------------------------------------------------ fields the desk fills


def _caller_bodies() -> list:
    from tests.web.test_security_matrix import TABLE

    return [e for e in TABLE if isinstance(e.body_model, type)
            and issubclass(e.body_model, CallerBody)]


def test_no_request_body_in_the_openapi_document_has_a_field_the_desk_fills():
    from tests.web.test_security_matrix import isolated_config

    schema = create_app(make_settings(), isolated_config()).openapi()
    components = schema["components"]["schemas"]
    assert "a value sent is replaced" not in json.dumps(schema)
    bodies = _caller_bodies()
    assert len(bodies) == 15
    for endpoint in bodies:
        operation = schema["paths"][endpoint.path][endpoint.method.lower()]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = components[ref.rsplit("/", 1)[1]]
        assert body["additionalProperties"] is False, endpoint.id
        assert not set(endpoint.body_model.filled) & set(body["properties"]), endpoint.id
    # And no other body offers 'by' either (an incident's 'channel' is the caller's own).
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref")
            if ref:
                props = components[ref.rsplit("/", 1)[1]].get("properties", {})
                assert "by" not in props, f"{method.upper()} {path}"


async def test_a_field_the_desk_fills_is_refused_by_name_on_every_route(desk):
    made = await desk.http.post("/v1/incidents", json=incident_body(),
                                headers=desk.as_("belton", "requester"))
    ticket = made.json()["ticket_id"]
    checked = 0
    for endpoint in _caller_bodies():
        model = endpoint.body_model
        role = next(r for r in ("agent", "director", "hr", "requester")
                    if allowed(Role(r), endpoint.action))
        url = endpoint.path.format(ticket_id=ticket, quote_id=ticket)
        for name in model.filled:
            sent = {**model.examples[0], name: "admin:someone-else"}
            answer = await desk.http.post(url, json=sent, headers=desk.as_("belton", role))
            problem = assert_problem(answer, 422)
            assert problem["errors"] == [{
                "field": name, "in": "body", "message": f"'{name}' is not the caller's to set",
                "fix": f"remove '{name}': {FILLED_BY_THE_DESK[name]}"}], endpoint.id
            checked += 1
    assert checked == 20  # 15 'by', a decision's director, channel and address, and two more
    view = (await desk.http.get(f"/v1/tickets/{ticket}",
                                headers=desk.as_("belton", "agent"))).json()
    # Nothing reached the ticket: no one acted on it.
    assert {e["by"] for e in view["events"]} <= {"system", "requester:belton-requester"}
    assert view["status"] == "new" and view["assignee"] is None and not view["comments"]


async def test_the_recorded_actor_is_the_credential(desk):
    agent, requester = desk.as_("belton", "agent"), desk.as_("belton", "requester")
    director = desk.as_("belton", "director")
    ticket = (await desk.http.post("/v1/incidents", json=incident_body(),
                                   headers=requester)).json()["ticket_id"]
    url = f"/v1/tickets/{ticket}"
    assigned = await desk.http.post(f"{url}/assign", json={"assignee": "sam"}, headers=agent)
    assert assigned.status_code == 200, assigned.text
    moved = await desk.http.post(f"{url}/transition", json={"to": "in_progress"},
                                 headers=agent)
    assert moved.status_code == 200, moved.text
    escalated = await desk.http.post(f"{url}/escalate", headers=director, json={
        "reason": "Three days and the office still cannot send e-mail"})
    assert escalated.status_code == 200, escalated.text
    said = await desk.http.post(f"{url}/comments", json={"body": "Still broken"},
                                headers=requester)
    assert said.status_code == 202, said.text
    view = await eventually(lambda: desk.http.get(url, headers=agent),
                            lambda r: bool(r.json()["comments"]))
    events = {e["kind"]: e["by"] for e in view.json()["events"]}
    assert events["assigned"] == events["status:in_progress"] == "agent:belton-agent"
    assert events["client_escalation"] == "director:belton-director"
    [comment] = view.json()["comments"]
    assert (comment["by"], comment["from_requester"]) == ("requester:belton-requester", True)

    quote = await desk.http.post("/v1/quotes", headers=agent, json={
        "title": "Three laptops", "lines": [{"description": "Laptop", "quantity": "3",
                                             "unit_price": "1800"}]})
    assert quote.status_code == 201, quote.text
    decided = await desk.http.post(f"/v1/quotes/{quote.json()['ticket_id']}/decision",
                                   json={"approve": True}, headers=director)
    assert decided.status_code == 200, decided.text
    decision = decided.json()["decision"]
    assert (decision["by"], decision["director_email"], decision["channel"]) == (
        "director:belton-director", "mia.chen@harbourside.example", "api")


# ------------------------------------------------------------------ a missing field's shape

REQUESTER = ("add 'requester': an object with 'name' (text of at most 200 characters) and "
             "'email' (an e-mail address)")


async def test_a_missing_fields_error_shows_its_shape(desk):
    agent, hr = desk.as_("belton", "agent"), desk.as_("belton", "hr")
    ticket = (await desk.http.post("/v1/incidents", json=incident_body(),
                                   headers=agent)).json()["ticket_id"]
    cases = [
        ("/v1/service-requests", agent, {"subject": "New starter laptop", "type": "basic"},
         {"requester": REQUESTER}),
        ("/v1/quotes", agent, {"title": "Three laptops"},
         {"lines": "add 'lines': a list of objects with 'description', 'quantity' and "
                   "'unit_price'"}),
        ("/v1/offboarding", hr, {"employee": {"name": "Sam Roe", "email": "sam@x.example"}},
         {"user_principal_name": "add 'user_principal_name': text of at most 320 "
                                 "characters",
          "last_working_day": "add 'last_working_day': a date, e.g. 2027-02-01"}),
        (f"/v1/tickets/{ticket}/transition", agent, {"reason": "Waiting on Jo"},
         {"to": "add 'to': one of: new, acknowledged, in_progress, pending, on_hold, "
                "resolved, closed"}),
        (f"/v1/tickets/{ticket}/schedule", agent, {},
         {"at": "add 'at': a date-time with offset, e.g. 2027-02-01T09:00:00+11:00"}),
        ("/v1/sla/preview", agent, {"policy": "belton", "priority": "P2"},
         {"opened_at": "add 'opened_at': a date-time with offset, e.g. "
                       "2027-02-01T09:00:00+11:00"}),
    ]
    for path, who, body, fixes in cases:
        problem = assert_problem(await desk.http.post(path, json=body, headers=who), 422)
        named = {e["field"]: e["fix"] for e in problem["errors"]}
        assert named == fixes, path
    # A missing query parameter too.
    review = assert_problem(await desk.http.get(f"/v1/quotes/{ticket}/review"), 422)
    assert review["errors"] == [{"field": "token", "in": "query", "message": "Field required",
                                 "fix": "add 'token': text of at most 2048 characters"}]
    # A wrong shape is answered with the right one.
    wrong = assert_problem(await desk.http.post("/v1/service-requests", headers=agent, json={
        "subject": "New starter laptop", "type": "basic", "requester": "Jo Tran"}), 422)
    assert wrong["errors"][0]["fix"] == REQUESTER.replace("add 'requester':", "send")


async def test_every_routes_missing_fields_are_answered_with_their_shape(desk):
    """Every JSON-body route, sent {}: each missing field's fix gives its shape."""
    from tests.web.test_security_matrix import TABLE

    ticket = (await desk.http.post("/v1/incidents", json=incident_body(),
                                   headers=desk.as_("belton", "agent"))).json()["ticket_id"]
    values = {"ticket_id": ticket, "quote_id": ticket, "token": "not-a-signed-link"}
    checked = 0
    for endpoint in TABLE:
        if endpoint.body_model is None or endpoint.method != "POST":
            continue
        role = next(r for r in ("agent", "director", "hr", "integration")
                     if endpoint.action is None or allowed(Role(r), endpoint.action))
        url = endpoint.path.format(**{p: values[p] for p in endpoint.path_params})
        answer = await desk.http.post(url, json={}, headers=desk.as_("belton", role))
        if answer.status_code != 422:
            continue  # nothing required (e.g. a comment-less retry), or refused before
        for error in answer.json()["errors"]:
            if error["message"] == "Field required":
                assert error["fix"].startswith(f"add '{error['field']}': "), (endpoint.id, error)
                assert "see /docs" not in error["fix"], (endpoint.id, error)
                checked += 1
    assert checked >= 30


# ------------------------------------------------------------------ every body has an example


def test_every_json_body_route_shows_an_example_its_model_accepts():
    from api.body_examples import api_routes, body_model_of
    from tests.web.test_security_matrix import isolated_config

    app = create_app(make_settings(), isolated_config())
    schema = app.openapi()
    checked, missing = 0, []
    for route in api_routes(app.routes):
        for method in sorted(route.methods):
            operation = schema["paths"].get(route.path, {}).get(method.lower(), {})
            content = operation.get("requestBody", {}).get("content", {})
            scim = content.get("application/scim+json")
            if scim is not None:  # SCIM's own format: read by the route itself
                assert scim.get("examples"), f"{method} {route.path}: no example"
                checked += 1
            media = content.get("application/json")
            if media is None:
                continue
            model = body_model_of(route)
            assert model is not None, f"{method} {route.path}: a JSON body without a model"
            examples = media.get("examples") or {}
            if not examples:
                missing.append(f"{method} {route.path} ({model.__name__})")
            for name, example in examples.items():
                assert example["summary"], (route.path, name)
                model.model_validate(example["value"])  # raises if the example is wrong
                checked += 1
    assert missing == [], ("JSON-body routes without an example: add one to "
                           f"api/body_examples.py (or the body's examples): {missing}")
    assert checked >= 30


def test_docs_api_md_is_what_the_app_says():
    """docs/api.md: `python -m api.reference` writes it from the route table."""
    from api.body_examples import RAW_BODIES
    from api.reference import PAGE, page
    from domain.tenants import load_config
    from tests.conftest import DEMO_CONFIG

    app = create_app(make_settings(), load_config(DEMO_CONFIG))
    assert PAGE.read_text() == page(app), "run: .venv/bin/python -m api.reference"
    # Bodies the app reads itself are documented there by hand: none is forgotten.
    from api.body_examples import api_routes, body_model_of

    schema = app.openapi()
    for route in api_routes(app.routes):
        for method in route.methods & {"POST", "PUT", "PATCH"}:
            operation = schema["paths"].get(route.path, {}).get(method.lower(), {})
            raw = "requestBody" in operation and body_model_of(route) is None
            if raw or (route.path.startswith("/scim/") and method != "DELETE"
                       and not route.path.endswith(("Schemas", "ResourceTypes"))):
                assert f"{method} {route.path}" in RAW_BODIES, f"{method} {route.path}"


async def test_a_report_whose_worker_has_not_picked_it_up_is_not_an_error(dev_client,
                                                                          task_queue):
    """Asked for while no worker takes its task (a busy or stopped worker): the order is
    placed (202), asked again it is 'compiling' (200), and a read that the engine does not
    answer in the query's few seconds is 503 with Retry-After (retry: nothing says it is
    being made) - never a 500, never a longer wait."""
    from domain.tenants import load_config
    from tests.conftest import DEMO_CONFIG, isolated, served

    config = isolated(load_config(DEMO_CONFIG))
    app = create_app(make_settings(task_queue=f"{task_queue}-no-worker"), config, dev_client)
    async with served(app) as (_, http):
        client = next(c.id for c in config.clients if c.id.startswith("belton-"))
        zone = config.client(client).sla.calendar.timezone
        quarter = quarter_label(datetime.now(UTC).astimezone(ZoneInfo(zone)).date())
        path = f"/v1/reports/qbr/{client}/{quarter}"
        agent = {"Authorization": "Bearer td_belton_agent_demo"}
        first = await http.post(path, headers=agent)
        assert (first.status_code, first.json()["status"]) == (202, "compiling"), first.text
        again = await http.post(path, headers=agent)
        assert (again.status_code, again.json()["status"]) == (200, "compiling"), again.text
        unanswered = await http.get(path, headers=agent)
        read = assert_problem(unanswered, 503)
        assert "did not answer" in read["detail"] and unanswered.headers["Retry-After"]
        await dev_client.get_workflow_handle(first.json()["workflow_id"]).terminate("done")
