"""The worker kill -9 drill (issue 12): one implementation for the suite
(tests/drills/test_worker_kill_drill.py, a few hundred tickets) and the bench
(bench/drill_worker_kill.py, 1,000).

N Belton P1 incidents are opened at one instant on the fast SLA config (tests/fast_sla.py:
response target R seconds 24x7, ladder 0 s / 3 s / 6 s after the breach), served by one
`tempodesk worker` process. Once every ticket is parked on its SLA timer (the server says
so: no workflow task, no activity pending), that worker is killed with SIGKILL, before
anything falls due. It stays down until the breach and the first two rungs are due (the
breach + ``restart_after`` seconds), then a new worker starts. When every ticket stands
on the last rung, each ticket's events are counted: exactly one ``sla_breached:response``
and one ``escalated`` per rung, each with ``due`` the instant the SLA scheduled (and with
warnings on, one ``sla_warning:response:P`` each).

Lateness is measured from the ticket's own record (``at`` of the event, the workflow's
clock when it fired): for what fell due during the outage, after the restart
(``at - restart``); for what fell due once the new worker was started, ``at - due``.

Warnings are off by default: the drill is about the breach and the ladder, and each
warning is one more notice (two activities) per ticket for the new worker to catch up on.
Notices go nowhere (no SMTP host, no webhooks on Belton), so none is retried.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from domain.incidents import IncidentView
from domain.tenants import load_config
from tests.fast_sla import RUNGS, fast_config_dict
from tests.processes import Child, bounded, child_env, pct, worker
from tests.tags import unique_tag
from tests.workflows.support import make_start, start_incident
from workflows.incident import IncidentWorkflow

CONCURRENCY = 32  # client calls in flight (starts, describes, queries, terminations)
BREACH = "sla_breached:response"


class DrillSetupError(RuntimeError):
    """The drill could not be set up as designed (e.g. tickets not parked in time)."""


def response_seconds_for(count: int) -> int:
    """A response target long enough to open and park ``count`` tickets before it falls
    due on a loaded 2-core machine (parking took ~30 ms a ticket at 1,000), with a margin."""
    return max(12, 8 + round(count * 0.045))


@dataclass
class DrillResult:
    tickets: int
    task_queue: str
    response_seconds: int
    opened_at: datetime
    breach_due: datetime
    parked_at: float  # epoch seconds: every ticket parked on its timer
    killed_at: float
    restarted_at: float  # the new worker process was started
    polling_at: float | None  # ... and logged that it polls
    finished_at: float  # every ticket on the last rung (seen by visibility)
    counted: dict[str, int] = field(default_factory=dict)  # event kind -> total count
    expected: dict[str, int] = field(default_factory=dict)
    during_outage: list[float] = field(default_factory=list)  # at - restart, seconds
    after_restart: list[float] = field(default_factory=list)  # at - due, seconds
    problems: list[str] = field(default_factory=list)
    # Workflow tasks that timed out or failed in the tickets' latest runs, by kind: a
    # schedule-to-start timeout is a task that waited on the sticky queue of the worker
    # that cached the ticket (dead, or busy) and moved to the shared queue; start-to-close,
    # one a worker took and did not complete in time (retried). Retried tasks are not
    # problems of their own: a ticket that never recovers misses its rungs.
    task_trouble: dict[str, int] = field(default_factory=dict)

    @property
    def outage(self) -> float:
        return self.restarted_at - self.killed_at

    def report(self) -> str:
        due = self.breach_due.timestamp()
        lines = [
            f"worker kill -9 drill: {self.tickets} tickets on task queue {self.task_queue}, "
            f"response target {self.response_seconds} s, ladder "
            + "/".join(f"{s}s" for _, s in RUNGS) + " after the breach",
            f"  parked {due - self.parked_at:.1f} s before the breach, killed "
            f"{due - self.killed_at:.1f} s before it; worker down {self.outage:.1f} s "
            f"(restarted {self.restarted_at - due:.1f} s after the breach"
            + (f", polling {self.polling_at - self.restarted_at:.1f} s later"
               if self.polling_at else "") + ")",
            f"  all on the last rung {self.finished_at - self.restarted_at:.1f} s after the "
            "restart",
        ]
        for kind, n in self.counted.items():
            want = self.expected.get(kind)
            verdict = "exactly once per ticket" if n == want else f"EXPECTED {want}"
            lines.append(f"  {kind:<28} {n:6d} counted  ({verdict})")
        for label, values in (("due during the outage (at - restart)", self.during_outage),
                              ("due after the restart (at - due)", self.after_restart)):
            if values:
                lines.append(f"  lateness, {label:<38} n {len(values):5d}  p50 "
                             f"{pct(values, 50):6.3f} s  p99 {pct(values, 99):6.3f} s  max "
                             f"{max(values):6.3f} s")
        for what, n in self.task_trouble.items():
            lines.append(f"  workflow tasks {what}: {n} ({n / self.tickets:.2f} a ticket)")
        lines += [f"  PROBLEM: {p}" for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"  ... and {len(self.problems) - 20} more problems")
        return "\n".join(lines)




def write_drill_config(path: Path, response_seconds: int, tag: str, warnings: bool) -> Path:
    raw = fast_config_dict(response=f"{response_seconds}s", resolution="1h", tag=tag)
    if not warnings:
        belton = next(c for c in raw["clients"] if c["ticket_prefix"].startswith("BEL"))
        belton["sla"]["warnings"] = []
    path.write_text(yaml.safe_dump(raw))
    return path


class Workers:
    """The drill's `tempodesk worker` processes (tests/processes.py), one log file each."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.children: list[Child] = []

    def start(self) -> Child:
        child = worker(self.env, self.workdir / f"worker-{len(self.children) + 1}.log")
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        for child in self.children:
            if child.process.poll() is None:
                child.process.terminate()
        for child in self.children:
            child.stop()

    def tail(self) -> str:
        return "\n".join(f"--- {c.log.name} (exit {c.process.poll()}):\n{c.log_tail(2000)}"
                         for c in self.children)


async def wait_parked(handles: list[WorkflowHandle], until: float) -> None:
    """Every ticket waits on its timer with nothing else pending (describe: the server
    answers, not the worker)."""
    async def one(i: int) -> None:
        while True:
            raw = (await handles[i].describe()).raw_description
            if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
                return
            if time.time() > until:
                raise DrillSetupError(f"{handles[i].id} not parked in time: give the drill a "
                                      "longer response target")
            await asyncio.sleep(0.2)

    await bounded(len(handles), CONCURRENCY, one)


async def count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def run_drill(client: Client, workdir: Path, *, tickets: int, task_queue: str | None = None,
                    response_seconds: int | None = None, restart_after: float = 4.0,
                    warnings: bool = False, finish_timeout: float | None = None,
                    terminate: bool = True, worker_env: dict[str, str] | None = None,
                    log: Callable[[str], None] = print) -> DrillResult:
    """Run the drill against ``client``'s server; problems are listed in the result (the
    caller asserts or prints them); DrillSetupError if it could not be staged."""
    tag = unique_tag()
    task_queue = task_queue or f"drill-{tag}"
    response = response_seconds or response_seconds_for(tickets)
    config_path = write_drill_config(workdir / "drill.yaml", response, tag, warnings)
    config = load_config(config_path)
    belton = next(c for c in config.clients if c.ticket_prefix.startswith("BEL"))
    warning_kinds = [f"sla_warning:response:{p}" for p in belton.sla.warnings]
    env = child_env(client.service_client.config.target_host, task_queue, config_path,
                    signing_secret=secrets.token_urlsafe(32),
                    TEMPODESK_TEMPORAL_NAMESPACE=client.namespace,
                    TEMPODESK_LOG_LEVEL="INFO")  # Child.polling reads "worker polling"
    env.pop("TEMPODESK_SMTP_HOST", None)  # notices go nowhere, never retried
    env.update(worker_env or {})
    workers = Workers(env, workdir)
    handles: list[WorkflowHandle] = []
    try:
        first = workers.start()
        # The window to park in starts once the worker polls: its start-up (imports, a
        # loaded machine) is not what the drill measures.
        await first.polling()
        opened_at = datetime.now(UTC)
        template = make_start(opened_at, policy=belton.sla, client_id=belton.id)
        breach_due = opened_at + timedelta(seconds=response)
        first_due = opened_at + timedelta(seconds=response * min(
            (p / 100 for p in belton.sla.warnings), default=1))
        handles = [None] * tickets  # type: ignore[list-item]

        async def begin(i: int) -> None:
            start = template.model_copy(update={"ticket_id": f"DRL{tag.upper()}-{i:05d}"})
            handles[i] = await start_incident(client, start, task_queue)

        await bounded(tickets, CONCURRENCY, begin)
        log(f"{tickets} tickets opened in {time.time() - opened_at.timestamp():.1f} s")
        await wait_parked(handles, until=first_due.timestamp() - 1)
        parked_at = time.time()
        first.kill()  # SIGKILL
        killed_at = time.time()
        if killed_at > first_due.timestamp() - 0.5:
            raise DrillSetupError(f"the worker was killed at {killed_at:.1f}, the first timer "
                                  f"fell due at {first_due.timestamp():.1f}: give the drill a "
                                  "longer response target")
        log(f"parked {breach_due.timestamp() - parked_at:.1f} s before the breach; worker "
            f"killed (SIGKILL); down until {restart_after} s after the breach")

        await asyncio.sleep(breach_due.timestamp() + restart_after - time.time())
        restarted_at = time.time()
        second = workers.start()
        polling_at = await second.polling()
        last_rung = len(RUNGS)
        timeout = finish_timeout or 60 + tickets * 0.25
        on_top = f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running' AND " \
                 f"EscalationLevel = {last_rung}"
        while (done := await count(client, on_top)) < tickets:
            if time.time() - restarted_at > timeout or second.process.poll() is not None:
                raise AssertionError(f"only {done}/{tickets} tickets reached rung {last_rung} "
                                     f"{time.time() - restarted_at:.0f} s after the restart\n"
                                     + workers.tail())
            await asyncio.sleep(0.5)
        finished_at = time.time()
        log(f"all {tickets} on the last rung {finished_at - restarted_at:.1f} s after the "
            "restart; counting events")

        result = DrillResult(
            tickets=tickets, task_queue=task_queue, response_seconds=response,
            opened_at=opened_at, breach_due=breach_due, parked_at=parked_at,
            killed_at=killed_at, restarted_at=restarted_at, polling_at=polling_at,
            finished_at=finished_at)
        await check_events(client, handles, result, warnings=warning_kinds)
        return result
    finally:
        workers.stop_all()
        if terminate:
            await terminate_all(handles)


async def check_events(client: Client, handles: list[WorkflowHandle], result: DrillResult,
                       warnings: list[str]) -> None:
    """Count each ticket's timer events; fill in counts, lateness and problems."""
    breach_due = result.breach_due
    restart = datetime.fromtimestamp(result.restarted_at, UTC)
    expected_dues = {BREACH: [breach_due],
                     "escalated": [breach_due + timedelta(seconds=s) for _, s in RUNGS]}
    for kind in warnings:
        percent = int(kind.rsplit(":", 1)[1])
        expected_dues[kind] = [result.opened_at + timedelta(
            seconds=result.response_seconds * percent / 100)]
    result.counted = {kind: 0 for kind in expected_dues}
    result.expected = {kind: len(dues) * result.tickets for kind, dues in expected_dues.items()}
    views: list[IncidentView | None] = [None] * len(handles)

    statuses: list[WorkflowExecutionStatus | None] = [None] * len(handles)
    tasks: collections.Counter[str] = collections.Counter()

    async def look(i: int) -> None:
        for _ in range(20):
            with contextlib.suppress(RPCError):
                statuses[i] = (await handles[i].describe()).status  # the latest run
                views[i] = await handles[i].query(IncidentWorkflow.view)
                break
            await asyncio.sleep(0.5)
        async for event in handles[i].fetch_history_events():  # the latest run's
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                kind = event.workflow_task_timed_out_event_attributes.timeout_type
                tasks[f"timed out ({TimeoutType.Name(kind).removeprefix('TIMEOUT_TYPE_')})"] += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failure = event.workflow_task_failed_event_attributes.failure
                tasks[f"failed: {failure.message[:80]}"] += 1

    await bounded(len(handles), CONCURRENCY, look)
    for handle, view, status in zip(handles, views, statuses, strict=True):
        if status is not WorkflowExecutionStatus.RUNNING:
            result.problems.append(f"{handle.id}: {status.name if status else 'no status'}")
        if view is None:
            result.problems.append(f"{handle.id}: no answer to the view query")
            continue
        if view.events_dropped:
            result.problems.append(f"{handle.id}: {view.events_dropped} events dropped")
        for kind, dues in expected_dues.items():
            fired = [e for e in view.events if e.kind == kind]
            result.counted[kind] += len(fired)
            if [e.due for e in fired] != dues:
                result.problems.append(
                    f"{handle.id}: {kind} fired at dues {[e.due for e in fired]}, "
                    f"expected {dues}")
            for e in fired:
                if e.due is None:
                    continue
                if e.due < restart:
                    result.during_outage.append((e.at - restart).total_seconds())
                else:
                    result.after_restart.append((e.at - e.due).total_seconds())
        others = [e.kind for e in view.events
                  if e.kind.startswith(("sla_", "escalated")) and e.kind not in expected_dues]
        if others:
            result.problems.append(f"{handle.id}: unexpected timer events {others}")
    result.task_trouble = dict(tasks.most_common())
    # Runs closed otherwise than by continue-as-new (the latest runs are checked above).
    failed = await count(client, f"TaskQueue = '{result.task_queue}' AND ExecutionStatus IN "
                                 "('Failed', 'TimedOut', 'Terminated', 'Canceled')")
    if failed:
        result.problems.append(f"{failed} ticket runs failed, timed out or were cancelled")


async def terminate_all(handles: list[WorkflowHandle | None]) -> None:
    live = [h for h in handles if h is not None]

    async def end(i: int) -> None:
        with contextlib.suppress(RPCError):
            await live[i].terminate("drill done")

    await bounded(len(live), CONCURRENCY, end)
