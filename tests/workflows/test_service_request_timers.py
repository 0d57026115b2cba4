"""Service requests under time skipping: a basic request's 5 business days on Belton's
calendar (warnings at 50/75/90 %, breach, ladder; a pending day moves the breach by a
business day); a quick answer's 15 minutes; a mini-consult booked within 3 business days,
then due at the agreed date."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio.worker import Worker

from domain.service_requests import RequestForm, RequestStart, ScheduleAgreed
from domain.sla.deadlines import snapshot_for
from domain.tickets import Status, Transition
from tests.workflows.support import (
    belton_without_holidays,
    delivered_quietly,
    events,
    next_local,
    notice_stand_ins,
    start_ticket,
)
from workflows.service_request import ServiceRequestWorkflow

NOTICES = notice_stand_ins(delivered_quietly)


def form(**changes) -> RequestForm:
    body = {"subject": "New starter needs the Litigation shared drive", "type": "basic",
            "change": "add", "requester": {"name": "Mia Chen",
                                           "email": "mia.chen@harbourside.example"}}
    body.update(changes)
    return RequestForm.model_validate(body)


async def start_request(env, task_queue: str, opened: datetime, request: RequestForm):
    start = RequestStart(ticket_id=f"TST-{uuid.uuid4().int % 10**6:06d}", client_id="belton",
                         opened_at=opened, raised_by="requester:test", form=request,
                         sla=snapshot_for(belton_without_holidays(), opened))
    return await start_ticket(env.client, ServiceRequestWorkflow, start, task_queue, days=60)


async def monday_10(env) -> datetime:
    opened = next_local(await env.get_current_time(), weekday=0, hour=10)
    await env.sleep(opened - await env.get_current_time())
    return opened


def on_time(event, due: datetime) -> bool:
    return event.due == due and timedelta(0) <= event.at - due < timedelta(seconds=1)


async def test_a_basic_request_has_5_business_days(ts_env, task_queue):
    opened = await monday_10(ts_env)
    five_bd = opened + timedelta(days=7)  # Mon 10:00 + 5 x 9 h of 08:30-17:30 = Mon 10:00
    async with Worker(ts_env.client, task_queue=task_queue,
                      workflows=[ServiceRequestWorkflow], activities=NOTICES):
        handle = await start_request(ts_env, task_queue, opened, form())
        first = await handle.query(ServiceRequestWorkflow.view)
        assert first.fulfilment_due == five_bd and first.resolution_due == five_bd
        await ts_env.sleep(timedelta(days=8))
        view = await handle.query(ServiceRequestWorkflow.view)
    warnings = events(view, "sla_warning:fulfilment")
    # 50 % of 45 working hours = 22.5 h: Wednesday 14:30; 75 % (33.75 h): Thursday
    # 16:45; 90 % (40.5 h): Friday 14:30 (working time only).
    expected = [opened + timedelta(days=2, hours=4, minutes=30),
                opened + timedelta(days=3, hours=6, minutes=45),
                opened + timedelta(days=4, hours=4, minutes=30)]
    assert [w.due for w in warnings] == expected
    [breach] = events(view, "sla_breached:fulfilment")
    assert on_time(breach, five_bd)
    assert on_time(events(view, "escalated")[0], five_bd)  # the ladder's first rung
    await handle.terminate("test done")


async def test_a_pending_business_day_moves_the_breach_by_one(ts_env, task_queue):
    opened = await monday_10(ts_env)
    async with Worker(ts_env.client, task_queue=task_queue,
                      workflows=[ServiceRequestWorkflow], activities=NOTICES):
        handle = await start_request(ts_env, task_queue, opened, form())
        await ts_env.sleep(timedelta(hours=1))
        await handle.execute_update(ServiceRequestWorkflow.transition,
                                    Transition(to=Status.PENDING, by="agent:kim",
                                               reason="which drive?"))
        await ts_env.sleep(timedelta(days=1))  # Tuesday 11:00: one business day paused
        await handle.execute_update(ServiceRequestWorkflow.transition,
                                    Transition(to=Status.IN_PROGRESS, by="agent:kim"))
        view = await handle.query(ServiceRequestWorkflow.view)
    # Paused Mon 11:00 - Tue 11:00 = 9 working hours: due Tuesday 10:00 a week on (to the
    # few milliseconds the update took to arrive).
    moved = view.fulfilment_due - (opened + timedelta(days=8))
    assert timedelta(0) <= moved < timedelta(seconds=1)
    await handle.terminate("test done")


async def test_a_quick_answer_has_15_minutes(ts_env, task_queue):
    opened = await monday_10(ts_env)
    quick = form(type="advisory", change=None, advisory_tier="quick_answer",
                 subject="Is Teams Premium worth it for us?")
    async with Worker(ts_env.client, task_queue=task_queue,
                      workflows=[ServiceRequestWorkflow], activities=NOTICES):
        handle = await start_request(ts_env, task_queue, opened, quick)
        await ts_env.sleep(timedelta(minutes=20))
        view = await handle.query(ServiceRequestWorkflow.view)
    assert not view.billable
    [breach] = events(view, "sla_breached:fulfilment")
    assert on_time(breach, opened + timedelta(minutes=15))
    await handle.terminate("test done")


async def test_a_mini_consult_is_booked_within_3_business_days_then_due_then(ts_env,
                                                                             task_queue):
    opened = await monday_10(ts_env)
    consult = form(type="advisory", change=None, advisory_tier="mini_consult",
                   subject="Help us plan the office move")
    async with Worker(ts_env.client, task_queue=task_queue,
                      workflows=[ServiceRequestWorkflow], activities=NOTICES):
        handle = await start_request(ts_env, task_queue, opened, consult)
        first = await handle.query(ServiceRequestWorkflow.view)
        assert first.billable and first.fulfilment_due == opened + timedelta(days=3)
        await ts_env.sleep(timedelta(days=1))
        session = opened + timedelta(days=9, hours=4)  # Wednesday week, 14:00
        booked = await handle.execute_update(
            ServiceRequestWorkflow.agree_schedule,
            ScheduleAgreed(at=session, note="2 h with the partners", by="agent:kim"))
        assert booked.scheduled_for == session and booked.fulfilment_due == session
        await ts_env.sleep(timedelta(days=10))
        view = await handle.query(ServiceRequestWorkflow.view)
    assert not events(view, "sla_breached:scheduled")  # booked in time
    [breach] = events(view, "sla_breached:fulfilment")  # nobody resolved it
    assert on_time(breach, session)
    await handle.terminate("test done")
