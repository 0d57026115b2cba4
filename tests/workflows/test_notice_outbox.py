"""The outbox under time skipping, with stand-ins delivering one notice on one lane (the
outbox, not the activity, is under test; `support.notice_stand_ins` batches them as the
real `deliver_notices` does): a delivery no retry can mend fails alone and is recorded;
one that keeps failing is given up after 3 days; the clock never waits for either. What
one moment queues goes to each lane in one activity; a client without webhooks runs none
on that lane, and a hook added to the config reaches the notices skipped before it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from domain.notifications import (
    Lane,
    LaneReceipts,
    NoticeBatch,
    NoticeDelivery,
    NoticeReceipt,
    WebhookRouting,
)
from domain.sla import Priority
from tests.workflows.support import (
    EVERY_EVENT,
    events,
    make_start,
    next_local,
    notice_stand_ins,
    published,
    start_incident,
)
from workflows.incident import IncidentWorkflow
from workflows.post_mortem import PostMortemWorkflow

attempts: list[tuple[str, str]] = []


async def refuse_the_first_email(delivery: NoticeDelivery) -> NoticeReceipt:
    attempts.append((delivery.notice.event, delivery.lane.value))
    if delivery.lane is Lane.EMAIL and delivery.notice.event == "ticket_opened":
        raise ApplicationError("recipients refused: 550 no such user", non_retryable=True)
    return NoticeReceipt(emailed=["desk@msp.example"] if delivery.lane is Lane.EMAIL else [])


async def smtp_down_forever(delivery: NoticeDelivery) -> NoticeReceipt:
    if delivery.lane is Lane.EMAIL:
        raise ConnectionRefusedError("Error connecting to smtp: connection refused")
    return NoticeReceipt()


async def run_p1(env, task_queue, deliver, hours: float, notices=None):
    opened = next_local(await env.get_current_time(), weekday=6, hour=3)
    now = await env.get_current_time()
    await env.sleep(opened - now)
    async with Worker(env.client, task_queue=task_queue,
                      workflows=[IncidentWorkflow, PostMortemWorkflow],
                      activities=notices or notice_stand_ins(deliver)):
        handle = await start_incident(env.client, make_start(opened, Priority.P1), task_queue)
        # In steps: one skip of days, with retries every few minutes inside it, can outlast
        # the test server's RPC timeout on a loaded machine.
        left = timedelta(hours=hours)
        while left > timedelta(0):
            step = min(left, timedelta(hours=12))
            await env.sleep(step)
            left -= step
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


async def always_delivered(delivery: NoticeDelivery) -> NoticeReceipt:
    return NoticeReceipt(emailed=["desk@msp.example"] if delivery.lane is Lane.EMAIL else [])


async def smtp_down_twice(delivery: NoticeDelivery) -> NoticeReceipt:
    attempts.append((delivery.notice.event, delivery.lane.value))
    if delivery.lane is Lane.EMAIL and attempts.count(("ticket_opened", "email")) <= 2:
        raise ConnectionRefusedError("Error connecting to smtp: connection refused")
    return NoticeReceipt(emailed=["desk@msp.example"] if delivery.lane is Lane.EMAIL else [])


async def notice_failing_published(handle) -> list[str]:
    return await published(handle, "NoticeFailing")


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


batches: list[tuple[str, list[str]]] = []  # (lane, events) of each deliver_notices attempt


def recording_batches(deliver, routing=lambda: EVERY_EVENT) -> list:
    """``notice_stand_ins(deliver, routing)``, noting each batch."""
    [batch_twin] = notice_stand_ins(deliver, routing)

    @activity.defn(name="deliver_notices")
    async def deliver_notices(batch: NoticeBatch) -> LaneReceipts:
        batches.append((batch.lane.value, [n.event for n in batch.notices]))
        return await batch_twin(batch)

    return [deliver_notices]


async def activities_scheduled(handle) -> list[str]:
    from temporalio.api.enums.v1 import EventType

    return [event.activity_task_scheduled_event_attributes.activity_type.name
            async for event in handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]


async def test_a_breach_and_its_first_rung_go_to_each_lane_in_one_activity(ts_env, task_queue):
    """The breach and the ladder's first rung (0 minutes after it) are queued by one
    timer: each lane hands both to one activity, in order."""
    batches.clear()
    _, view = await run_p1(ts_env, task_queue, always_delivered, hours=1,
                           notices=recording_batches(always_delivered))
    at_breach = [b for b in batches if "sla_breached" in b[1]]
    assert sorted(at_breach) == [("email", ["sla_breached", "escalated"]),
                                 ("webhooks", ["sla_breached", "escalated"])], batches
    assert [b for b in batches if len(b[1]) > 1] == at_breach  # the other moments: one each
    sent = [e.kind for e in events(view, "notified:")]
    assert sent.index("notified:sla_breached") < sent.index("notified:escalated")
    assert len(await activities_scheduled(run_p1.handle)) == len(batches)


async def test_a_failure_inside_a_batch_keeps_what_was_sent_and_retries_the_rest(
        ts_env, task_queue):
    """The rung's e-mail fails once after the breach's went: the breach is not sent again;
    the rung is retried (with any notice behind it) and recorded as a second attempt."""
    attempts.clear()

    async def rung_mail_fails_once(delivery: NoticeDelivery) -> NoticeReceipt:
        attempts.append((delivery.notice.event, delivery.lane.value))
        if (delivery.lane is Lane.EMAIL and delivery.notice.event == "escalated"
                and attempts.count(("escalated", "email")) == 1):
            raise ConnectionResetError("smtp: connection reset by peer")
        return await always_delivered(delivery)

    _, view = await run_p1(ts_env, task_queue, rung_mail_fails_once, hours=1)
    assert attempts.count(("sla_breached", "email")) == 1
    first_rung = [e for e in events(view, "notified:escalated") if "(attempt 2)" in e.detail]
    assert len(first_rung) == 1, events(view, "notified:escalated")
    assert not view.outbox and not view.failed_notices and not view.notice_failing


async def noting(delivery: NoticeDelivery) -> NoticeReceipt:
    attempts.append((delivery.notice.event, delivery.lane.value))
    return await always_delivered(delivery)


async def test_a_client_without_webhooks_runs_no_webhook_activity(ts_env, task_queue):
    """The first results say no hook receives anything: from then on the webhook lane
    runs no activity (only the opening notice, before anything was known, went to it)."""
    batches.clear()
    attempts.clear()
    _, view = await run_p1(ts_env, task_queue, noting, hours=1,
                           notices=recording_batches(noting, lambda: WebhookRouting()))
    assert [b for b in batches if b[0] == "webhooks"] == [("webhooks", ["ticket_opened"])]
    assert len(events(view, "notified:")) >= 5 and not view.outbox
    assert len(await activities_scheduled(run_p1.handle)) == len(batches)


async def test_a_hook_added_to_the_config_reaches_notices_skipped_before_it(ts_env, task_queue):
    """No hooks until the breach e-mail goes out, then a hook for every event (the config
    changed): the breach and its first rung, which the webhook lane had skipped on the old
    routing, are posted after all, once each; the warnings before stay skipped."""
    attempts.clear()
    changed = []

    async def config_changes_at_the_breach(delivery: NoticeDelivery) -> NoticeReceipt:
        if delivery.notice.event == "sla_breached":
            changed.append(True)
        return await noting(delivery)

    _, view = await run_p1(ts_env, task_queue, config_changes_at_the_breach, hours=1,
                           notices=notice_stand_ins(
                               config_changes_at_the_breach,
                               lambda: EVERY_EVENT if changed else WebhookRouting()))
    posted = [event for event, lane in attempts if lane == "webhooks"]
    assert posted.count("sla_breached") == 1 and posted.count("escalated") >= 1, attempts
    assert "sla_warning" not in posted and posted[0] == "ticket_opened"
    assert not view.outbox and not view.failed_notices
