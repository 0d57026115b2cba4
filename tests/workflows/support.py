"""Running incident workflows directly against a Temporal server (no API)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import TypedSearchAttributes
from temporalio.worker import Worker

from activities.notifications import deliver_in_order
from domain.ids import workflow_id
from domain.incidents import IncidentReport, IncidentRules, IncidentStart, IncidentView
from domain.notifications import (
    LaneReceipts,
    NoticeBatch,
    NoticeDelivery,
    NoticeReceipt,
    WebhookRouting,
)
from domain.settings import Settings
from domain.sla import Priority, SlaPolicy, policy_from_preset, snapshot_for
from domain.sla.priority import PriorityDecision
from domain.tenants import TempodeskConfig
from domain.tickets import TicketStart, TicketView
from tests.conftest import make_settings
from tests.web.helpers import incident_body
from worker import activities
from workflows.incident import IncidentWorkflow
from workflows.post_mortem import PostMortemWorkflow
from workflows.ticket import TicketWorkflow

MELBOURNE = ZoneInfo("Australia/Melbourne")
LADDER = [  # the demo Belton ladder with contacts
    ("Service Desk Team Lead", 0), ("Senior IT Operations Manager", 1),
    ("IT Operations Director", 2), ("Account Manager", 4), ("Chief Operating Officer", 8),
    ("Chief Executive Officer", 24)]


def belton_without_holidays() -> SlaPolicy:
    """Belton's contract with weekends only, so tests that skip weeks ahead never land on a
    public holiday whose date depends on when CI runs."""
    return policy_from_preset("belton", {
        "calendar": {"holidays": {"country": None, "subdivision": None}},
        "ladder": [{"role": role, "contact": f"rung{i}@belton.example", "after": f"{h}h"}
                   for i, (role, h) in enumerate(LADDER)]})


def notice_stand_ins(deliver: Callable[[NoticeDelivery], Awaitable[NoticeReceipt]],
                     routing: Callable[[], WebhookRouting] = lambda: EVERY_EVENT,
                     ) -> list[Callable]:
    """The notice activity of a time-skipping test whose stand-in ``deliver`` takes one
    notice on one lane: ``deliver_notices`` hands it each notice of a batch through the
    real loop (in order, stopping at the first failure) and reports ``routing()`` (by
    default a hook for every event, so both lanes deliver everything)."""

    @activity.defn(name="deliver_notices")
    async def deliver_notices(batch: NoticeBatch) -> LaneReceipts:
        result = await deliver_in_order(batch, deliver)
        result.routing = routing()
        return result

    return [deliver_notices]


EVERY_EVENT = WebhookRouting(every_event=True)


async def delivered_quietly(delivery: NoticeDelivery) -> NoticeReceipt:
    """A stand-in for tests about something else than notices: each is delivered."""
    return NoticeReceipt()


def next_local(now: datetime, weekday: int, hour: int, minute: int = 0,
               zone: ZoneInfo = MELBOURNE) -> datetime:
    """The first local ``weekday`` (0 = Monday) at ``hour:minute`` strictly after ``now``."""
    local = now.astimezone(zone)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    if candidate <= local:
        candidate += timedelta(days=7)
    return candidate


def make_start(opened_at: datetime, priority: Priority = Priority.P1,
               policy: SlaPolicy | None = None, client_id: str = "belton",
               rules: IncidentRules | None = None) -> IncidentStart:
    return IncidentStart(
        ticket_id=f"TST-{uuid.uuid4().int % 10**6:06d}", client_id=client_id, opened_at=opened_at,
        report=IncidentReport.model_validate(incident_body()),
        priority=PriorityDecision(priority=priority, rule="test"), raised_by="test",
        sla=snapshot_for(policy or belton_without_holidays(), opened_at),
        rules=rules or IncidentRules())


@contextlib.asynccontextmanager
async def incident_worker(client: Client, config: TempodeskConfig, task_queue: str,
                          settings: Settings | None = None) -> AsyncIterator[Worker]:
    async with httpx.AsyncClient() as http, Worker(
            client, task_queue=task_queue, workflows=[IncidentWorkflow, PostMortemWorkflow],
            activities=activities(settings or make_settings(), config, http)) as worker:
        yield worker


async def start_ticket(client: Client, workflow: type[TicketWorkflow], start: TicketStart,
                       task_queue: str, days: int = 400, **options: Any) -> WorkflowHandle:
    """Start a ticket of ``workflow``'s kind as the intake does (its business key, the
    search attributes of its state at intake), with a safety net of ``days``: a mistake
    fails the test instead of hanging it. ``options`` go to ``start_workflow``."""
    state = workflow.initial_state(start)
    return await client.start_workflow(
        workflow.run, start, id=workflow_id(workflow.kind, start.ticket_id),
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes(workflow.search_attributes(state)),
        execution_timeout=timedelta(days=days), **options)


async def start_incident(client: Client, start: IncidentStart, task_queue: str,
                         ) -> WorkflowHandle[IncidentWorkflow, IncidentView]:
    return await start_ticket(client, IncidentWorkflow, start, task_queue)


def events(view: TicketView, prefix: str) -> list:
    """A ticket's events (any kind) whose kind starts with ``prefix``."""
    return [e for e in view.events if e.kind.startswith(prefix)]


def without_holidays(config: TempodeskConfig) -> TempodeskConfig:
    """The demo config with Belton on ``belton_without_holidays`` (for calendar extension)."""
    return config.model_copy(update={"clients": [
        c.model_copy(update={"sla": belton_without_holidays()}) if c.id == "belton" else c
        for c in config.clients]})


async def published(handle: WorkflowHandle, attribute: str) -> list[str]:
    """Each upsert of search attribute ``attribute`` in the ticket's history: its value,
    or "unset"."""
    from temporalio.api.enums.v1 import EventType

    values = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = (event.upsert_workflow_search_attributes_event_attributes
                      .search_attributes.indexed_fields)
            if attribute in fields:
                values.append(fields[attribute].data.decode() or "unset")
    return values
