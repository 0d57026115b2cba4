"""Whole incident lifecycles on the time-skipping server: SLA warnings, breaches and every
rung of the escalation ladder at their exact instants, pauses, reopen and auto-close.

Expected instants are worked out by hand from the Belton contract (Mon-Fri 08:30-17:30
Melbourne; holidays removed so the dates do not depend on when CI runs)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from domain.incidents import IncidentView
from domain.sla import Priority
from domain.tickets import CommentIn, Status, Transition
from tests.workflows.support import (
    LADDER,
    MELBOURNE,
    events,
    incident_worker,
    make_start,
    next_local,
    start_incident,
)
from workflows.incident import IncidentWorkflow

SECOND = timedelta(seconds=1)


async def skip_to(env, moment) -> None:
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)


def assert_fired_on_time(event, due) -> None:
    assert event.due == due, (event.kind, event.due, due)
    assert timedelta(0) <= event.at - due < SECOND, (event.kind, event.at, due)


async def test_p1_at_3am_sunday_breaches_and_climbs_every_rung(ts_env, config, task_queue):
    """24x7 clock: nobody acknowledges a P1 opened at 03:00 on a Sunday."""
    opened = next_local(await ts_env.get_current_time(), weekday=6, hour=3)
    await skip_to(ts_env, opened)
    start = make_start(opened, Priority.P1)
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await start_incident(ts_env.client, start, task_queue)
        view = await handle.query(IncidentWorkflow.view)
        # Response 15 min, resolution 4 h, both real time.
        assert view.response_due == opened + timedelta(minutes=15)
        assert view.resolution_due == opened + timedelta(hours=4)

        await ts_env.sleep(timedelta(hours=24, minutes=30))
        view = await handle.query(IncidentWorkflow.view)

    # Warnings at 50/75/90 % of 15 min: 7m30s, 11m15s, 13m30s; breach at 15 min.
    warnings = events(view, "sla_warning:response")
    for event, offset in zip(warnings, (450, 675, 810), strict=True):
        assert_fired_on_time(event, opened + timedelta(seconds=offset))
    breach = opened + timedelta(minutes=15)
    assert_fired_on_time(events(view, "sla_breached:response")[0], breach)
    # Resolution: warnings at 2 h, 3 h, 3 h 36 m; breach at 4 h (no second ladder).
    for event, offset in zip(events(view, "sla_warning:resolution"), (120, 180, 216),
                             strict=True):
        assert_fired_on_time(event, opened + timedelta(minutes=offset))
    assert_fired_on_time(events(view, "sla_breached:resolution")[0], opened + timedelta(hours=4))
    # Every rung once, at breach + its delay: 0, 1, 2, 4, 8, 24 h.
    rungs = events(view, "escalated")
    assert len(rungs) == len(LADDER) == view.escalation_level
    for i, (event, (role, hours)) in enumerate(zip(rungs, LADDER, strict=True)):
        assert_fired_on_time(event, breach + timedelta(hours=hours))
        assert event.detail == f"level {i + 1}: {role} <rung{i}@belton.example>"
    # No SMTP server here: each rung's mail is recorded as not sent, never as sent.
    unsent = [e.detail for e in events(view, "notice_unsent:escalated")]
    assert len(unsent) == 6 and all("no SMTP server" in d for d in unsent), unsent
    assert not events(view, "notified:escalated")
    assert view.breached and view.breached_at == breach

    described = await handle.describe()
    from domain import search_attributes as sa

    assert described.typed_search_attributes.get(sa.SLA_BREACHED) is True
    assert described.typed_search_attributes.get(sa.ESCALATION_LEVEL) == 6
    await handle.terminate("test done")


async def test_pause_moves_the_resolution_deadline_by_exactly_the_paused_time(
        ts_env, config, task_queue):
    """Belton P3 opened Monday 09:00. 3 BD = 27 business hours: Mon 8.5 h + Tue 9 + Wed 9
    + Thu 0.5 -> Thu 09:00. Acknowledged 09:30; pending 10:00-11:30 (1.5 working hours)
    -> due Thu 10:30, and the breach fires then."""
    opened = next_local(await ts_env.get_current_time(), weekday=0, hour=9)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await start_incident(ts_env.client, make_start(opened, Priority.P3), task_queue)
        thursday = opened + timedelta(days=3)
        assert (await handle.query(IncidentWorkflow.view)).resolution_due == thursday

        await skip_to(ts_env, opened + timedelta(minutes=30))
        await handle.execute_update(IncidentWorkflow.acknowledge,
                                    Transition(to=Status.ACKNOWLEDGED, by="agent"))
        await skip_to(ts_env, opened + timedelta(hours=1))
        paused = await handle.execute_update(IncidentWorkflow.transition,
                                             Transition(to=Status.PENDING, by="agent"))
        pause_started = paused.pauses[0][0]
        assert paused.resolution_due is None  # clock stopped

        await skip_to(ts_env, opened + timedelta(hours=2, minutes=30))
        resumed = await handle.execute_update(IncidentWorkflow.transition,
                                              Transition(to=Status.IN_PROGRESS, by="agent"))
        paused_for = resumed.pauses[0][1] - pause_started
        assert resumed.resolution_due == thursday + paused_for
        assert abs(paused_for - timedelta(hours=1, minutes=30)) < SECOND

        await skip_to(ts_env, resumed.resolution_due + SECOND)
        view = await handle.query(IncidentWorkflow.view)
    assert_fired_on_time(events(view, "sla_breached:resolution")[0], resumed.resolution_due)
    thursday_1030 = (opened + timedelta(days=3)).replace(hour=10, minute=30)
    assert abs(resumed.resolution_due - thursday_1030) < SECOND  # ms of update latency
    assert not events(view, "sla_breached:response")  # acknowledged in time
    await handle.terminate("test done")


async def test_resolve_thanks_reopen_and_auto_close(ts_env, config, task_queue):
    """Resolved Monday 10:00: a thank-you does not reopen; a real reply does; resolved again
    at 11:00 it auto-closes 3 BD (27 h) later, Thursday 11:00, and the survey goes out."""
    opened = next_local(await ts_env.get_current_time(), weekday=0, hour=9)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await start_incident(ts_env.client, make_start(opened, Priority.P3), task_queue)
        await skip_to(ts_env, opened + timedelta(hours=1))
        await handle.execute_update(IncidentWorkflow.transition,
                                    Transition(to=Status.RESOLVED, by="agent"))
        await handle.signal(IncidentWorkflow.comment,
                            CommentIn(body="Thanks so much!\n-- \nJo", by="jo",
                                      from_requester=True))
        await ts_env.sleep(timedelta(minutes=1))
        assert (await handle.query(IncidentWorkflow.view)).status is Status.RESOLVED

        await handle.signal(IncidentWorkflow.comment,
                            CommentIn(body="It broke again after lunch", by="jo",
                                      from_requester=True))
        await ts_env.sleep(timedelta(minutes=1))
        reopened = await handle.query(IncidentWorkflow.view)
        assert (reopened.status, reopened.reopen_count) == (Status.IN_PROGRESS, 1)

        await skip_to(ts_env, opened + timedelta(hours=2))
        resolved = await handle.execute_update(IncidentWorkflow.transition,
                                               Transition(to=Status.RESOLVED, by="agent"))
        await skip_to(ts_env, resolved.resolved_at + timedelta(days=3, minutes=1))
        view = await handle.query(IncidentWorkflow.view)
    closed = events(view, "status:closed")[0]
    assert_fired_on_time(closed, resolved.resolved_at + timedelta(days=3))
    assert view.status is Status.CLOSED and closed.detail == "auto-closed after resolution"
    assert view.survey_expires_at == view.closed_at + timedelta(days=14)
    assert events(view, "notice_unsent:ticket_closed")  # the survey's mail, not sent here
    assert len(view.comments) == 2
    await handle.terminate("test done")


async def test_closed_ticket_finishes_after_reopen_window_and_survey(ts_env, config, task_queue):
    """An unanswered survey keeps the ticket open for replies until it expires (14 days);
    then the workflow completes."""
    opened = next_local(await ts_env.get_current_time(), weekday=1, hour=9)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await start_incident(ts_env.client, make_start(opened, Priority.P4), task_queue)
        await handle.execute_update(IncidentWorkflow.transition,
                                    Transition(to=Status.RESOLVED, by="agent"))
        closed = await handle.execute_update(IncidentWorkflow.transition,
                                             Transition(to=Status.CLOSED, by="agent"))
        result = await handle.result()  # time skips to the end
        # (describe() cannot decode unset Datetime attributes from the time-skipping server)
        history = await handle.fetch_history()
        finished = history.events[-1].event_time.ToDatetime(UTC)
    assert result.status is Status.CLOSED
    # The reopen window (5 BD) ends first; the survey expiry (14 days) ends the workflow.
    assert closed.survey_expires_at == closed.closed_at + timedelta(days=14)
    assert timedelta(0) <= finished - closed.survey_expires_at < SECOND


async def test_reprioritise_recomputes_from_the_original_open_time(ts_env, config, task_queue):
    """Opened Mon 09:00 as P4 (response 1 BD -> Tue 09:00); raised to P2 at 09:20 with a
    reason: response 1 h from 09:00 -> 10:00, resolution 1 BD -> Tue 09:00."""
    opened = next_local(await ts_env.get_current_time(), weekday=0, hour=9)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await start_incident(ts_env.client, make_start(opened, Priority.P4), task_queue)
        assert (await handle.query(IncidentWorkflow.view)).response_due == opened + timedelta(
            days=1)
        await skip_to(ts_env, opened + timedelta(minutes=20))
        from domain.incidents import Reprioritisation

        view = await handle.execute_update(IncidentWorkflow.reprioritise, Reprioritisation(
            priority=Priority.P2, reason="whole finance team affected", by="agent"))
        assert view.response_due == opened + timedelta(hours=1)
        assert view.resolution_due == opened + timedelta(days=1)
        assert view.priority_rule == "reprioritised from P4: whole finance team affected"
        await skip_to(ts_env, opened + timedelta(hours=1, seconds=1))
        view = await handle.query(IncidentWorkflow.view)
    assert_fired_on_time(events(view, "sla_breached:response")[0], opened + timedelta(hours=1))
    await handle.terminate("test done")


async def test_p1_after_hours_work_is_billable_on_call(ts_env, config, task_queue):
    """Acknowledged Monday 20:00, resolved 21:30: 90 minutes outside 08:30-17:30.

    (Not 22:00: that is the 50 % resolution warning, and the time-skipping server rejects an
    update completed in the same workflow task as a firing timer - "invalid history builder
    state for action". The dev server has no such limit; see tests/web.)"""
    opened = next_local(await ts_env.get_current_time(), weekday=0, hour=20)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await start_incident(ts_env.client, make_start(opened, Priority.P1), task_queue)
        await handle.execute_update(IncidentWorkflow.acknowledge,
                                    Transition(to=Status.ACKNOWLEDGED, by="oncall"))
        await skip_to(ts_env, opened + timedelta(minutes=90))
        # A base-class update answers the contract's view; the kind's view says what
        # only incidents have (the API asks for it the same way).
        view = await handle.execute_update(
            IncidentWorkflow.transition,
            Transition(to=Status.RESOLVED, by="oncall", preventable=True),
            result_type=IncidentView)
    assert abs(view.on_call_seconds - 90 * 60) <= 1
    assert events(view, "on_call")[0].detail == "90 min after hours, billable"
    await handle.terminate("test done")


async def test_a_ticket_outliving_its_calendar_extends_it(ts_env, config, task_queue):
    """A ticket freezes 90 days of working windows. On hold for 30 weeks, it extends them
    (an activity, recorded in history) before they run out, and its deadline stays exact:
    opened Monday 09:00, acknowledged at once, on hold at 10:00 after 1 h of the 27 h
    resolution target; resumed Monday 10:00 thirty weeks on, the remaining 26 h are
    Mon 7.5 + Tue 9 + Wed 9 + Thu 0.5 -> Thursday 09:00."""
    from tests.workflows.support import without_holidays

    opened = next_local(await ts_env.get_current_time(), weekday=0, hour=9)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, without_holidays(config), task_queue):
        handle = await start_incident(ts_env.client, make_start(opened, Priority.P3), task_queue)
        await handle.execute_update(IncidentWorkflow.acknowledge,
                                    Transition(to=Status.ACKNOWLEDGED, by="agent"))
        await skip_to(ts_env, opened + timedelta(hours=1))
        await handle.execute_update(IncidentWorkflow.transition,
                                    Transition(to=Status.ON_HOLD, by="agent"))
        # Monday 10:00 wall-clock 30 weeks on (DST changes in between: not + 30 weeks + 1 h).
        resume_at = next_local(opened + timedelta(weeks=30) - timedelta(days=1), weekday=0,
                               hour=10)
        await skip_to(ts_env, resume_at)
        view = await handle.execute_update(IncidentWorkflow.transition,
                                           Transition(to=Status.IN_PROGRESS, by="agent"))
    extended = events(view, "sla_calendar_extended")
    assert len(extended) >= 2, [e.kind for e in view.events]
    # Exactly, with the milliseconds each update took to arrive: work counted before the
    # hold (1 h + late) and the hold's end (resume + late) shift the deadline one for one.
    held_from, held_to = view.pauses[0]
    thursday = datetime.combine(resume_at.date() + timedelta(days=3), time(9), MELBOURNE)
    expected = thursday + (held_to - resume_at) - (held_from - (opened + timedelta(hours=1)))
    assert view.resolution_due == expected
    await handle.terminate("test done")


async def test_merge_closes_the_duplicate_and_links_the_survivor(ts_env, config, task_queue):
    """Two reports of one outage: the older merges into the newest, closes at once without
    a survey and completes; the survivor records it and keeps its own SLA."""
    opened = next_local(await ts_env.get_current_time(), weekday=2, hour=9)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, config, task_queue):
        older = await start_incident(ts_env.client, make_start(opened, Priority.P2), task_queue)
        await skip_to(ts_env, opened + timedelta(minutes=10))
        newest_start = make_start(opened + timedelta(minutes=10), Priority.P2)
        newest = await start_incident(ts_env.client, newest_start, task_queue)
        from domain.incidents import MergeRequest

        merged = await older.execute_update(IncidentWorkflow.merge_into, MergeRequest(
            survivor=newest_start.ticket_id, by="agent"))
        result = await older.result()
        survivor = await newest.query(IncidentWorkflow.view)
    assert merged.status is Status.CLOSED and merged.merged_into == newest_start.ticket_id
    assert result.survey_expires_at is None and not events(result, "notice_unsent:ticket_closed")
    assert survivor.duplicates == [result.ticket_id]
    assert survivor.status is Status.NEW
    assert survivor.response_due == newest_start.opened_at + timedelta(hours=1)
    await newest.terminate("test done")


async def test_the_ladder_waits_while_paused_and_climbs_on_resume(ts_env, config, task_queue):
    """Breached P1 (response 15 min, no acknowledgement until 09:20) put on pending at 09:25;
    rung 2 (breach + 1 h = 10:15) falls inside the pause: it must neither fire nor wake the
    workflow (it once woke it in a tight loop), and fires as soon as work resumes."""
    opened = next_local(await ts_env.get_current_time(), weekday=0, hour=9)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await start_incident(ts_env.client, make_start(opened, Priority.P1), task_queue)
        await skip_to(ts_env, opened + timedelta(minutes=20))
        await handle.execute_update(IncidentWorkflow.acknowledge,
                                    Transition(to=Status.ACKNOWLEDGED, by="agent"))
        await skip_to(ts_env, opened + timedelta(minutes=25))
        await handle.execute_update(IncidentWorkflow.transition,
                                    Transition(to=Status.PENDING, by="agent"))
        await skip_to(ts_env, opened + timedelta(minutes=26))
        history_at_pause = len((await handle.fetch_history()).events)
        await skip_to(ts_env, opened + timedelta(hours=2))
        paused = await handle.query(IncidentWorkflow.view)
        added_while_paused = len((await handle.fetch_history()).events) - history_at_pause
        resumed_at = await ts_env.get_current_time()
        await handle.execute_update(IncidentWorkflow.transition,
                                    Transition(to=Status.IN_PROGRESS, by="agent"))
        await ts_env.sleep(timedelta(seconds=5))
        view = await handle.query(IncidentWorkflow.view)
    assert paused.escalation_level == 1
    assert added_while_paused == 0, f"{added_while_paused} history events while paused"
    second = events(view, "escalated")[1]
    assert second.due == opened + timedelta(minutes=15, hours=1)
    assert timedelta(0) <= second.at - resumed_at < timedelta(seconds=5)
    await handle.terminate("test done")


async def resolved_and_auto_closed(ts_env, handle, opened):
    """Resolve at Monday 10:00; the ticket auto-closes 3 BD later, Thursday 10:00."""
    await skip_to(ts_env, opened + timedelta(hours=1))
    resolved = await handle.execute_update(IncidentWorkflow.transition,
                                           Transition(to=Status.RESOLVED, by="agent"))
    await skip_to(ts_env, resolved.resolved_at + timedelta(days=3, minutes=1))
    assert (await handle.query(IncidentWorkflow.view)).status is Status.CLOSED
    return resolved


async def test_a_reply_inside_the_reopen_window_reopens_a_closed_ticket(
        ts_env, config, task_queue):
    """The reopen window is 5 BD from resolution (Monday 10:00 -> next Monday 10:00): a
    reply on Friday reopens the ticket although it already auto-closed on Thursday."""
    opened = next_local(await ts_env.get_current_time(), weekday=0, hour=9)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await start_incident(ts_env.client, make_start(opened, Priority.P3), task_queue)
        await resolved_and_auto_closed(ts_env, handle, opened)
        await skip_to(ts_env, opened + timedelta(days=4))  # Friday 09:00
        await handle.signal(IncidentWorkflow.comment, CommentIn(
            body="Printer jammed again", by="jo", from_requester=True))
        await ts_env.sleep(timedelta(minutes=1))
        view = await handle.query(IncidentWorkflow.view)
    assert (view.status, view.reopen_count, view.closed_at) == (Status.IN_PROGRESS, 1, None)
    await handle.terminate("test done")


async def test_a_reply_after_the_reopen_window_does_not_reopen(ts_env, config, task_queue):
    """Five business days after resolution (next Monday 10:00) the window is shut: a reply
    at 10:01 is kept on the ticket but does not reopen it."""
    opened = next_local(await ts_env.get_current_time(), weekday=0, hour=9)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await start_incident(ts_env.client, make_start(opened, Priority.P3), task_queue)
        resolved = await resolved_and_auto_closed(ts_env, handle, opened)
        await skip_to(ts_env, resolved.resolved_at + timedelta(days=7, minutes=1))
        await handle.signal(IncidentWorkflow.comment, CommentIn(
            body="Printer jammed again", by="jo", from_requester=True))
        await ts_env.sleep(timedelta(minutes=1))
        view = await handle.query(IncidentWorkflow.view)
    assert (view.status, view.reopen_count) == (Status.CLOSED, 0)
    assert view.comments[-1].body == "Printer jammed again"
    await handle.terminate("test done")
