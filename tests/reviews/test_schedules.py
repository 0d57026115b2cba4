"""On the dev server: the review schedules exist as the config says (their next firings are
the instants domain.reviews.fire_times computes, which the year-long time-skipping test
uses), start-up is idempotent and keeps an operator's pause, and triggering one runs it:
a QBR made, e-mailed and served; an NPS survey sent and answered through its link."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from temporalio.client import ScheduleActionStartWorkflow

from activities.reviews import VisibilityTickets
from domain.reviews import Job, fire_times, review_workflow_id, schedule_id
from schedules import ensure_schedules
from tests.documents.pdf_text import pdf_text
from tests.web.helpers import assert_problem, eventually, incident_body
from workflows.reviews import NpsSurveyWorkflow, QbrWorkflow


async def test_schedules_follow_the_config_and_start_up_is_idempotent(wired_desk):
    desk = wired_desk.desk
    client, config, queue = desk.client, desk.config, desk.settings.task_queue
    done = await ensure_schedules(client, config, task_queue=queue)
    ids = [schedule_id(job, c.id) for c in config.clients for job in Job]
    assert done == dict.fromkeys(ids, "created")
    belton = desk.client_id("belton")
    await client.get_schedule_handle(schedule_id(Job.NPS, belton)).pause(note="on leave")
    assert await ensure_schedules(client, config, task_queue=queue) == dict.fromkeys(
        ids, "updated")
    now = datetime.now(UTC)
    for tenant in config.clients:
        zone = tenant.sla.calendar.timezone
        for job in Job:
            described = await client.get_schedule_handle(schedule_id(job, tenant.id)).describe()
            spec, action = described.schedule.spec, described.schedule.action
            assert spec.time_zone_name == zone
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert action.workflow == "ReviewKickoffWorkflow" and action.task_queue == queue
            upcoming = described.info.next_action_times
            assert len(upcoming) >= 4, (tenant.id, job)
            expected = fire_times(tenant.reviews.calendar(job), zone, now,
                                  now + timedelta(days=20 * 366))
            assert upcoming == expected[:len(upcoming)], (tenant.id, job)
            paused = tenant.id == belton and job is Job.NPS
            assert described.schedule.state.paused is paused
    disabled = config.model_copy(update={"clients": [
        c.model_copy(update={"reviews": c.reviews.model_copy(update={"enabled": False})})
        if c.id == belton else c for c in config.clients]})
    done = await ensure_schedules(client, disabled, task_queue=queue)
    assert done[schedule_id(Job.NPS, belton)] == done[schedule_id(Job.QBR, belton)] == "deleted"
    for tenant in config.clients:
        if tenant.id != belton:
            for job in Job:
                await client.get_schedule_handle(schedule_id(job, tenant.id)).delete()


async def test_a_triggered_qbr_is_made_mailed_and_served(wired_desk):
    desk, mailbox = wired_desk.desk, wired_desk.mailbox
    config, queue = desk.config, desk.settings.task_queue
    client_id = desk.client_id("betterworld")
    only = config.model_copy(update={"clients": [desk.config.client(client_id)]})
    await ensure_schedules(desk.client, only, task_queue=queue)
    handle = desk.client.get_schedule_handle(schedule_id(Job.QBR, client_id))
    await handle.trigger()
    described = await eventually(handle.describe, lambda d: bool(d.info.recent_actions))
    run_id = described.info.recent_actions[0].action.workflow_id
    assert run_id.startswith(f"schedule:qbr:{client_id}-")
    kickoff = await asyncio.wait_for(desk.client.get_workflow_handle(run_id).result(), 30)
    quarter = kickoff["period"]
    assert kickoff["started"] and kickoff["workflow_id"] == review_workflow_id(
        Job.QBR, client_id, quarter)
    # The kickoff took the instant the schedule fired for from TemporalScheduledStartTime
    # (which keeps whole seconds), not its own start.
    fired = described.info.recent_actions[0].scheduled_at.replace(microsecond=0)
    report = desk.client.get_workflow_handle_for(QbrWorkflow.run, kickoff["workflow_id"])
    done = await eventually(lambda: report.query(QbrWorkflow.report),
                            lambda r: r.message_id is not None or r.email_problem)
    assert done.figures is not None and done.figures.generated_at == fired
    [mail] = [m for m in mailbox.messages if quarter in m["Subject"]]
    assert mail["To"] == "dana.brooks@betterworld.example"
    [pdf] = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    path = f"/v1/reports/qbr/{client_id}/{quarter}"
    for role in ("director", "agent", "admin"):
        served = await desk.http.get(path, params={"format": "pdf"},
                                     headers=desk.as_("betterworld", role))
        assert served.status_code == 200, served.text
        assert served.content == pdf.get_content()  # the same bytes as e-mailed
    html = await desk.http.get(path, headers=desk.as_("betterworld", "director"))
    assert html.headers["content-type"].startswith("text/html") and quarter in html.text
    assert "Phishing / Credential theft" in pdf_text(served.content)
    for who in (desk.as_("betterworld", "requester"), desk.as_("betterworld", "hr")):
        assert_problem(await desk.http.get(path, headers=who), 403)
    assert_problem(await desk.http.get(path, headers=desk.as_("belton", "director")), 404)
    assert_problem(await desk.http.get(f"/v1/reports/qbr/{client_id}/1999-Q1",
                                       headers=desk.as_("betterworld", "agent")), 404)
    assert_problem(await desk.http.get(f"/v1/reports/qbr/{client_id}/2027-Q5",
                                       headers=desk.as_("betterworld", "agent")), 422)
    # A second firing in the same quarter starts nothing and sends nothing.
    again = await desk.client.start_workflow(
        "ReviewKickoffWorkflow", {"client_id": client_id, "job": "qbr"},
        id=f"{run_id}-again", task_queue=queue)
    assert (await asyncio.wait_for(again.result(), 30))["started"] is False
    await handle.delete()
    await report.terminate("test done")


async def test_a_triggered_nps_survey_takes_one_answer_per_link(wired_desk):
    desk, mailbox = wired_desk.desk, wired_desk.mailbox
    client_id = desk.client_id("betterworld")
    only = desk.config.model_copy(update={"clients": [desk.config.client(client_id)]})
    await ensure_schedules(desk.client, only, task_queue=desk.settings.task_queue)
    handle = desk.client.get_schedule_handle(schedule_id(Job.NPS, client_id))
    await handle.trigger()

    def invites():
        return [m for m in mailbox.messages if "recommend us" in m["Subject"]]

    async def probe():
        return invites()

    mails = await eventually(probe, lambda m: len(m) == 2)
    assert sorted(m["To"] for m in mails) == ["ana.ruiz@hudsonfreight.example",
                                              "lee.okafor@hudsonfreight.example"]
    links = [re.search(r"/v1/surveys/nps/(\S+)", m.get_content()).group(1) for m in mails]
    first = await desk.http.post(f"/v1/surveys/nps/{links[0]}", json={"score": 9})
    assert first.status_code == 200, first.text
    period = first.json()["period"]
    again = assert_problem(await desk.http.post(f"/v1/surveys/nps/{links[0]}",
                                                json={"score": 2}), 409)
    assert again["detail"] == "the survey was already answered"
    assert_problem(await desk.http.post(f"/v1/surveys/nps/{links[1]}", json={"score": 11}),
                   422)
    assert_problem(await desk.http.post(f"/v1/surveys/nps/{links[1][:-2]}xx",
                                        json={"score": 5}), 401)
    second = await desk.http.post(f"/v1/surveys/nps/{links[1]}",
                                  json={"score": 3, "comment": "slow on chat"})
    assert second.status_code == 200, second.text
    survey = desk.client.get_workflow_handle_for(
        NpsSurveyWorkflow.run, review_workflow_id(Job.NPS, client_id, period))
    result = await survey.query(NpsSurveyWorkflow.result)
    assert result.closed  # everyone answered: closed early
    assert [(r.score, r.comment) for r in result.responses] == [(9, ""), (3, "slow on chat")]
    assert result.summary().nps == 0
    assert_problem(await desk.http.post(f"/v1/surveys/nps/{links[1]}", json={"score": 4}), 410)
    await handle.delete()
    await survey.terminate("test done")


async def test_visibility_lists_the_clients_tickets_since_an_instant(desk):
    since = datetime.now(UTC) - timedelta(seconds=5)
    created = []
    for _ in range(3):
        answer = await desk.http.post("/v1/incidents", json=incident_body(),
                                      headers=desk.as_("belton", "requester"))
        created.append(f"incident:{answer.json()['ticket_id']}")
    source = VisibilityTickets(desk.client)

    async def listed():
        return await source.workflow_ids(desk.client_id("belton"), since, 100)

    ids, _ = await eventually(listed, lambda found: found[1] == 3)
    assert sorted(ids) == sorted(created)
    assert await source.workflow_ids(desk.client_id("belton"), since, 2) == (ids[:2], 3)
    later = await source.workflow_ids(desk.client_id("belton"),
                                      datetime.now(UTC) + timedelta(minutes=1), 100)
    assert later == ([], 0)
