"""Provider steps retried by the workflow, under time skipping with stand-in providers: a
step that keeps failing shows each attempt and its last error on the ticket and sets
ProviderFailing (once per failing episode) while the SLA clock keeps firing; the backoff
doubles to a minute and follows a provider's Retry-After; a refusal goes to an agent once;
a new run (continue-as-new) waits out what is left of a backoff under the same key, goes
on with a wipe confirmation the last run left pending, and does not repeat a step handed
to an agent; an undo that fails shows itself too."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from temporalio import activity
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from domain.ids import SagaPass, TicketKind, parse_step_key, step_key, step_request_id
from domain.notifications import NoticeDelivery, NoticeReceipt
from domain.offboarding import ProviderCall
from domain.onboarding import Cancellation, JoinerCall
from domain.provider_steps import ProviderResult, StepState
from tests.workflows import test_onboarding_timers as joiners
from tests.workflows.support import events, notice_stand_ins, published, start_ticket
from tests.workflows.test_offboarding_timers import exit_form, opened_now
from workflows.offboarding import OffboardingWorkflow
from workflows.onboarding import OnboardingWorkflow

UPDATE_WAIT = 60  # seconds: an update that never answers fails the test, not hangs it
calls: list[tuple[str, str | None, datetime]] = []  # (activity, step key, when scheduled)
notices: list[str] = []
# activity name -> what it does at a virtual instant: None (done) or an error to raise
faults: dict[str, object] = {}


@pytest.fixture(autouse=True)
def quiet_and_fresh():
    """Stand-ins fail on purpose: keep their warnings out of the log; fresh records."""
    logger = logging.getLogger("temporalio.activity")
    level = logger.level
    logger.setLevel(logging.ERROR)
    calls.clear()
    notices.clear()
    faults.clear()
    yield
    logger.setLevel(level)


def _act(name: str, call: ProviderCall | JoinerCall) -> ProviderResult:
    now = activity.info().current_attempt_scheduled_time
    calls.append((name, call.step_key, now))
    fault = faults.get(name)
    error = fault(now) if callable(fault) else fault
    if isinstance(error, Exception):
        raise error
    return ProviderResult(detail=f"{name}: done")


def down_until(moment: datetime):
    """Graph answering 503 until ``moment``."""
    return lambda now: (ApplicationError("Graph PATCH /users: provider error (503): busy",
                                         type="ProviderUnavailable") if now < moment else None)


def _stand_in(name: str, model: type):
    async def run(call) -> ProviderResult:
        return _act(name, call)

    run.__annotations__ = {"call": model, "return": ProviderResult}
    return activity.defn(name=name)(run)


EXIT_STEPS = ["disable_account", "revoke_sessions", "remove_all_groups", "remove_licences",
              "disconnect_edr", "wipe_device", "confirm_wipe", "purge_mailbox"]
JOINER_STEPS = ["create_account", "assign_licences", "add_groups", "build_device",
                "check_mfa", "delete_account", "remove_groups", "release_device"]


async def deliver(delivery: NoticeDelivery) -> NoticeReceipt:
    notices.append(f"{delivery.lane.value} {delivery.notice.event}")
    return NoticeReceipt()


EXIT_STAND_INS = [_stand_in(n, ProviderCall) for n in EXIT_STEPS] + notice_stand_ins(deliver)
JOINER_STAND_INS = ([_stand_in(n, JoinerCall) for n in JOINER_STEPS]
                    + [_stand_in("remove_licences", ProviderCall)] + notice_stand_ins(deliver))


def attempts(name: str) -> list[datetime]:
    return [at for step, _, at in calls if step == name]


def keys(name: str) -> set[str | None]:
    return {key for step, key, _ in calls if step == name}


def step_of(view, name: str):
    return next(st for st in [*view.steps, *view.other_steps] if st.name == name)


async def provider_failing_published(handle) -> list[str]:
    return await published(handle, "ProviderFailing")


async def provider_failing_now(handle) -> bool:
    """The ticket's ProviderFailing as last published (the time-skipping server's
    describe() cannot decode the tickets' datetime attributes)."""
    published = await provider_failing_published(handle)
    return bool(published) and published[-1] == "true"


async def start_exit(env, task_queue: str, effective: datetime, state_change=None, **form):
    """A user exit effective now; ``state_change(state)`` edits its state first, as a run
    continued as new would carry it."""
    from domain.offboarding import OffboardingStart
    from domain.sla.deadlines import snapshot_for
    from tests.workflows.support import belton_without_holidays

    start = OffboardingStart(
        ticket_id="TST-424242", client_id="belton", opened_at=effective, raised_by="hr:test",
        form=exit_form(**form), effective_at=effective,
        sla=snapshot_for(belton_without_holidays(), effective))
    if state_change is not None:
        state = OffboardingWorkflow.initial_state(start)
        state_change(state)
        start = start.model_copy(update={"state": state})
    return await start_ticket(env.client, OffboardingWorkflow, start, task_queue, days=100)


async def test_a_failing_step_shows_its_attempts_and_sets_provider_failing(ts_env, task_queue):
    effective = await opened_now(ts_env)
    faults["disable_account"] = down_until(effective + timedelta(minutes=40))
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=EXIT_STAND_INS):
        handle = await start_exit(ts_env, task_queue, effective, hardware=[])
        await ts_env.sleep(timedelta(minutes=35))
        during = await handle.query(OffboardingWorkflow.view)
        failing_during = await provider_failing_now(handle)
        details = (await handle.query("__temporal_workflow_metadata",
                                      result_type=WorkflowMetadata)).current_details
        await ts_env.sleep(timedelta(minutes=10))
        after = await handle.query(OffboardingWorkflow.view)
        published = await provider_failing_published(handle)
    disable = step_of(during, "disable_account")
    tried = attempts("disable_account")
    # Every failed attempt is on the ticket while the provider is down, and when it is next.
    assert disable.attempts_failed == len([t for t in tried if t <= effective
                                           + timedelta(minutes=35)]) > 30
    assert "(503)" in disable.last_error
    assert timedelta(0) <= disable.failing_since - tried[0] < timedelta(seconds=1)
    assert disable.done_at is None and not disable.needs_agent
    assert effective + timedelta(minutes=35) < disable.next_attempt_at \
        <= effective + timedelta(minutes=36)
    assert failing_during
    assert "**Provider failing:** disable_account" in details  # the Web UI's details
    # Backoff: 5 s doubling to a minute, then once a minute.
    gaps = [(b - a).total_seconds() for a, b in pairwise(tried)]
    assert [round(g) for g in gaps[:7]] == [5, 10, 20, 40, 60, 60, 60]
    # Each attempt under the step's one key.
    assert keys("disable_account") == {step_key(TicketKind.OFFBOARDING, "TST-424242",
                                                SagaPass.DO, "disable_account")}
    # The clock kept firing while the step retried: the 30-minute warning on time.
    [warning] = events(during, "sla_warning:access_revoked:50")
    assert warning.at - warning.due < timedelta(seconds=1)
    # Back: done, its history kept; ProviderFailing set once and cleared once.
    done = step_of(after, "disable_account")
    assert done.done_at is not None and done.failing_since is None
    assert done.attempts_failed == len(tried) - 1
    assert after.access_revoked_at is not None
    assert published.count("true") == 1 and published[-1] == "unset", published
    await handle.terminate("test done")


async def test_a_throttled_step_waits_for_the_providers_retry_after(ts_env, task_queue):
    effective = await opened_now(ts_env)
    throttled = ApplicationError("Graph: throttled (429), retry after 90 s",
                                 type="ProviderThrottled", next_retry_delay=timedelta(seconds=90))
    faults["revoke_sessions"] = lambda now: throttled if now < effective + timedelta(
        seconds=1) else None
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=EXIT_STAND_INS):
        handle = await start_exit(ts_env, task_queue, effective, hardware=[])
        await ts_env.sleep(timedelta(minutes=5))
        view = await handle.query(OffboardingWorkflow.view)
    first, second = attempts("revoke_sessions")
    assert timedelta(seconds=90) <= second - first < timedelta(seconds=91)
    assert step_of(view, "revoke_sessions").attempts_failed == 1
    await handle.terminate("test done")


async def test_a_refused_step_goes_to_an_agent_once(ts_env, task_queue):
    effective = await opened_now(ts_env)
    faults["remove_licences"] = ApplicationError(
        "Graph POST /users/x/assignLicense: refused (403): Authorization_RequestDenied",
        type="ProviderRefused", non_retryable=True)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=EXIT_STAND_INS):
        handle = await start_exit(ts_env, task_queue, effective, hardware=[])
        await ts_env.sleep(timedelta(hours=2))
        view = await handle.query(OffboardingWorkflow.view)
        published = await provider_failing_published(handle)
    licences = step_of(view, "remove_licences")
    assert licences.needs_agent and licences.attempts_failed == 1
    assert "(403)" in licences.last_error and licences.next_attempt_at is None
    assert len(attempts("remove_licences")) == 1  # not retried
    assert notices.count("email provider_step_failed") == 1  # the agent is told once
    assert "true" not in published  # handed over, not failing
    await handle.terminate("test done")


async def test_a_new_run_waits_out_the_backoff_under_the_same_key(ts_env, task_queue):
    """A run continued as new between two attempts: the next attempt comes when the last
    run said, not at once, and under the same key."""
    effective = await opened_now(ts_env)

    def mid_backoff(state) -> None:
        disable = next(st for st in state.steps if st.name == "disable_account")
        disable.started_at = disable.failing_since = effective - timedelta(minutes=2)
        disable.attempts_failed, disable.last_error = 6, "provider error (503)"
        disable.next_attempt_at = effective + timedelta(seconds=50)

    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=EXIT_STAND_INS):
        handle = await start_exit(ts_env, task_queue, effective, mid_backoff, hardware=[])
        await ts_env.sleep(timedelta(minutes=2))
        view = await handle.query(OffboardingWorkflow.view)
    [attempt] = attempts("disable_account")
    assert timedelta(seconds=50) <= attempt - effective < timedelta(seconds=51)
    assert all(at - effective < timedelta(seconds=1) for name, _key, at in calls
               if name != "disable_account")  # the other steps did not wait
    [key] = keys("disable_account")
    assert parse_step_key(key).step == "disable_account"
    assert step_of(view, "disable_account").done_at is not None
    await handle.terminate("test done")


async def test_a_new_run_confirms_a_pending_wipe_and_repeats_no_handed_over_step(
        ts_env, task_queue):
    effective = await opened_now(ts_env)

    def wiped_before(state) -> None:
        for step in state.steps:
            step.done_at = effective
        state.access_revoked_at = effective
        device = state.devices[0]
        device.wiped_at = effective
        state.return_by = state.purge_at = effective  # both behind us
        state.other_steps.append(StepState(  # the last run handed the purge to an agent
            name="purge mailbox and data", needs_agent=True, attempts_failed=1,
            last_error="refused (403)"))

    faults["confirm_wipe"] = lambda now: ApplicationError(
        "PF3X9K: wipe pending (the device has not checked in yet)", type="WipePending") \
        if now < effective + timedelta(minutes=12) else None
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=EXIT_STAND_INS):
        handle = await start_exit(ts_env, task_queue, effective, wiped_before)
        await ts_env.sleep(timedelta(minutes=8))
        waiting = await handle.query(OffboardingWorkflow.view)
        failing_while_waiting = await provider_failing_now(handle)
        await ts_env.sleep(timedelta(hours=1))
        view = await handle.query(OffboardingWorkflow.view)
    confirm = step_of(waiting, "confirm wipe PF3X9K")
    # Waiting for the device is shown, backing off (toward 15 minutes), and is not failing.
    assert confirm.attempts_failed >= 4 and "not checked in" in confirm.last_error
    assert confirm.failing_since is None
    assert not failing_while_waiting
    tried = attempts("confirm_wipe")
    gaps = [round((b - a).total_seconds()) for a, b in pairwise(tried)]
    assert gaps == [5, 10, 20, 40, 80, 160, 320, 640][:len(gaps)] and len(gaps) >= 6
    assert keys("confirm_wipe") == {step_key(TicketKind.OFFBOARDING, "TST-424242",
                                             SagaPass.DO, "confirm_wipe", "PF3X9K")}
    assert view.devices[0].wipe_confirmed_at is not None
    assert not attempts("wipe_device")  # wiped by the last run: not again
    assert not attempts("purge_mailbox")  # handed to an agent by the last run
    assert "email provider_step_failed" not in notices
    await handle.terminate("test done")


async def test_an_undo_that_fails_shows_itself_until_it_is_done(ts_env, task_queue):
    opened, starts = await joiners.monday_morning(ts_env)
    cancelled_at = opened + timedelta(hours=1)
    # The laptop is enrolled after 20 minutes (waiting till then, not failing).
    faults["build_device"] = lambda now: ApplicationError(
        "BEL-LT-042 is not in the client's RMM site", type="DeviceNotEnrolled") \
        if now < opened + timedelta(minutes=20) else None
    faults["delete_account"] = down_until(cancelled_at + timedelta(minutes=20))
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OnboardingWorkflow],
                      activities=JOINER_STAND_INS):
        handle = await joiners.start_joiner(ts_env, task_queue, opened, starts)
        await ts_env.sleep(timedelta(minutes=10))
        building = await handle.query(OnboardingWorkflow.view)
        failing_during_build = await provider_failing_now(handle)
        await ts_env.sleep(cancelled_at - await ts_env.get_current_time())
        cancelling = await asyncio.wait_for(handle.start_update(
            OnboardingWorkflow.cancel, Cancellation(reason="offer withdrawn", by="hr:pat"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED), UPDATE_WAIT)
        await ts_env.sleep(timedelta(minutes=10))
        during = await handle.query(OnboardingWorkflow.view)
        failing_during_undo = await provider_failing_now(handle)
        await ts_env.sleep(timedelta(minutes=20))
        done = await asyncio.wait_for(cancelling.result(), UPDATE_WAIT)
    # A device not enrolled yet is waiting, not failing.
    build = step_of(building, "build_device BEL-LT-042")
    assert build.attempts_failed >= 3 and not build.failing and build.next_attempt_at
    assert not failing_during_build
    undo = step_of(during, "undo create_account")
    assert undo.attempts_failed >= 5 and "(503)" in undo.last_error and undo.failing
    assert undo.key == step_key(TicketKind.ONBOARDING, during.ticket_id, SagaPass.UNDO,
                                "create_account")
    assert failing_during_undo and not await provider_failing_now(handle)
    assert done.compensated_at is not None and step_of(done, "undo create_account").done_at
    assert keys("delete_account") == {undo.key}
    assert keys("release_device") == {step_key(TicketKind.ONBOARDING, during.ticket_id,
                                               SagaPass.UNDO, "build_device", "BEL-LT-042")}
    assert "email provider_step_failed" not in notices
    await handle.terminate("test done")


async def test_graph_sees_the_steps_request_id_on_every_retry(ts_env, config, task_queue):
    """The real Graph adapter against the local Graph, down for 3 minutes: every call of a
    step carries the step's request id (its key as a GUID), the same on each retry and
    another step's differs - not Temporal's per-run activity id."""
    from tests.workflows.test_offboarding_timers import start_exit as start_real_exit
    from tests.workflows.test_provider_outage_drill import graph_down

    async with graph_down(ts_env, config, task_queue) as graph:
        effective = await opened_now(ts_env)
        handle = await start_real_exit(ts_env, task_queue, exit_form(hardware=[]), effective,
                                       client_id=config.clients[0].id)
        await ts_env.sleep(timedelta(minutes=3))
        graph.faults.down_until = 0.0
        await ts_env.sleep(timedelta(minutes=3))
        view = await handle.query(OffboardingWorkflow.view)
        await handle.terminate("test done")
    ticket = view.ticket_id

    def request_ids(method: str, path: str) -> list[str]:
        return [seen.headers.get("client-request-id") for seen in graph.calls(method, path)]

    disable = request_ids("PATCH", "/users/")
    revoke = request_ids("POST", "/revokeSignInSessions")
    assert len(disable) >= 5 and view.access_revoked_at is not None
    assert set(disable) == {step_request_id(step_key(TicketKind.OFFBOARDING, ticket,
                                                     SagaPass.DO, "disable_account"))}
    assert set(revoke) == {step_request_id(step_key(TicketKind.OFFBOARDING, ticket,
                                                    SagaPass.DO, "revoke_sessions"))}


async def test_a_hire_withdrawn_while_the_account_is_retried_can_continue_as_new(
        dev_client, task_queue):
    """HR cancels while the account's creation is in its backoff: the provisioning ends
    with the cancellation, so the ticket is not left busy and continues as new at the dev
    server's suggestion (60 events here) instead of growing to 10,000 events first."""
    from types import SimpleNamespace

    from domain.tickets import CommentIn
    from tests.web.helpers import eventually

    faults["create_account"] = ApplicationError("Graph POST /users: provider error (503)",
                                                type="ProviderUnavailable")
    opened = datetime.now(UTC)
    async with Worker(dev_client, task_queue=task_queue, workflows=[OnboardingWorkflow],
                      activities=JOINER_STAND_INS):
        handle = await joiners.start_joiner(SimpleNamespace(client=dev_client), task_queue,
                                            opened, opened + timedelta(days=5))
        await eventually(lambda: len(attempts("create_account")), lambda n: n >= 1)
        view = await asyncio.wait_for(handle.execute_update(
            OnboardingWorkflow.cancel, Cancellation(reason="offer withdrawn", by="hr:pat")),
            UPDATE_WAIT)
        assert view.compensated_at is not None
        first_run = (await handle.describe()).run_id
        for n in range(25):
            await handle.signal(OnboardingWorkflow.comment,
                                CommentIn(body=f"note {n}", by="agent:kim"))

        async def run_id() -> str:
            return (await handle.describe()).run_id

        await eventually(run_id, lambda run: run != first_run, timeout=30)
        await handle.terminate("test done")
    assert len(attempts("create_account")) <= 2  # nothing tried after the cancellation
