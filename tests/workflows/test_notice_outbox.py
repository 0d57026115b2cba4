"""The outbox under time skipping, with a stand-in for the `deliver` activity (the outbox,
not the activity, is under test): a delivery no retry can mend fails alone and is recorded;
one that keeps failing is given up after 3 days; the clock never waits for either."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from domain.notifications import Lane, NoticeDelivery, NoticeReceipt
from domain.sla import Priority
from tests.workflows.support import events, make_start, next_local, start_incident
from workflows.incident import IncidentWorkflow
from workflows.post_mortem import PostMortemWorkflow

attempts: list[tuple[str, str]] = []


@activity.defn(name="deliver")
async def refuse_the_first_email(delivery: NoticeDelivery) -> NoticeReceipt:
    attempts.append((delivery.notice.event, delivery.lane.value))
    if delivery.lane is Lane.EMAIL and delivery.notice.event == "ticket_opened":
        raise ApplicationError("recipients refused: 550 no such user", non_retryable=True)
    return NoticeReceipt(emailed=["desk@msp.example"] if delivery.lane is Lane.EMAIL else [])


@activity.defn(name="deliver")
async def smtp_down_forever(delivery: NoticeDelivery) -> NoticeReceipt:
    if delivery.lane is Lane.EMAIL:
        raise ConnectionRefusedError("Error connecting to smtp: connection refused")
    return NoticeReceipt()


async def run_p1(env, task_queue, deliver, hours: float):
    opened = next_local(await env.get_current_time(), weekday=6, hour=3)
    now = await env.get_current_time()
    await env.sleep(opened - now)
    async with Worker(env.client, task_queue=task_queue,
                      workflows=[IncidentWorkflow, PostMortemWorkflow], activities=[deliver]):
        handle = await start_incident(env.client, make_start(opened, Priority.P1), task_queue)
        await env.sleep(timedelta(hours=hours))
        view = await handle.query(IncidentWorkflow.view)
    await handle.terminate("test done")
    run_p1.handle = handle  # for the tests that read the history
    return opened, view


async def test_an_undeliverable_notice_fails_alone_and_the_rest_go_on(ts_env, task_queue):
    attempts.clear()
    opened, view = await run_p1(ts_env, task_queue, refuse_the_first_email, hours=1)
    [failed] = view.failed_notices
    assert (failed.event, failed.lane, failed.attempts) == ("ticket_opened", Lane.EMAIL, 1)
    assert "550" in failed.error
    assert attempts.count(("ticket_opened", "email")) == 1  # non-retryable: tried once
    assert events(view, "notice_failed:ticket_opened")
    later = [e for e in events(view, "notified:") if e.kind != "notified:ticket_opened"]
    assert len(later) >= 5 and not view.outbox and not view.notice_failing
    breach = events(view, "sla_breached:response")[0]
    assert breach.due == opened + timedelta(minutes=15)
    assert breach.at - breach.due < timedelta(seconds=1)


async def test_a_notice_that_never_gets_through_is_given_up_after_3_days(ts_env, task_queue):
    opened, view = await run_p1(ts_env, task_queue, smtp_down_forever, hours=80)
    gave_up = [f for f in view.failed_notices if f.event == "ticket_opened"]
    assert gave_up and gave_up[0].attempts > 10 and "refused" in gave_up[0].error
    assert gave_up[0].at - opened > timedelta(days=3)
    # Meanwhile every SLA event fired on time and the ladder was climbed to the top.
    assert view.escalation_level == 6
    for event in view.events:
        if event.due is not None:
            assert event.at - event.due < timedelta(seconds=1), event


@activity.defn(name="deliver")
async def always_delivered(delivery: NoticeDelivery) -> NoticeReceipt:
    return NoticeReceipt(emailed=["desk@msp.example"] if delivery.lane is Lane.EMAIL else [])


@activity.defn(name="deliver")
async def smtp_down_twice(delivery: NoticeDelivery) -> NoticeReceipt:
    attempts.append((delivery.notice.event, delivery.lane.value))
    if delivery.lane is Lane.EMAIL and attempts.count(("ticket_opened", "email")) <= 2:
        raise ConnectionRefusedError("Error connecting to smtp: connection refused")
    return NoticeReceipt(emailed=["desk@msp.example"] if delivery.lane is Lane.EMAIL else [])


async def notice_failing_published(handle) -> list[str]:
    """Each NoticeFailing upsert in the history: its value, or "unset"."""
    from temporalio.api.enums.v1 import EventType

    published = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = (event.upsert_workflow_search_attributes_event_attributes
                      .search_attributes.indexed_fields)
            if "NoticeFailing" in fields:
                published.append(fields["NoticeFailing"].data.decode() or "unset")
    return published


async def test_notice_failing_is_published_only_when_a_delivery_failed(ts_env, task_queue):
    """A healthy ticket's notices never touch NoticeFailing (an attempt in flight used to
    set it and clear it again: two visibility writes per notice); a failed delivery sets
    it until the retry gets through."""
    _, healthy = await run_p1(ts_env, task_queue, always_delivered, hours=1)
    assert len(events(healthy, "notified:")) >= 5  # opened, warnings, breach, rungs
    assert "true" not in await notice_failing_published(run_p1.handle)
    attempts.clear()
    _, mended = await run_p1(ts_env, task_queue, smtp_down_twice, hours=1)
    assert attempts.count(("ticket_opened", "email")) == 3 and not mended.notice_failing
    published = await notice_failing_published(run_p1.handle)
    assert published.count("true") == 1 and published[-1] == "unset", published
