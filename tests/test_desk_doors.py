"""The desk operations behind the mail, alert, SCIM, survey and report doors, called as a
new door would call them (no HTTP): each checks the caller's role itself (403) and reaches
only its own client's people and reports (404); and the findings fixed on the way (a
refused SCIM onboarding, a QBR whose engine does not answer) through their doors."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from scim2_models import Context, NotFoundException

import composition
from desk import directory
from desk.alerts import take_alertmanager, take_event
from desk.directory import People, create_user
from desk.errors import DeskError
from desk.mail import take_message
from desk.principal import Principal
from desk.reports import order_qbr, read_qbr
from desk.surveys import answer_nps
from domain.alerts import AlertmanagerWebhook, EventIn
from domain.nps import NpsAnswer
from domain.reviews import quarter_label
from domain.roles import Role
from domain.scim import ScimUser, validated
from domain.sender_auth import judged
from domain.tenants import load_config
from tests.conftest import isolated, make_settings, served
from tests.test_reports_cli import own_config, reports
from tests.web.helpers import assert_problem
from tests.web.test_alerts import am_alert, am_webhook, event
from tests.web.test_scim import ONBOARDING, SCIM, new_user

TEMPODESK = str(Path(sys.executable).parent / "tempodesk")
MAIL = (b"From: Sam <sam@belton.example>\r\nTo: help@msp.example\r\n"
        b"Subject: Printer down\r\nMessage-ID: <desk-doors@belton.example>\r\n\r\n"
        b"The printer on floor 2 is down.\r\n")


def of(client: str, role: Role) -> Principal:
    return Principal.of_client(client, role, "test", "api_key")


def staff(role: Role) -> Principal:
    return Principal(None, role, "test", "api_key")


def this_quarter(desk, client: str) -> str:
    zone = desk.config.client(client).sla.calendar.timezone
    return quarter_label(datetime.now(UTC).astimezone(ZoneInfo(zone)).date())


async def refused(call, status: int) -> DeskError:
    with pytest.raises(DeskError) as caught:
        await call
    assert caught.value.status == status, caught.value.detail
    return caught.value


# ---------------------------------------------------------------- mail and alerts


async def test_take_a_mail_refuses_a_role_that_may_not_post_mail(desk):
    belton = desk.client_id("belton")
    for principal in (of(belton, Role.REQUESTER), of(belton, Role.DIRECTOR),
                      staff(Role.AGENT)):
        error = await refused(take_message(desk.state, MAIL, principal), 403)
        assert "integration" in error.detail  # the roles that may


def test_only_mail_through_the_msps_own_mta_can_authenticate_its_sender():
    """The trust rule the mail operation applies, pure: the same passing headers vouch
    for the sender through the MSP's MTA, and for nobody when a client's key posts them."""
    results = ["mx.msp.example; dmarc=pass header.from=belton.example"]
    through = judged(results, "sam@belton.example", 1, ["mx.msp.example"], True)
    assert through.authenticated, through.reason
    posted = judged(results, "sam@belton.example", 1, ["mx.msp.example"], False)
    assert not posted.authenticated and "client's own key" in posted.reason


async def test_take_an_alert_refuses_other_roles_and_an_msp_key_as_desk_errors(desk):
    belton = desk.client_id("belton")
    hook = AlertmanagerWebhook.model_validate(am_webhook(am_alert("feedbeef",
                                                                  datetime.now(UTC))))
    trigger = EventIn.model_validate(event("trigger", "desk-doors"))
    for principal in (of(belton, Role.REQUESTER), of(belton, Role.AGENT), staff(Role.ADMIN)):
        await refused(take_alertmanager(desk.state, principal, hook), 403)
        await refused(take_event(desk.state, principal, trigger), 403)
    # The MSP's own integration key may post alerts, but names no client's alerts.
    msp_key = staff(Role.INTEGRATION)
    error = await refused(take_alertmanager(desk.state, msp_key, hook), 403)
    assert "client's own integration key" in error.detail
    await refused(take_event(desk.state, msp_key, trigger), 403)


# ---------------------------------------------------------------- SCIM


async def test_a_scim_directory_is_the_integration_keys_own_clients(desk):
    belton, betterworld = desk.client_id("belton"), desk.client_id("betterworld")
    base = f"{desk.base_url}{SCIM}"
    for role in (Role.REQUESTER, Role.HR, Role.AGENT):
        with pytest.raises(DeskError) as caught:
            People(desk.state, of(belton, role), base)
        assert caught.value.status == 403
    people = People(desk.state, of(belton, Role.INTEGRATION), base)
    resource = validated(ScimUser, new_user("ivy.ng@harbourside.example"),
                         Context.RESOURCE_CREATION_REQUEST)
    user = await create_user(people, resource)
    assert user.client_id == belton
    # Another client's HR system does not reach the user (404), even by its id.
    others = People(desk.state, of(betterworld, Role.INTEGRATION), base)
    with pytest.raises(NotFoundException):
        await others.directory.need(others.client.id, user.user_id)


async def test_a_refused_scim_onboarding_is_planned_once_and_noted_without_a_traceback(
        desk, caplog, monkeypatch):
    """A hire whose onboarding the desk's intake refuses (here: too little notice, as
    the intake says it): the user stands, the note says why; the intake was asked once
    and no traceback was logged (a refusal is an answer, not a fault)."""
    asked = []

    async def refusing(state, client, form, raised_by):
        asked.append(form.user_principal_name)
        raise DeskError(422, "Not enough notice", "start_date: the contract's notice is "
                        "3 business days")

    monkeypatch.setattr(directory, "joiner_start", refusing)
    people = People(desk.state, of(desk.client_id("belton"), Role.INTEGRATION),
                    f"{desk.base_url}{SCIM}")
    start = (datetime.now(UTC) + timedelta(days=28)).date()
    hire = new_user("noor.haddad@harbourside.example", displayName="Noor Haddad")
    hire["schemas"].append(ONBOARDING)
    hire[ONBOARDING] = {"startDate": start.isoformat(),
                        "managerEmail": "mia.chen@harbourside.example"}
    resource = validated(ScimUser, hire, Context.RESOURCE_CREATION_REQUEST)
    with caplog.at_level(logging.INFO):
        user = await create_user(people, resource)
    assert asked == ["noor.haddad@harbourside.example"]
    assert user.onboarding_ticket is None
    assert user.note.startswith("no onboarding: start_date: the contract's notice"), user.note
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


# ---------------------------------------------------------------- surveys and reports


async def test_an_nps_answer_needs_a_whole_link_and_an_open_survey(desk):
    belton = desk.client_id("belton")
    answer = NpsAnswer(score=9, comment="")
    await refused(answer_nps(desk.state, {"s": f"{belton}:2026-H1"}, answer), 401)
    closed = {"s": f"{belton}:1999-H1", "r": "a" * 16}
    await refused(answer_nps(desk.state, closed, answer), 410)


async def test_qbr_operations_check_the_role_and_the_client(desk):
    belton, betterworld = desk.client_id("belton"), desk.client_id("betterworld")
    quarter = this_quarter(desk, belton)
    await refused(read_qbr(desk.state, of(belton, Role.REQUESTER), belton, quarter), 403)
    await refused(order_qbr(desk.state, of(belton, Role.DIRECTOR), belton, quarter), 403)
    # Another client's director, or an MSP agent serving other clients: as if none existed.
    missing = await refused(read_qbr(desk.state, of(betterworld, Role.DIRECTOR), belton,
                                     quarter), 404)
    assert "no QBR" in missing.detail
    scoped = Principal(None, Role.AGENT, "test", "api_key", frozenset({betterworld}))
    await refused(order_qbr(desk.state, scoped, belton, quarter), 404)
    ordered, handle = await order_qbr(desk.state, staff(Role.ADMIN), belton, quarter)
    assert ordered.client == belton and ordered.quarter == quarter
    await handle.terminate("test done")


async def test_a_qbr_whose_engine_does_not_answer_is_503_not_being_made(dev_client, config,
                                                                         task_queue):
    """The API beside no worker: the report is ordered (202) but cannot be read - a
    retry later helps (503), it is not a report "being made" (404)."""
    settings = make_settings(task_queue=task_queue)
    app = composition.api_app(settings, isolated(config), dev_client)
    async with served(app) as (_, http):
        state = app.state.tempodesk
        client = next(c.id for c in state.config.clients if c.id.startswith("belton-"))
        quarter = quarter_label(datetime.now(UTC).astimezone(ZoneInfo(
            state.config.client(client).sla.calendar.timezone)).date())
        path = f"/v1/reports/qbr/{client}/{quarter}"
        ordered = await http.post(path, headers={"Authorization": "Bearer td_msp_admin_demo"})
        assert ordered.status_code == 202, ordered.text
        try:
            answer = await http.get(path, headers={"Authorization": "Bearer td_msp_agent_demo"})
            assert_problem(answer, 503)
            assert answer.headers["Retry-After"]
        finally:
            await dev_client.get_workflow_handle(ordered.json()["workflow_id"]).terminate(
                "test done")


async def test_the_qbr_cli_says_in_one_line_that_temporal_did_not_answer(dev_client,
                                                                         task_queue,
                                                                         tmp_path):
    """No worker on the task queue: the command ends with one line and status 1."""
    path = own_config(tmp_path)
    config = load_config(path)
    settings = make_settings(task_queue=task_queue).model_copy(update={"config_path": path})
    client = next(c.id for c in config.clients if c.id.startswith("belton-"))
    quarter = quarter_label(datetime.now(UTC).astimezone(ZoneInfo(
        config.client(client).sla.calendar.timezone)).date())
    cli_desk = SimpleNamespace(client=dev_client, settings=settings)
    assert os.path.exists(TEMPODESK)
    try:
        code, out, err = await reports(cli_desk, "qbr", client, quarter, "--wait", "1")
        assert code == 1, (out, err)
        assert "Traceback" not in err and "did not answer" in err, err
    finally:
        await dev_client.get_workflow_handle(f"qbr:{client}:{quarter}").terminate("test done")
