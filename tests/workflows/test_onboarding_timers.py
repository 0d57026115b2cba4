"""New users under time skipping, with stand-in providers (the workflow's order and timing
are under test; the HTTP adapters are tested against local Graph/Datto servers): ready
before the start, then the MFA check and reminders; a device never enrolled breaches the
ready target at the start and climbs the ladder; an exhausted licence pool waits for an
agent; an expedite waits for approval; HR's cancellation undoes everything, newest first."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from domain.notifications import NoticeDelivery, NoticeReceipt
from domain.offboarding import ProviderCall
from domain.onboarding import (
    Cancellation,
    ExpediteDecision,
    JoinerCall,
    JoinerForm,
    OnboardingStart,
    RetrySteps,
    induction_slot,
)
from domain.provider_steps import ProviderResult
from domain.sla.deadlines import snapshot_for
from tests.workflows.support import (
    belton_without_holidays,
    events,
    next_local,
    notice_stand_ins,
    start_ticket,
)
from workflows.onboarding import OnboardingWorkflow

calls: list[tuple[str, datetime]] = []
delivered: list[str] = []  # notices, as "<lane> <event>"


@pytest.fixture(autouse=True)
def quiet_retries():
    """Stand-ins fail on purpose hundreds of times: keep their warnings out of the log."""
    logger = logging.getLogger("temporalio.activity")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)
behaviour: dict[str, object] = {}


def _record(name: str) -> datetime:
    now = activity.info().current_attempt_scheduled_time
    calls.append((name, now))
    return now


@activity.defn(name="create_account")
async def create_account(call: JoinerCall) -> ProviderResult:
    _record("create_account")
    return ProviderResult(detail="created", resource_id="user-1")


@activity.defn(name="assign_licences")
async def assign_licences(call: JoinerCall) -> ProviderResult:
    _record("assign_licences")
    if behaviour.get("pool_empty"):
        raise ApplicationError("licence pool exhausted: SPE_E3 (25 of 25 in use)",
                               type="LicencePoolExhausted", non_retryable=True)
    return ProviderResult(detail="licensed")


@activity.defn(name="add_groups")
async def add_groups(call: JoinerCall) -> ProviderResult:
    _record("add_groups")
    return ProviderResult(detail="grouped")


@activity.defn(name="build_device")
async def build_device(call: JoinerCall) -> ProviderResult:
    now = _record(f"build_device {call.device.hostname}")
    enrolled_at = behaviour.get("device_enrolled_at")
    if enrolled_at is None or now < enrolled_at:
        raise ApplicationError(f"{call.device.hostname} is not in the client's RMM site yet",
                               type="DeviceNotEnrolled")
    return ProviderResult(detail="built")


@activity.defn(name="check_mfa")
async def check_mfa(call: JoinerCall) -> ProviderResult:
    now = _record("check_mfa")
    enrolled_at = behaviour.get("mfa_enrolled_at")
    return ProviderResult(detail="enrolled: microsoftAuthenticatorAuthenticationMethod"
                          if enrolled_at is not None and now >= enrolled_at
                          else "not enrolled yet")


@activity.defn(name="delete_account")
async def delete_account(call: JoinerCall) -> ProviderResult:
    _record("delete_account")
    return ProviderResult(detail="deleted")


@activity.defn(name="remove_groups")
async def remove_groups(call: JoinerCall) -> ProviderResult:
    _record("remove_groups")
    return ProviderResult(detail="removed")


@activity.defn(name="release_device")
async def release_device(call: JoinerCall) -> ProviderResult:
    _record(f"release_device {call.device.hostname}")
    return ProviderResult(detail="released")


@activity.defn(name="remove_licences")
async def remove_licences(call: ProviderCall) -> ProviderResult:
    _record("remove_licences")
    return ProviderResult(detail="returned")


async def deliver(delivery: NoticeDelivery) -> NoticeReceipt:
    delivered.append(f"{delivery.lane.value} {delivery.notice.event}")
    return NoticeReceipt()


STAND_INS = [create_account, assign_licences, add_groups, build_device, check_mfa,
             delete_account, remove_groups, release_device, remove_licences,
             *notice_stand_ins(deliver)]


def joiner_form(**changes) -> JoinerForm:
    form = {"employee": {"name": "Sam Lee", "email": "sam.lee@personal.example"},
            "user_principal_name": "sam.lee@harbourside.example", "title": "Paralegal",
            "manager": {"name": "Mia Chen", "email": "mia.chen@harbourside.example"},
            "start_date": "2027-01-08", "hardware": [{"hostname": "BEL-LT-042"}]}
    form.update(changes)
    return JoinerForm.model_validate(form)


async def start_joiner(env, task_queue: str, opened: datetime, starts: datetime,
                       expedited: bool = False, **form):
    sla = snapshot_for(belton_without_holidays(), opened)
    start = OnboardingStart(
        ticket_id=f"TST-{uuid.uuid4().int % 10**6:06d}", client_id="belton", opened_at=opened,
        raised_by="hr:test", form=joiner_form(**form), starts_at=starts, licences=["SPE_E3"],
        groups=["g-staff"], usage_location="AU", expedited=expedited, notice="3bd",
        induction_at=induction_slot(sla.timeline(), starts), sla=sla)
    return await start_ticket(env.client, OnboardingWorkflow, start, task_queue, days=100)


async def monday_morning(env) -> tuple[datetime, datetime]:
    """Opened Monday 10:00 Melbourne; the user starts Friday 08:30 (3 BD + notice)."""
    opened = next_local(await env.get_current_time(), weekday=0, hour=10)
    await env.sleep(opened - await env.get_current_time())
    return opened, opened + timedelta(days=4, hours=-1, minutes=-30)


def names() -> list[str]:
    return [name for name, _ in calls]


def reset(**given) -> None:
    calls.clear()
    delivered.clear()
    behaviour.clear()
    behaviour.update(given)


async def test_ready_before_the_start_then_mfa_reminded_until_enrolled(ts_env, task_queue):
    opened, starts = await monday_morning(ts_env)
    reset(device_enrolled_at=opened + timedelta(days=1),          # the technician, Tuesday
          mfa_enrolled_at=starts + timedelta(days=3, hours=3))    # after a reminder
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OnboardingWorkflow],
                      activities=STAND_INS):
        handle = await start_joiner(ts_env, task_queue, opened, starts)
        await ts_env.sleep(timedelta(days=2))
        ready = await handle.query(OnboardingWorkflow.view)
        assert ready.ready_at is not None and ready.ready_at < starts
        assert not ready.breached and ready.confirmation_sent_at == ready.ready_at
        assert {"email account_confirmation", "email induction_invite"} <= set(delivered)
        await ts_env.sleep(starts + timedelta(days=7) - await ts_env.get_current_time())
        view = await handle.query(OnboardingWorkflow.view)
    assert names()[0] == "create_account"  # the account before anything that needs it
    assert {"assign_licences", "add_groups"} <= set(names()[1:4])
    # The induction: 2 h after the start, inside working hours, 30 minutes long.
    assert view.induction_at == starts + timedelta(hours=2)
    checks = [t for name, t in calls if name == "check_mfa"]
    # First at the end of the induction (the walk-through), then one business day on:
    # Friday 11:00 -> Monday 11:00 -> Tuesday 11:00 (enrolled Monday 11:30).
    first = view.induction_at + timedelta(minutes=30)
    expected = [first, first + timedelta(days=3), first + timedelta(days=4)]
    assert len(checks) == 3 and view.mfa_reminders == 2
    assert all(timedelta(0) <= got - want < timedelta(seconds=1)
               for got, want in zip(checks, expected, strict=True))
    assert view.mfa_enrolled_at - checks[2] < timedelta(seconds=1)
    assert view.status.value == "resolved"
    await handle.terminate("test done")


async def test_a_device_never_enrolled_breaches_ready_at_the_start(ts_env, task_queue):
    opened, starts = await monday_morning(ts_env)
    reset()
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OnboardingWorkflow],
                      activities=STAND_INS):
        handle = await start_joiner(ts_env, task_queue, opened, starts)
        await ts_env.sleep(starts + timedelta(hours=2) - await ts_env.get_current_time())
        view = await handle.query(OnboardingWorkflow.view)
    span = starts - opened
    warnings = events(view, "sla_warning:ready")
    assert [w.due for w in warnings] == [opened + span * p / 100 for p in (50, 75, 90)]
    [breach] = events(view, "sla_breached:ready")
    assert breach.due == starts and breach.at - breach.due < timedelta(seconds=1)
    assert events(view, "escalated")[0].due == starts
    assert view.ready_at is None and view.status.value == "new"
    assert len([n for n in names() if n.startswith("build_device")]) > 20  # still retried
    await handle.terminate("test done")


async def test_an_exhausted_licence_pool_waits_for_an_agent(ts_env, task_queue):
    opened, starts = await monday_morning(ts_env)
    reset(pool_empty=True, device_enrolled_at=opened)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OnboardingWorkflow],
                      activities=STAND_INS):
        handle = await start_joiner(ts_env, task_queue, opened, starts)
        await ts_env.sleep(timedelta(hours=6))
        waiting = await handle.query(OnboardingWorkflow.view)
        assert "licence pool exhausted" in (waiting.waiting_for_agent or "")
        assert waiting.ready_at is None and waiting.status.value == "new"  # not failed
        assert names().count("assign_licences") == 1  # not retried into a loop
        behaviour["pool_empty"] = False  # the client bought a seat
        await handle.execute_update(OnboardingWorkflow.retry_steps,
                                    RetrySteps(note="bought 5 E3 seats", by="agent:kim"))
        await ts_env.sleep(timedelta(minutes=5))
        view = await handle.query(OnboardingWorkflow.view)
    assert view.ready_at is not None and view.waiting_for_agent is None
    assert names().count("assign_licences") == 2 and names().count("create_account") == 1
    await handle.terminate("test done")


async def test_an_expedite_waits_for_an_agents_approval(ts_env, task_queue):
    opened, _ = await monday_morning(ts_env)
    starts = opened + timedelta(days=1, hours=-1, minutes=-30)  # Tuesday: too little notice
    reset(device_enrolled_at=opened)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OnboardingWorkflow],
                      activities=STAND_INS):
        handle = await start_joiner(ts_env, task_queue, opened, starts, expedited=True)
        await ts_env.sleep(timedelta(hours=2))
        assert names() == []  # nothing done before the approval
        approved = await handle.execute_update(
            OnboardingWorkflow.decide_expedite,
            ExpediteDecision(approve=True, reason="CEO's new assistant", by="agent:kim"))
        assert approved.expedite_approved_by == "agent:kim"
        await ts_env.sleep(timedelta(minutes=5))
        view = await handle.query(OnboardingWorkflow.view)
    assert view.ready_at is not None and view.ready_at < starts
    await handle.terminate("test done")


async def test_cancellation_undoes_every_step_newest_first(ts_env, task_queue):
    opened, starts = await monday_morning(ts_env)
    reset()  # the device is never enrolled: its step is still retrying when HR cancels
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OnboardingWorkflow],
                      activities=STAND_INS):
        handle = await start_joiner(ts_env, task_queue, opened, starts)
        await ts_env.sleep(timedelta(hours=3))
        view = await handle.execute_update(
            OnboardingWorkflow.cancel, Cancellation(reason="offer withdrawn", by="hr:pat"))
        await ts_env.sleep(timedelta(minutes=5))
        after = len(calls)
        await ts_env.sleep(timedelta(days=1))
        final = await handle.query(OnboardingWorkflow.view)
    undo = [n for n in names() if n in ("release_device BEL-LT-042", "remove_groups",
                                        "remove_licences", "delete_account")]
    # Started together after the account, so undone in reverse form order; the account last.
    assert undo == ["release_device BEL-LT-042", "remove_groups", "remove_licences",
                    "delete_account"]
    assert view.status.value == "resolved" and view.compensated_at is not None
    assert all(st.undone_at for st in view.steps)
    assert len(calls) == after  # nothing retried after the cancellation
    assert final.status.value in ("resolved", "closed") and not final.breached
    await handle.terminate("test done")
