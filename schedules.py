"""Temporal Schedules for client reviews, made from the config: ``nps:<client>`` (the NPS
survey, on the months in ``reviews.nps_months``) and ``qbr:<client>`` (the QBR, on the
first month of each quarter), in the client's time zone. Operators see, pause and trigger
them in the Temporal Web UI (Schedules) or with ``temporal schedule ...``.

:func:`ensure_schedules` is idempotent: it creates what is missing, brings the others to
the config (keeping a pause an operator set), and deletes those of clients whose
reviews are disabled. ``tempodesk worker`` and ``tempodesk dev`` call it at start-up.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from domain import search_attributes as sa
from domain.reviews import Job, ReviewKickoff, schedule_id, scheduled_workflow_id
from domain.tenants import ClientConfig, TempodeskConfig
from workflows.reviews import ReviewKickoffWorkflow

log = logging.getLogger(__name__)
CATCHUP_WINDOW = timedelta(days=7)  # fired while the cluster was down: still run, this late
_WHAT = {Job.NPS: "NPS survey", Job.QBR: "quarterly business review"}


def review_schedule(client: ClientConfig, job: Job, task_queue: str) -> Schedule:
    calendar = client.reviews.calendar(job)
    months = ", ".join(str(m) for m in calendar.months)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReviewKickoffWorkflow.run, ReviewKickoff(client_id=client.id, job=job),
            id=scheduled_workflow_id(job, client.id), task_queue=task_queue,
            execution_timeout=timedelta(hours=1),
            typed_search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.CLIENT_ID, client.id)])),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(
                month=[ScheduleRange(m) for m in calendar.months],
                day_of_month=[ScheduleRange(calendar.day)],
                hour=[ScheduleRange(calendar.hour)], minute=[ScheduleRange(calendar.minute)],
                second=[ScheduleRange(0)],
                comment=f"day {calendar.day} of months {months}, "
                        f"{calendar.hour:02d}:{calendar.minute:02d} local")],
            time_zone_name=client.sla.calendar.timezone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL,
                              catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(note=f"{_WHAT[job]} for {client.name}, from the Tempodesk config "
                                 "(reviews); changes there replace this schedule at start-up"),
    )


async def ensure_schedules(client: Client, config: TempodeskConfig, *,
                           task_queue: str = "tempodesk") -> dict[str, str]:
    """Schedule id -> "created", "updated" or "deleted", for every client and job."""
    done: dict[str, str] = {}
    for tenant in config.clients:
        for job in Job:
            sid = schedule_id(job, tenant.id)
            if not tenant.reviews.enabled:
                if await _delete(client, sid):
                    done[sid] = "deleted"
                continue
            wanted = review_schedule(tenant, job, task_queue)
            try:
                await client.create_schedule(sid, wanted)
                done[sid] = "created"
            except ScheduleAlreadyRunningError:
                await client.get_schedule_handle(sid).update(_replace_with(wanted))
                done[sid] = "updated"
    return done


def _replace_with(wanted: Schedule):
    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        state = current.description.schedule.state
        wanted.state.paused = state.paused  # an operator's pause survives a restart
        if state.paused:
            wanted.state.note = state.note
        return ScheduleUpdate(schedule=wanted)

    return update


async def _delete(client: Client, sid: str) -> bool:
    try:
        await client.get_schedule_handle(sid).delete()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
