"""The SLA clock on its own: a tiny workflow drives domain.sla.clock.SlaClock exactly as a
ticket does (sleep until next_moment or a message, then fire_due), on the time-skipping
server, so every warning, breach and rung is checked at its exact instant."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.worker import Worker

from domain.sla.clock import ClockEvent, ClockTarget, SlaClock, SlaClockState
from domain.sla.deadlines import ResolvedTarget, SlaSnapshot, snapshot_for
from domain.sla.policy import Priority
from domain.sla.timeline import US
from tests.workflows.support import LADDER, belton_without_holidays, next_local

HOUR = timedelta(hours=1)


class ProbeStart(BaseModel):
    snapshot: SlaSnapshot
    clock: SlaClockState


class Change(BaseModel):
    """One message to the probe: pause, resume, reprioritise or set a target."""

    action: str
    priority: Priority | None = None
    target: ClockTarget | None = None


class Fired(BaseModel):
    event: ClockEvent
    at: datetime


class ProbeView(BaseModel):
    fired: list[Fired]
    clock: SlaClockState


@workflow.defn(sandboxed=False)
class ClockProbeWorkflow:
    @workflow.init
    def __init__(self, start: ProbeStart) -> None:
        self.clock = SlaClock(start.snapshot, start.clock)
        self.fired: list[Fired] = []
        self.changed = False

    @workflow.run
    async def run(self, start: ProbeStart) -> None:
        while True:
            wake = self.clock.next_moment()
            self.changed = False
            timeout = None if wake is None else max(wake - workflow.now(), timedelta(0))
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self.changed, timeout=timeout)
            now = workflow.now()
            self.fired += [Fired(event=e, at=now) for e in self.clock.fire_due(now)]

    @workflow.signal
    def change(self, change: Change) -> None:
        now = workflow.now()
        if change.action == "pause":
            self.clock.pause(now)
        elif change.action == "resume":
            self.clock.resume(now)
        elif change.action == "reprioritise":
            assert change.priority is not None
            self.clock.reprioritise(change.priority, now)
        elif change.action == "set_target":
            assert change.target is not None
            self.clock.set_target(change.target, now)
        self.changed = True

    @workflow.query
    def view(self) -> ProbeView:
        return ProbeView(fired=self.fired, clock=self.clock.state)


async def probe(env, opened: datetime, priority: Priority, task_queue: str):
    start = ProbeStart(snapshot=snapshot_for(belton_without_holidays(), opened),
                       clock=SlaClockState(priority=priority, opened_at=opened))
    return await env.client.start_workflow(
        ClockProbeWorkflow.run, start, id=f"probe-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue, execution_timeout=timedelta(days=30))


async def skip_to(env, moment: datetime) -> None:
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)


def assert_exact(fired: list[Fired]) -> None:
    """Time skipping fires each at its instant (plus the milliseconds a task takes)."""
    for f in fired:
        assert timedelta(0) <= f.at - f.event.due < timedelta(seconds=1), f


async def test_warnings_breach_and_every_rung_at_their_instants(ts_env, task_queue):
    opened = next_local(await ts_env.get_current_time(), weekday=6, hour=3)  # Sunday 03:00
    await skip_to(ts_env, opened)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[ClockProbeWorkflow]):
        handle = await probe(ts_env, opened, Priority.P1, task_queue)
        await ts_env.sleep(timedelta(hours=25))
        view = await handle.query(ClockProbeWorkflow.view)
    got = [(f.event.kind, f.event.target, f.event.percent, f.event.level, f.event.due - opened)
           for f in view.fired]
    minutes = timedelta(minutes=1)
    expected = [("warning", "response", 50, 0, 7.5 * minutes),
                ("warning", "response", 75, 0, 11.25 * minutes),
                ("warning", "response", 90, 0, 13.5 * minutes),
                ("breach", "response", 100, 0, 15 * minutes)]
    expected += [("escalation", "", 0, i + 1, 15 * minutes + h * HOUR)
                 for i, (_, h) in enumerate(LADDER) if h < 2]
    expected += [("warning", "resolution", 50, 0, 2 * HOUR)]
    expected += [("escalation", "", 0, 3, 15 * minutes + 2 * HOUR)]
    expected += [("warning", "resolution", 75, 0, 3 * HOUR),
                 ("warning", "resolution", 90, 0, 216 * minutes),
                 ("breach", "resolution", 100, 0, 4 * HOUR)]
    expected += [("escalation", "", 0, i + 1, 15 * minutes + h * HOUR)
                 for i, (_, h) in enumerate(LADDER) if h >= 4]
    assert got == expected
    assert_exact(view.fired)
    await handle.terminate("test done")


async def test_pause_moves_the_breach_and_holds_the_ladder(ts_env, task_queue):
    """P1 (24x7): paused from 10 to 40 min, the 15 min response breach moves to 45 min; a
    pause right after the breach holds the first rung until it ends."""
    opened = next_local(await ts_env.get_current_time(), weekday=1, hour=3)
    await skip_to(ts_env, opened)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[ClockProbeWorkflow]):
        handle = await probe(ts_env, opened, Priority.P1, task_queue)
        await skip_to(ts_env, opened + timedelta(minutes=10))
        await handle.signal(ClockProbeWorkflow.change, Change(action="pause"))
        await skip_to(ts_env, opened + timedelta(minutes=40))
        paused = await handle.query(ClockProbeWorkflow.view)
        assert [f.event.percent for f in paused.fired] == [50]  # 7.5 min, before the pause
        await handle.signal(ClockProbeWorkflow.change, Change(action="resume"))
        await skip_to(ts_env, opened + timedelta(minutes=46))
        view = await handle.query(ClockProbeWorkflow.view)
    pause = view.clock.pauses[0]
    paused_for = pause[1] - pause[0]
    breach = next(f for f in view.fired if f.event.kind == "breach")
    assert breach.event.due == opened + timedelta(minutes=15) + paused_for
    rung = next(f for f in view.fired if f.event.kind == "escalation")
    assert rung.event.due == breach.event.due  # first rung 0 h after the breach
    assert_exact(view.fired)
    await handle.terminate("test done")


async def test_a_target_added_then_changed_while_running(ts_env, task_queue):
    """A process adds its own target (e.g. 'ready by the start date') and later moves it:
    the old definition's instants still to come never fire; the new ones do, warnings
    re-armed (like a reprioritised ticket's)."""
    opened = next_local(await ts_env.get_current_time(), weekday=1, hour=3)
    await skip_to(ts_env, opened)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[ClockProbeWorkflow]):
        handle = await probe(ts_env, opened, Priority.P4, task_queue)
        ready = ClockTarget(name="ready", due_at=opened + 4 * HOUR, warnings=(50,))
        await handle.signal(ClockProbeWorkflow.change, Change(action="set_target", target=ready))
        await skip_to(ts_env, opened + 3 * HOUR)  # the 50 % warning (2 h) has fired
        moved = ready.model_copy(update={"due_at": opened + 10 * HOUR})
        await handle.signal(ClockProbeWorkflow.change, Change(action="set_target", target=moved))
        # A 1-hour 24x7 length from 'starts_at', added as well.
        access = ClockTarget(name="access", starts_at=opened + 6 * HOUR, warnings=(50, 75),
                             length=ResolvedTarget(micros=3600 * US, business=False))
        await handle.signal(ClockProbeWorkflow.change, Change(action="set_target", target=access))
        await skip_to(ts_env, opened + 11 * HOUR)
        view = await handle.query(ClockProbeWorkflow.view)
    extra = [(f.event.target, f.event.percent, f.event.due - opened) for f in view.fired
             if f.event.target in ("ready", "access")]
    assert extra == [("ready", 50, 2 * HOUR),   # under the first definition (due 4 h)
                     ("ready", 50, 5 * HOUR),   # moved to 10 h at 3 h: warned again
                     ("access", 50, 6.5 * HOUR), ("access", 75, 6.75 * HOUR),
                     ("access", 100, 7 * HOUR),
                     ("ready", 100, 10 * HOUR)]  # never at the old 4 h
    assert_exact(view.fired)
    await handle.terminate("test done")


async def test_reprioritised_targets_count_from_the_open_time(ts_env, task_queue):
    """P4 -> P1 at 10 min: the P1 response (15 min from opening) breaches at 15 min; its
    50 % (7.5 min) had passed before the change and fires at once, late by design."""
    opened = next_local(await ts_env.get_current_time(), weekday=1, hour=3)
    await skip_to(ts_env, opened)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[ClockProbeWorkflow]):
        handle = await probe(ts_env, opened, Priority.P4, task_queue)
        await skip_to(ts_env, opened + timedelta(minutes=10))
        await handle.signal(ClockProbeWorkflow.change,
                            Change(action="reprioritise", priority=Priority.P1))
        await skip_to(ts_env, opened + timedelta(minutes=16))
        view = await handle.query(ClockProbeWorkflow.view)
    response = [(f.event.percent, f.event.due - opened, f.at - opened) for f in view.fired
                if f.event.target == "response"]
    ten = timedelta(minutes=10)
    assert [r[:2] for r in response] == [(50, timedelta(minutes=7.5)),
                                         (75, timedelta(minutes=11.25)),
                                         (90, timedelta(minutes=13.5)),
                                         (100, timedelta(minutes=15))]
    assert ten <= response[0][2] < ten + timedelta(seconds=1)  # due before the change
    assert_exact([f for f in view.fired if f.event.target == "response"][1:])
    await handle.terminate("test done")
