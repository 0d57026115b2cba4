"""The request in a ticket's view (issue 19), without a server: what an intake form
becomes, who reads its personal fields, and how the Web UI's details print user text;
then, on the time-skipping server, a run carried over from before requests were kept
(continue-as-new state without one) shows its request all the same."""

from __future__ import annotations

from datetime import UTC, datetime

from desk.mail import incident_report
from domain.email_inbound import InboundMessage
from domain.incidents import IncidentIntake, IncidentReport
from domain.offboarding import ExitForm, ExitIntake
from domain.roles import Role
from domain.ticket_details import DETAIL_TEXT_CHARS, incident_details, request_details
from domain.visibility import Viewer, redacted
from tests.web.helpers import incident_body
from tests.web.test_offboarding import exit_form
from tests.workflows.support import incident_worker, make_start, start_incident
from workflows.incident import IncidentWorkflow

CONTACT = {"name": "Jo Tran", "email": "jo.tran@harbourside.example", "phone": "+61 400 1"}


def test_a_mailed_in_report_is_its_body_and_answers_nothing():
    message = InboundMessage(message_id=None, sender="mia.chen@harbourside.example",
                             sender_name="Mia Chen",
                             subject="Scanner down", text="It stopped at 9.\nMia")
    intake = IncidentIntake.of(incident_report(message, client_id=None))
    assert intake.original_text == "It stopped at 9.\nMia"
    assert (intake.doing, intake.expected, intake.actual, intake.tried) == (None,) * 4
    assert intake.technical_contact.name == "Mia Chen"
    # The same words typed into the form are answers, not a mail body.
    typed = IncidentIntake.of(IncidentReport.model_validate(incident_body(channel="email")))
    assert typed.original_text is None and typed.doing == "Sending a quote to a customer"


def test_the_web_ui_static_details_call_a_mail_body_mail(config):
    message = InboundMessage(message_id=None, sender="mia.chen@harbourside.example",
                             subject="Scanner down", text="It stopped at 9.\nMia")
    start = make_start(datetime(2026, 12, 7, tzinfo=UTC))
    typed = incident_details(start, config.client("belton"))
    assert "**Doing:** Sending a quote to a customer" in typed and "**Mail:**" not in typed
    start.report = incident_report(message, client_id=None)
    mailed = incident_details(start, config.client("belton"))
    assert "**Mail:** It stopped at 9. Mia" in mailed and "**Doing:**" not in mailed


def incident_view(**report):
    start = make_start(datetime(2026, 12, 7, tzinfo=UTC))
    start.report = IncidentReport.model_validate(incident_body(**report))
    return IncidentWorkflow.initial_state(start).view()


def test_a_contacts_phone_is_read_by_hr_and_the_desk_only():
    view = incident_view(technical_contact=CONTACT)
    for role in (Role.AGENT, Role.ADMIN, Role.HR):
        assert redacted(view, Viewer(role)) is view
    for role in (Role.REQUESTER, Role.DIRECTOR, Role.INTEGRATION):
        shown = redacted(view, Viewer(role))
        assert shown.request.technical_contact.phone is None
        assert shown.request.technical_contact.email == CONTACT["email"]
        assert shown.request.doing == view.request.doing
        assert shown.withheld == ["request.technical_contact.phone"]
    assert view.request.technical_contact.phone == CONTACT["phone"]  # the original untouched
    no_phone = incident_view(technical_contact={**CONTACT, "phone": None})
    assert redacted(no_phone, Viewer(Role.REQUESTER)).withheld == []


def test_a_leavers_reason_is_hrs_and_the_desks():
    intake = ExitIntake.of(ExitForm.model_validate(exit_form(reason="dismissed")))
    assert (intake.reason, intake.return_window_days, intake.immediate) == (
        "dismissed", 14, True)
    assert "employee" not in ExitIntake.model_fields  # the leaver's own contact stays out


def test_web_ui_details_print_user_text_as_written_and_bounded():
    intake = IncidentIntake.of(IncidentReport.model_validate(incident_body(
        doing="Open [the portal](https://evil.example) | *now*\nthen <b>this</b>",
        actual="x" * 5000, technical_contact=CONTACT)))
    details = request_details(intake)
    assert details.startswith("#### Request\n\n| | |\n|---|---|\n")
    assert ("| Doing | Open \\[the portal\\](https://evil.example) \\| \\*now\\* then "
            "\\<b\\>this\\</b\\> |") in details
    assert f"| Actual | {'x' * (DETAIL_TEXT_CHARS - 1)}… |" in details
    assert "| Technical contact phone | +61 400 1 |" in details
    assert "Original text" not in details and "Severity" not in details  # not given
    assert request_details(None) == ""


async def test_a_run_carried_over_from_before_shows_its_request(ts_env, config, task_queue):
    start = make_start(await ts_env.get_current_time())
    carried = IncidentWorkflow.initial_state(start)
    carried.request = None  # as continue-as-new carried state before requests were kept
    start.state = carried
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await start_incident(ts_env.client, start, task_queue)
        view = await handle.query(IncidentWorkflow.view)
    assert view.request == IncidentIntake.of(start.report)
    assert view.request.actual == "Bounce: 550 5.7.1 relay denied"
