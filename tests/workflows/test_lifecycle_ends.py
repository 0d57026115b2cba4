"""Every kind has an end (docs/lifecycle.md), under time skipping: an incident, a service
request, a quote approved with no procurement hook, a declined quote, a new user and a user
exit each reach ``closed`` by their own rules, and each publishes the instant that matters
next - ``SlaResolutionDue`` for a kind with an SLA target, ``NextDue`` for the others (read
from the ticket's upserts of the attribute, as visibility got them)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

import tests.workflows.test_offboarding_timers as exits
import tests.workflows.test_onboarding_timers as joiners
from domain.notifications import NoticeDelivery, NoticeReceipt
from domain.onboarding import OnboardingStart
from domain.quotes import Decision, Order, OrderRequest, QuoteState
from domain.sla import Priority
from domain.sla.deadlines import snapshot_for
from domain.tickets import CommentIn, Status, Transition
from tests.workflows.support import (
    belton_without_holidays,
    delivered_quietly,
    events,
    make_start,
    next_local,
    notice_stand_ins,
    published,
    start_incident,
    start_ticket,
)
from tests.workflows.test_onboarding_timers import quiet_retries  # noqa: F401  (autouse)
from tests.workflows.test_quote_timers import DIRECTOR, issue
from tests.workflows.test_service_request_timers import form, start_request
from workflows.incident import IncidentWorkflow
from workflows.offboarding import OffboardingWorkflow
from workflows.onboarding import OnboardingWorkflow
from workflows.quote import QuoteWorkflow
from workflows.service_request import ServiceRequestWorkflow

QUIET = notice_stand_ins(delivered_quietly)
AGENT = "agent:kim"


def instants(values: list[str]) -> list[datetime | None]:
    """Upserted values of a Datetime attribute (or of NextDue, a Keyword naming a UTC
    instant to the second), in order; None where it was unset."""
    return [None if v == "unset" else datetime.fromisoformat(json.loads(v)) for v in values]


def to_the_second(*expected: datetime | None) -> list[datetime | None]:
    """NextDue's values: UTC instants to the second."""
    return [None if at is None else at.astimezone(UTC).replace(microsecond=0)
            for at in expected]


def same_instant(got: datetime | None, want: datetime) -> bool:
    return got is not None and abs(got - want) < timedelta(seconds=1)


async def monday_10(env) -> datetime:
    opened = next_local(await env.get_current_time(), weekday=0, hour=10)
    await env.sleep(opened - await env.get_current_time())
    return opened


def status_events(view) -> list[tuple[str, str]]:
    return [(e.kind, e.detail) for e in view.events if e.kind.startswith("status:")]


# ------------------------------------------------------------------ SLA kinds


async def test_an_incident_resolves_then_closes_after_3_business_days(ts_env, task_queue):
    opened = await monday_10(ts_env)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
                      activities=QUIET):
        handle = await start_incident(ts_env.client, make_start(opened, Priority.P3),
                                      task_queue)
        first = await handle.query(IncidentWorkflow.view)
        await handle.execute_update(IncidentWorkflow.acknowledge, Transition(
            to=Status.ACKNOWLEDGED, by=AGENT))
        resolved = await handle.execute_update(IncidentWorkflow.transition, Transition(
            to=Status.RESOLVED, reason="relay fixed", by=AGENT))
        await ts_env.sleep(timedelta(days=6))  # Mon -> Thu 10:00 + a margin
        view = await handle.query(IncidentWorkflow.view)
    assert resolved.status is Status.RESOLVED
    assert view.status is Status.CLOSED
    [resolved_at] = [e.at for e in events(view, "status:resolved")]
    [closed] = events(view, "status:closed")
    assert closed.detail.startswith("auto-closed")
    assert same_instant(closed.due, resolved_at + timedelta(days=3))  # Mon -> Thu
    dues = instants(await published(handle, "SlaResolutionDue"))
    assert same_instant(dues[0], first.resolution_due)  # the SLA instant, for the queue
    await handle.terminate("test done")


async def test_a_fulfilled_service_request_resolves_then_closes(ts_env, task_queue):
    opened = await monday_10(ts_env)
    async with Worker(ts_env.client, task_queue=task_queue,
                      workflows=[ServiceRequestWorkflow], activities=QUIET):
        handle = await start_request(ts_env, task_queue, opened, form())
        first = await handle.query(ServiceRequestWorkflow.view)
        await ts_env.sleep(timedelta(hours=2))
        await handle.execute_update(ServiceRequestWorkflow.transition, Transition(
            to=Status.RESOLVED, reason="access granted to the Litigation drive", by=AGENT))
        await ts_env.sleep(timedelta(days=6))
        view = await handle.query(ServiceRequestWorkflow.view)
    assert view.status is Status.CLOSED and not view.breached
    assert [k for k, _ in status_events(view)] == ["status:resolved", "status:closed"]
    dues = instants(await published(handle, "SlaResolutionDue"))
    assert same_instant(dues[0], first.fulfilment_due)  # 5 business days
    await handle.terminate("test done")


# ------------------------------------------------------------------ quotes

order_attempts: list[str] = []
notices: list[tuple[str, str]] = []  # (notice id, event), each lane's delivery


@activity.defn(name="place_order")
async def no_procurement_hook(order: OrderRequest) -> Order:
    order_attempts.append(order.quote_id)
    raise ApplicationError("no procurement hook: set TEMPODESK_PROCUREMENT_URL and _SECRET, "
                           "or order the parts by hand", type="ProviderNotConfigured",
                           non_retryable=True)


async def record_notice(delivery: NoticeDelivery) -> NoticeReceipt:
    notices.append((delivery.notice.notice_id, delivery.notice.event))
    return NoticeReceipt()


QUOTE_STAND_INS = [*notice_stand_ins(record_notice), no_procurement_hook]


def director(approve: bool, reason: str = "") -> Decision:
    return Decision(approve=approve, reason=reason, by=f"director:{DIRECTOR}",
                    director_email=DIRECTOR)


async def ended_without_a_survey(handle, view) -> None:
    """A decided quote sends no "how did we do?" (a decision is final), so once closed it
    waits for no survey: it ends after its reopen window."""
    assert view.survey_expires_at is None
    ended = await handle.result()  # it has ended: no survey left to wait for
    assert ended.status is Status.CLOSED and ended.survey_expires_at is None


async def test_an_approved_quote_without_procurement_goes_to_an_agent_and_closes(
        ts_env, task_queue):
    opened = await monday_10(ts_env)
    order_attempts.clear()
    notices.clear()
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[QuoteWorkflow],
                      activities=QUOTE_STAND_INS):
        handle = await issue(ts_env, task_queue, opened)
        await ts_env.sleep(timedelta(hours=1))
        await handle.execute_update(QuoteWorkflow.decide, director(approve=True))
        await ts_env.sleep(timedelta(minutes=5))
        resolved = await handle.query(QuoteWorkflow.view)
        # A reply on a decided quote reopens nothing: the decision is final.
        await handle.signal(QuoteWorkflow.comment, CommentIn(
            body="When do the parts arrive?", by="requester:mia", from_requester=True))
        await ts_env.sleep(timedelta(minutes=5))
        replied = await handle.query(QuoteWorkflow.view)
        await ts_env.sleep(timedelta(days=7))
        view = await handle.query(QuoteWorkflow.view)
    assert resolved.quote_state is QuoteState.APPROVED and resolved.status is Status.RESOLVED
    assert "handed to an agent" in events(resolved, "status:resolved")[0].detail
    assert order_attempts == [resolved.ticket_id]  # once: not retried into a loop
    assert len(events(resolved, "order_failed")) == 1
    assert len({nid for nid, event in notices if event == "order_failed"}) == 1
    assert replied.status is Status.RESOLVED and replied.reopen_count == 0
    assert view.status is Status.CLOSED
    auto_close = events(view, "status:closed")[0].due
    # NextDue: the expiry while it waits for a decision, none while the order is placed,
    # the auto-close once resolved, then none (closed).
    assert instants(await published(handle, "NextDue")) == to_the_second(
        resolved.valid_until, None, auto_close, None)
    await ended_without_a_survey(handle, view)


async def test_a_declined_quote_resolves_then_closes(ts_env, task_queue):
    opened = await monday_10(ts_env)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[QuoteWorkflow],
                      activities=QUOTE_STAND_INS):
        handle = await issue(ts_env, task_queue, opened)
        await ts_env.sleep(timedelta(days=1))
        declined = await handle.execute_update(QuoteWorkflow.decide, director(
            approve=False, reason="over budget this quarter"))
        await ts_env.sleep(timedelta(days=7))
        view = await handle.query(QuoteWorkflow.view)
    assert declined.quote_state is QuoteState.DECLINED and declined.status is Status.RESOLVED
    assert view.status is Status.CLOSED
    dues = instants(await published(handle, "NextDue"))
    assert [dues[0], dues[-1]] == to_the_second(declined.valid_until, None)
    await ended_without_a_survey(handle, view)


async def test_an_expired_quote_closes_and_publishes_its_expiry(ts_env, task_queue):
    opened = await monday_10(ts_env)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[QuoteWorkflow],
                      activities=QUOTE_STAND_INS):
        handle = await issue(ts_env, task_queue, opened)
        await ts_env.sleep(timedelta(days=15))
        view = await handle.query(QuoteWorkflow.view)
    assert view.quote_state is QuoteState.EXPIRED and view.status is Status.CLOSED
    assert instants(await published(handle, "NextDue")) == to_the_second(view.valid_until,
                                                                          None)
    await handle.terminate("test done")


# ------------------------------------------------------------------ new users


async def test_a_ready_and_inducted_new_user_resolves_then_closes(ts_env, task_queue):
    opened, starts = await joiners.monday_morning(ts_env)  # Monday 10:00, starts Friday
    joiners.reset(device_enrolled_at=opened + timedelta(days=1),
                  mfa_enrolled_at=starts)  # enrolled at the induction's walk-through
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OnboardingWorkflow],
                      activities=joiners.STAND_INS):
        handle = await joiners.start_joiner(ts_env, task_queue, opened, starts)
        await ts_env.sleep(timedelta(days=2))
        ready = await handle.query(OnboardingWorkflow.view)
        await ts_env.sleep(starts + timedelta(days=7) - await ts_env.get_current_time())
        view = await handle.query(OnboardingWorkflow.view)
    assert ready.ready_at is not None and ready.status is Status.IN_PROGRESS
    assert events(ready, "status:in_progress")[0].detail.startswith("ready; next: induction")
    inducted = view.induction_at + timedelta(minutes=30)
    assert view.mfa_enrolled_at is not None and view.status is Status.CLOSED
    [resolved] = events(view, "status:resolved")
    assert timedelta(0) <= resolved.at - inducted < timedelta(seconds=5)
    auto_close = events(view, "status:closed")[0].due
    # NextDue: the start (not ready yet), the induction's MFA check, the auto-close, none.
    assert instants(await published(handle, "NextDue")) == to_the_second(
        starts, inducted, auto_close, None)
    # The ready target is the SLA instant until it is met.
    assert instants(await published(handle, "SlaResolutionDue"))[:2] == [starts, None]
    await handle.terminate("test done")


# ------------------------------------------------------------------ user exits


async def test_a_completed_exit_resolves_closes_and_ends_with_the_purge(ts_env, task_queue):
    exits.identity_down_until = None
    exits.calls.clear()
    effective = await exits.opened_now(ts_env)  # Friday 17:30, immediate
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=exits.STAND_INS):
        handle = await exits.start_exit(ts_env, task_queue, exits.exit_form(hardware=[]),
                                        effective)
        await ts_env.sleep(timedelta(hours=1))
        done = await handle.query(OffboardingWorkflow.view)
        await ts_env.sleep(timedelta(days=6))
        closed = await handle.query(OffboardingWorkflow.view)
        # A closed exit never reopens, not even by the leaver's manager replying.
        await handle.signal(OffboardingWorkflow.comment, CommentIn(
            body="Jo still has a badge", by="requester:mia", from_requester=True))
        await ts_env.sleep(timedelta(days=25))
        final = await handle.result()  # its life ends once the archive is purged
    assert done.access_revoked_at is not None and done.status is Status.RESOLVED
    assert [k for k, _ in status_events(done)] == ["status:in_progress", "status:resolved"]
    assert "archive purged on" in events(done, "status:resolved")[0].detail
    assert closed.status is Status.CLOSED and closed.purged_at is None
    assert final.purged_at is not None and final.status is Status.CLOSED
    assert final.reopen_count == 0
    auto_close = events(closed, "status:closed")[0].due
    # NextDue: the effective time; once access is revoked the purge, then the auto-close
    # (resolved), the purge again (closed), none once purged.
    assert instants(await published(handle, "NextDue")) == to_the_second(
        effective, done.purge_at, auto_close, done.purge_at, None)
    # The 1-hour access promise is the SLA instant until access is revoked.
    assert instants(await published(handle, "SlaResolutionDue"))[:2] == [
        effective + timedelta(hours=1), None]



async def test_a_new_user_with_no_induction_booked_resolves_when_ready(ts_env, task_queue):
    """Tickets from before inductions were booked have none: ready is the end."""
    opened, starts = await joiners.monday_morning(ts_env)
    joiners.reset(device_enrolled_at=opened)
    start = OnboardingStart(
        ticket_id=f"TST-{uuid.uuid4().int % 10**6:06d}", client_id="belton", opened_at=opened,
        raised_by="hr:test", form=joiners.joiner_form(), starts_at=starts,
        licences=["SPE_E3"], groups=["g-staff"], usage_location="AU", notice="3bd",
        induction_at=None, sla=snapshot_for(belton_without_holidays(), opened))
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OnboardingWorkflow],
                      activities=joiners.STAND_INS):
        handle = await start_ticket(ts_env.client, OnboardingWorkflow, start, task_queue)
        await ts_env.sleep(timedelta(days=6))
        view = await handle.query(OnboardingWorkflow.view)
    [resolved] = events(view, "status:resolved")
    assert resolved.detail.endswith("no induction booked")
    assert timedelta(0) <= resolved.at - view.ready_at < timedelta(seconds=1)
    assert view.status is Status.CLOSED and "check_mfa" not in joiners.names()
    await handle.terminate("test done")


async def test_a_resolved_exit_reopens_on_the_managers_reply(ts_env, task_queue):
    exits.identity_down_until = None
    effective = await exits.opened_now(ts_env)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=exits.STAND_INS):
        handle = await exits.start_exit(ts_env, task_queue, exits.exit_form(hardware=[]),
                                        effective)
        await ts_env.sleep(timedelta(hours=1))
        await handle.signal(OffboardingWorkflow.comment, CommentIn(
            body="Jo is still in the partners' Teams channel", by="requester:mia",
            from_requester=True))
        await ts_env.sleep(timedelta(minutes=5))
        view = await handle.query(OffboardingWorkflow.view)
    assert view.status is Status.IN_PROGRESS and view.reopen_count == 1
    assert events(view, "status:in_progress")[-1].detail == "the requester replied"
    await handle.terminate("test done")
