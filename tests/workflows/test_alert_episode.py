"""The alert episode workflow on its own: 20 concurrent update-with-starts straight to
Temporal (no API replica taking turns) open one incident (dev server); the episode's end of
life and its daily check on a quiet alert (time skipping)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.alerts import AlertActivities
from domain.alerts import (
    AlertEnding,
    AlertFiring,
    AlertSource,
    EpisodeAction,
    EpisodeAnswer,
    EpisodeStart,
    EpisodeState,
    EpisodeStatus,
    IncidentMove,
    MoveOutcome,
)
from domain.ids import TicketKind, alert_workflow_id, workflow_id
from domain.tenants import TempodeskConfig
from domain.tickets import Status, Transition
from tests.conftest import make_settings
from tests.workflows.support import make_start
from worker import activities
from workflows.alert_episode import AlertEpisodeWorkflow
from workflows.incident import IncidentWorkflow
from workflows.post_mortem import PostMortemWorkflow

WINDOW = 1800


@contextlib.asynccontextmanager
async def episode_worker(client: Client, config: TempodeskConfig, task_queue: str,
                         ) -> AsyncIterator[Worker]:
    async with httpx.AsyncClient() as http, Worker(
            client, task_queue=task_queue,
            workflows=[AlertEpisodeWorkflow, IncidentWorkflow, PostMortemWorkflow],
            activities=[*activities(make_settings(), config, http),
                        *AlertActivities(client).all()]) as worker:
        yield worker


def firing(opened_at: datetime, starts_at: datetime | None = None) -> AlertFiring:
    start = make_start(opened_at)
    return AlertFiring(client_id="belton", source=AlertSource.ALERTMANAGER, starts_at=starts_at,
                       flap_window_seconds=WINDOW, by="integration:test", incident=start)


def ending(starts_at: datetime | None = None) -> AlertEnding:
    return AlertEnding(client_id="belton", source=AlertSource.ALERTMANAGER, starts_at=starts_at,
                       flap_window_seconds=WINDOW, by="integration:test", note="resolved")


def episode_start(key: str) -> EpisodeStart:
    return EpisodeStart(state=EpisodeState(client_id="belton", source=AlertSource.ALERTMANAGER,
                                           key=key, flap_window_seconds=WINDOW))


def with_start(key: str, task_queue: str) -> WithStartWorkflowOperation:
    return WithStartWorkflowOperation(
        AlertEpisodeWorkflow.run, episode_start(key),
        id=alert_workflow_id("belton", "alertmanager", key), task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        execution_timeout=timedelta(days=30))  # a safety net: mistakes fail, not hang


async def test_20_concurrent_update_with_starts_open_one_incident(dev_client, config,
                                                                  task_queue):
    key = task_queue.removeprefix("tq-")
    starts = datetime.now(UTC) - timedelta(minutes=1)

    async def fire(n: int) -> EpisodeAnswer:
        for attempt in range(50):  # Temporal admits 10 in-flight updates per workflow
            try:  # one update id per firing, as the client's own retries keep it
                return await dev_client.execute_update_with_start_workflow(
                    AlertEpisodeWorkflow.fire, firing(datetime.now(UTC), starts),
                    id=f"{key}-fire-{n}", start_workflow_operation=with_start(key, task_queue))
            except RPCError as exc:
                if exc.status != RPCStatusCode.RESOURCE_EXHAUSTED:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("never admitted")

    async with episode_worker(dev_client, config, task_queue):
        answers = await asyncio.gather(*(fire(n) for n in range(20)))
        tickets = {a.ticket_id for a in answers}
        assert len(tickets) == 1 and None not in tickets
        assert sorted(a.action for a in answers) == ["opened"] + ["repeat"] * 19
        handle = dev_client.get_workflow_handle_for(
            AlertEpisodeWorkflow.run, alert_workflow_id("belton", "alertmanager", key))
        state = await handle.query(AlertEpisodeWorkflow.view)  # across continue-as-new too
        assert (state.tickets, state.repeats, state.status) == ([*tickets], 19,
                                                                EpisodeStatus.FIRING)
        incident = dev_client.get_workflow_handle_for(
            IncidentWorkflow.run, workflow_id(TicketKind.INCIDENT, tickets.pop()))
        assert (await incident.query(IncidentWorkflow.view)).status is Status.NEW
        await handle.terminate("test over")


async def _status(handle: WorkflowHandle) -> WorkflowExecutionStatus | None:
    return (await handle.describe()).status


async def test_episode_ends_a_flap_window_after_its_resolve(ts_env, config, task_queue):
    env = ts_env
    key = "aa00"
    async with episode_worker(env.client, config, task_queue):
        now = await env.get_current_time()
        handle = await env.client.start_workflow(
            AlertEpisodeWorkflow.run, episode_start(key),
            id=alert_workflow_id("belton", "alertmanager", key), task_queue=task_queue,
            execution_timeout=timedelta(days=30))
        opened = await handle.execute_update(AlertEpisodeWorkflow.fire, firing(now, now))
        assert opened.action is EpisodeAction.OPENED
        resolved = await handle.execute_update(AlertEpisodeWorkflow.resolve, ending(now))
        assert (resolved.action, resolved.ticket_id) == (EpisodeAction.RESOLVED,
                                                         opened.ticket_id)
        await env.sleep(timedelta(minutes=29))
        assert await _status(handle) == WorkflowExecutionStatus.RUNNING
        await env.sleep(timedelta(minutes=2))
        state = await handle.result()
        assert state.status is EpisodeStatus.RESOLVED and state.tickets == [opened.ticket_id]


async def test_a_quiet_alert_whose_incident_was_resolved_at_the_desk_ends(
        ts_env, config, task_queue):
    env = ts_env
    key = "bb11"
    async with episode_worker(env.client, config, task_queue):
        now = await env.get_current_time()
        handle = await env.client.start_workflow(
            AlertEpisodeWorkflow.run, episode_start(key),
            id=alert_workflow_id("belton", "alertmanager", key), task_queue=task_queue,
            execution_timeout=timedelta(days=30))
        opened = await handle.execute_update(AlertEpisodeWorkflow.fire, firing(now, now))
        assert opened.ticket_id is not None
        await env.sleep(timedelta(hours=23))  # still firing, incident open: the check waits
        assert await _status(handle) == WorkflowExecutionStatus.RUNNING
        incident = env.client.get_workflow_handle_for(
            IncidentWorkflow.run, workflow_id(TicketKind.INCIDENT, opened.ticket_id))
        await incident.execute_update(IncidentWorkflow.transition,
                                      Transition(to=Status.RESOLVED, by="agent:jo"))
        await env.sleep(timedelta(hours=2))  # the daily check finds it resolved
        state = await handle.query(AlertEpisodeWorkflow.view)
        assert state.status is EpisodeStatus.RESOLVED
        assert state.log[-1].kind == "incident_done"
        await env.sleep(timedelta(minutes=31))  # then the flap window runs out
        assert (await handle.result()).status is EpisodeStatus.RESOLVED


def test_a_prepared_incident_serialises_in_a_fresh_process():
    """A worker whose first task is an episode starting its incident serialises an
    IncidentStart before anything validated one (a fresh interpreter: in this one, earlier
    tests may have completed the class already)."""
    code = ("from domain.alerts import AlertFiring; from domain.incidents import IncidentStart; "
            "assert IncidentStart.__pydantic_complete__")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


async def test_an_end_of_life_falling_due_during_a_message_waits_for_it(dev_client, task_queue):
    """The flap window runs out while a firing's reopen is still waiting on the incident:
    the loop waits for the message (no busy loop, no failed workflow task), which reopens."""
    held = asyncio.Event()

    @activity.defn(name="alerts.move_incident")
    async def move_incident(move: IncidentMove) -> MoveOutcome:
        if move.to == "in_progress":
            await held.wait()
        return MoveOutcome(applied=True, status=move.to)

    key = task_queue.removeprefix("tq-")
    window = 2
    handle = await dev_client.start_workflow(
        AlertEpisodeWorkflow.run, EpisodeStart(state=EpisodeState(
            client_id="belton", source=AlertSource.ALERTMANAGER, key=key,
            flap_window_seconds=window)),
        id=alert_workflow_id("belton", "alertmanager", key), task_queue=task_queue,
        execution_timeout=timedelta(minutes=5))
    async with Worker(dev_client, task_queue=task_queue,
                      workflows=[AlertEpisodeWorkflow, IncidentWorkflow, PostMortemWorkflow],
                      activities=[move_incident]):
        first = firing(datetime.now(UTC), datetime.now(UTC))
        first.flap_window_seconds = window
        opened = await handle.execute_update(AlertEpisodeWorkflow.fire, first)
        resolved = ending(first.starts_at)
        resolved.flap_window_seconds = window
        await handle.execute_update(AlertEpisodeWorkflow.resolve, resolved)
        again = firing(datetime.now(UTC), datetime.now(UTC))
        again.flap_window_seconds = window
        reopening = asyncio.create_task(handle.execute_update(AlertEpisodeWorkflow.fire, again))
        await asyncio.sleep(window + 1.5)  # the window ends while the reopen waits
        held.set()
        answer = await reopening
        assert (answer.action, answer.ticket_id) == (EpisodeAction.REOPENED, opened.ticket_id)
        assert (await handle.query(AlertEpisodeWorkflow.view)).status is EpisodeStatus.FIRING
        failed = [e for e in (await handle.fetch_history()).events
                  if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        assert failed == []
        await handle.terminate("test over")
