"""The whole request visible (issue 19): what a requester told us at intake - the four
answers, the technical contact, the priority inputs they designated, a mailed-in ticket's
body - is in the ticket's view (GET /v1/tickets/{id}), in `tempodesk tickets show` and in
the Web UI's details, for those who could see the ticket before and no one else: a
contact's phone is read by HR and the desk only; another client's requester gets 404.
The Web UI's details are sealed by the payload codec like history."""

from __future__ import annotations

import base64
import os
from datetime import date, timedelta

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.api.workflowservice.v1 import QueryWorkflowRequest
from temporalio.client import Client

from domain.ids import TicketKind, workflow_id
from domain.tenants import Providers
from payload_codec import ENCODING
from provider_sandbox import ProviderServer
from temporal_client import data_converter
from tests.conftest import make_settings, provider_desk, sandbox_sites
from tests.web.helpers import assert_problem, eventually, incident_body
from tests.web.test_cli_tickets import cli
from tests.web.test_email_inbound import GATEWAY, mail
from tests.web.test_offboarding import exit_form
from tests.web.test_onboarding import new_user

PHONE = "+61 3 9000 1234"
CONTACT = {"name": "Jo Tran", "email": "jo.tran@harbourside.example", "phone": PHONE}
ANSWERS = ("doing", "expected", "actual", "tried")
METADATA_QUERY = "__temporal_workflow_metadata"  # what the Web UI asks for current details


async def raise_incident(desk, **changes) -> str:
    made = await desk.http.post("/v1/incidents", headers=desk.as_("belton", "requester"),
                                json=incident_body(technical_contact=CONTACT, **changes))
    assert made.status_code == 201, made.text
    return made.json()["ticket_id"]


async def test_an_agent_reads_the_four_answers_the_contact_and_the_designation(desk):
    ticket = await raise_incident(desk)
    shown = await desk.http.get(f"/v1/tickets/{ticket}", headers=desk.as_("belton", "agent"))
    assert shown.status_code == 200, shown.text
    request = shown.json()["request"]
    assert {k: request[k] for k in ANSWERS} == {
        k: incident_body()[k] for k in ANSWERS}  # the answers sent, whole
    assert request["technical_contact"] == CONTACT
    assert (request["impact"], request["urgency"], request["severity"]) == ("high", "high", None)
    assert request["original_text"] is None  # raised over HTTP: the answers are the request
    assert shown.json()["withheld"] == []

    # The CLI prints the same, a row each.
    table = await cli(desk, "show", ticket, columns=200)
    for fact in ("request.doing", "Sending a quote to a customer", "request.tried",
                 "Restarted Outlook and the PC", "request.technical_contact.phone", PHONE,
                 "request.impact"):
        assert fact in table, (fact, table)

    # A colleague at the client reads the request, but not the contact's phone number.
    theirs = await desk.http.get(f"/v1/tickets/{ticket}",
                                 headers=desk.as_("belton", "requester"))
    assert theirs.json()["request"]["doing"] == "Sending a quote to a customer"
    assert theirs.json()["request"]["technical_contact"] == {**CONTACT, "phone": None}
    assert theirs.json()["withheld"] == ["request.technical_contact.phone"]
    # Another client's requester: the ticket does not exist for them.
    assert_problem(await desk.http.get(f"/v1/tickets/{ticket}",
                                       headers=desk.as_("plexacet", "requester")), 404)


async def test_a_designated_severity_is_shown_as_given(desk):
    severity = {"users_affected_pct": 60, "work_stoppage": "significant",
                "workaround": "none", "business_risk": "major"}
    ticket = await raise_incident(desk, impact=None, urgency=None, severity=severity)
    shown = (await desk.http.get(f"/v1/tickets/{ticket}",
                                 headers=desk.as_("belton", "agent"))).json()
    assert shown["request"]["severity"] == severity
    assert (shown["request"]["impact"], shown["request"]["urgency"]) == (None, None)


async def test_a_mailed_in_ticket_shows_its_body(desk):
    body = "Hi team,\n\nThe scanner on level 2 stopped e-mailing PDFs this morning.\n\nMia"
    message = mail("mia.chen@harbourside.example", "Scanner not sending", body)
    answer = await desk.http.post("/v1/email/inbound", content=bytes(message), headers=GATEWAY)
    assert answer.status_code == 202, answer.text
    ticket = answer.json()["ticket_id"]
    shown = (await desk.http.get(f"/v1/tickets/{ticket}",
                                 headers=desk.as_("belton", "agent"))).json()
    assert shown["channel"] == "email"
    assert shown["request"]["original_text"].strip() == body
    # Mail answers no questions: no placeholder passes for an answer.
    assert [shown["request"][k] for k in ANSWERS] == [None] * 4
    assert shown["request"]["technical_contact"]["email"] == "mia.chen@harbourside.example"
    assert "The scanner on level 2" in await cli(desk, "show", ticket, columns=200)


async def test_the_web_ui_details_show_the_request_sealed_by_the_codec(dev_client, config,
                                                                       task_queue):
    key = base64.b64encode(os.urandom(32)).decode()
    sealed = {"codec_keys": {"test-1": key}, "codec_key_id": "test-1"}
    encrypted = await Client.connect(dev_client.service_client.config.target_host,
                                     namespace=dev_client.namespace,
                                     data_converter=data_converter(make_settings(**sealed)))
    with ProviderServer() as providers:
        async with provider_desk(encrypted, config, providers, sandbox_sites(Providers()),
                                 task_queue=task_queue, **sealed) as desk:
            ticket = await raise_incident(desk)
            handle = encrypted.get_workflow_handle(workflow_id(TicketKind.INCIDENT, ticket))

            async def current() -> str:
                metadata = await handle.query(METADATA_QUERY, result_type=WorkflowMetadata)
                return metadata.current_details

            details = await eventually(current, lambda d: "#### Request" in d)
            for fact in ("| Doing | Sending a quote to a customer |",
                         "| Actual | Bounce: 550 5.7.1 relay denied |",
                         "| Technical contact name | Jo Tran |",
                         f"| Technical contact phone | {PHONE} |",
                         "| Impact | high |", "| Urgency | high |"):
                assert fact in details, (fact, details)

            # What the server holds and answers without the key: ciphertext only.
            raw = await dev_client.workflow_service.query_workflow(QueryWorkflowRequest(
                namespace=dev_client.namespace,
                execution=WorkflowExecution(workflow_id=handle.id),
                query=WorkflowQuery(query_type=METADATA_QUERY)))
            [payload] = raw.query_result.payloads
            assert payload.metadata["encoding"] == ENCODING
            assert b"Sending a quote" not in payload.data and PHONE.encode() not in payload.data
            described = await dev_client.get_workflow_handle(handle.id).describe()
            static = described.raw_description.execution_config.user_metadata.details
            assert static.metadata["encoding"] == ENCODING
            assert b"Restarted Outlook" not in static.data


async def test_a_leavers_reason_and_a_joiners_notes_stay_with_hr_and_the_desk(graph_desk):
    desk, _ = graph_desk
    hr = desk.as_("belton", "hr")
    start = (date.today() + timedelta(days=30)).isoformat()
    leaver = await desk.http.post("/v1/offboarding", headers=hr, json=exit_form(
        immediate=False, last_working_day=start, reason="dismissed: misconduct",
        manager={"name": "Mia Chen", "email": "mia.chen@harbourside.example",
                 "phone": "+61 400 222 333"}))
    joiner = await desk.http.post("/v1/onboarding", headers=hr, json=new_user(
        start, role_template=None, licences=["SPE_E3"], hardware=[],
        notes="Needs a screen reader"))
    assert leaver.status_code == joiner.status_code == 201, (leaver.text, joiner.text)
    exit_id, join_id = leaver.json()["ticket_id"], joiner.json()["ticket_id"]

    async def view(ticket: str, role: str) -> dict:
        shown = await desk.http.get(f"/v1/tickets/{ticket}", headers=desk.as_("belton", role))
        assert shown.status_code == 200, shown.text
        return shown.json()

    for role in ("hr", "agent"):
        exit_view, join_view = await view(exit_id, role), await view(join_id, role)
        assert exit_view["request"]["reason"] == "dismissed: misconduct"
        assert exit_view["request"]["manager"]["phone"] == "+61 400 222 333"
        assert join_view["request"]["notes"] == "Needs a screen reader"
        assert join_view["request"]["department"] == "Legal"
    exit_view, join_view = await view(exit_id, "director"), await view(join_id, "director")
    assert exit_view["request"]["reason"] is None
    assert exit_view["request"]["manager"] == {"name": "Mia Chen", "phone": None,
                                               "email": "mia.chen@harbourside.example"}
    assert exit_view["withheld"] == ["request.manager.phone", "request.reason"]
    assert exit_view["request"]["last_working_day"] == start  # the exit itself: shown
    assert join_view["request"]["notes"] is None
    assert join_view["request"]["department"] == "Legal"
    assert join_view["withheld"] == ["personal_email", "personal_phone", "request.notes"]
