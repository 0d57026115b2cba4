"""Notices delivered beside the clock, never in its way (house rule 11).

A ticket queues a notice and goes on: one lane per channel (e-mail, webhooks) runs as its
own coroutine inside the workflow, delivering the ticket's notices in order: all a lane has
pending in one activity (up to ``BATCH_MAX``; tickets from before "notices-batched-per-lane"
keep one activity per notice). Each result carries the client's webhook routing as the
worker's config has it; the webhook lane runs no activity for events no hook receives, and
a notice it skipped on older routing is delivered after all when a later result (read
after that notice was queued) says a hook wants it. A failed
attempt is recorded on the entry (attempts, last error) and retried, with the notices
behind it, after a backoff; an error no retry can mend fails that one delivery, recorded
on the ticket, and the lane goes on. The queue lives in the ticket's state, so it survives
continue-as-new; :meth:`NoticeOutbox.quiesce` waits until no attempt is in flight first,
so a notice is never sent by two runs.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Protocol

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from domain.notifications import (
        BATCH_MAX,
        DeliveryFailure,
        FailedNotice,
        Lane,
        LaneReceipts,
        Notice,
        NoticeBatch,
        NoticeDelivery,
        NoticeReceipt,
        OutboxEntry,
        WebhookRouting,
    )
    from domain.tickets import FAILED_NOTICES_KEPT, TicketState

ATTEMPT_TIMEOUT = timedelta(minutes=1)
# The activity heartbeats every 2 s: an attempt whose worker died is retried after this,
# not after the whole minute (a worker killed mid-notice delayed it by 60 s).
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
GIVE_UP_AFTER = timedelta(days=3)  # a notice this old tells nobody anything useful
_ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)  # the lane retries, recording each attempt


class OutboxTicket(Protocol):
    """What the outbox needs of its ticket (:class:`workflows.ticket.TicketWorkflow`
    implements it with its public contract)."""

    def record_event(self, kind: str, detail: str = "") -> None:
        """Add an event to the ticket's log."""

    def mark_changed(self, *, publish: bool = True, wake: bool = True) -> None:
        """``wake=False``: republish the ticket's search attributes (``NoticeFailing``);
        ``publish=False``: make the loop recompute its next moment, which includes
        :meth:`NoticeOutbox.next_retry` - the ticket keeps one timer, so a retry schedule
        never competes with an SLA timer."""

    def notices_failing(self) -> bool:
        """Whether the notices are failing, by the rule the ticket's history was made with."""

    def notices_held(self) -> bool:
        """Whether lanes wait before starting a delivery (the loop has a change to answer)."""


class NoticeOutbox:
    def __init__(self, state: TicketState, retry_max: timedelta, ticket: OutboxTicket,
                 batched: bool = True) -> None:
        """``ticket``: the ticket this outbox delivers for (events, publishing, waking its
        loop, whether notices fail or wait); ``batched``: whether this run delivers a lane's
        pending notices in one activity (the rule its history was made with)."""
        self.state = state
        self.retry_max = retry_max
        self.ticket = ticket
        self._batched = batched
        # The client's webhook routing from the newest result, and the newest notice that
        # result's attempt carried (it read the config after that notice was queued).
        self._routing: WebhookRouting | None = None
        self._routing_as_of: datetime | None = None
        self._retry_at: dict[Lane, datetime] = {}
        self._in_flight = 0
        self._draining = False
        self._lanes: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._lanes = [asyncio.create_task(self._run_lane(lane), name=f"notice lane {lane}")
                       for lane in Lane]

    def settled(self) -> bool:
        return not self.state.outbox

    def idle(self) -> bool:
        return self._in_flight == 0

    def next_retry(self) -> datetime | None:
        """The next retry still to wait for (a due one runs once the loop yields)."""
        now = workflow.now()
        return min((t for t in self._retry_at.values() if t > now), default=None)

    async def quiesce(self) -> None:
        """Stop starting attempts and wait for those in flight (before continue-as-new)."""
        self._draining = True
        await workflow.wait_condition(lambda: self._in_flight == 0)

    def _next(self, lane: Lane) -> OutboxEntry | None:
        return next((e for e in self.state.outbox if e.lanes[lane].status == "pending"), None)

    async def _run_lane(self, lane: Lane) -> None:
        while True:
            await workflow.wait_condition(
                lambda: not self._draining and not self.ticket.notices_held()
                and self._next(lane) is not None)
            if self._batched:
                retry_in = await self._attempt_batch(lane)
            else:
                entry = self._next(lane)
                assert entry is not None
                retry_in = await self._attempt(entry, lane)
            if retry_in is not None:  # the ticket's loop wakes at next_retry()
                self._retry_at[lane] = workflow.now() + retry_in
                self.ticket.mark_changed(publish=False)
                await workflow.wait_condition(
                    lambda: workflow.now() >= self._retry_at[lane] or self._draining)
                del self._retry_at[lane]

    async def _attempt_batch(self, lane: Lane) -> timedelta | None:
        """One attempt at the lane's pending notices; returns the wait before the next."""
        entries = [e for e in self.state.outbox
                   if e.lanes[lane].status == "pending"][:BATCH_MAX]
        was_failing = self.ticket.notices_failing()
        if lane is Lane.WEBHOOKS and self._routing is not None:
            for entry in entries:
                if not self._routing.receives(entry.notice.event):
                    entry.lanes[lane].status = "skipped"
            entries = [e for e in entries if e.lanes[lane].status == "pending"]
        retry_in = await self._deliver(entries, lane) if entries else None
        self.state.outbox[:] = [e for e in self.state.outbox if not e.settled()]
        if was_failing != self.ticket.notices_failing():
            self.ticket.mark_changed(wake=False)
        return retry_in

    async def _deliver(self, entries: list[OutboxEntry], lane: Lane) -> timedelta | None:
        started = workflow.now()
        notices = [e.notice for e in entries]
        failure: DeliveryFailure | None = None
        self._in_flight += 1
        try:
            result: LaneReceipts = await workflow.execute_activity_method(
                NotificationActivities.deliver_notices, NoticeBatch(notices=notices, lane=lane),
                start_to_close_timeout=ATTEMPT_TIMEOUT * len(notices),
                heartbeat_timeout=HEARTBEAT_TIMEOUT, retry_policy=_ONE_ATTEMPT,
                summary=_summary(lane, notices))
            receipts, failure = result.receipts[:len(entries)], result.failure
            self._learn(result.routing, notices)
        except ActivityError as err:
            receipts, failure = [], _failure(err)
        self._in_flight -= 1
        for entry, receipt in zip(entries, receipts, strict=False):
            entry.lanes[lane].attempts += 1
            entry.lanes[lane].last_attempt_at = started
            self._delivered(entry, lane, receipt)
        retry_in: timedelta | None = None
        if failure is not None and len(receipts) < len(entries):
            entry = entries[len(receipts)]
            progress = entry.lanes[lane]
            progress.attempts += 1
            progress.last_attempt_at = started
            progress.last_error = failure.error
            retry_in = self._after_failure(entry, lane, failure.final)
        return retry_in

    def _learn(self, routing: WebhookRouting | None, notices: list[Notice]) -> None:
        """Keep the newest routing; a notice skipped on older routing that a hook now
        receives goes back to the webhook lane (it is still in the outbox: an entry stays
        until both lanes are done, and its e-mail attempt is one that reports routing)."""
        as_of = max(n.occurred_at for n in notices)
        if routing is None or (self._routing_as_of is not None and as_of < self._routing_as_of):
            return
        self._routing, self._routing_as_of = routing, as_of
        for entry in self.state.outbox:
            webhooks = entry.lanes[Lane.WEBHOOKS]
            if webhooks.status == "skipped" and routing.receives(entry.notice.event):
                webhooks.status = "pending"

    def _delivered(self, entry: OutboxEntry, lane: Lane, receipt: NoticeReceipt) -> None:
        progress = entry.lanes[lane]
        progress.status = "delivered"
        sent = {Lane.EMAIL: receipt.emailed, Lane.WEBHOOKS: receipt.webhooks}[lane]
        if sent and not entry.reached:  # counted once, whichever lane reached someone first
            entry.reached = True
            self.state.notices_sent += 1
        if receipt.unsent:
            self.state.notices_unsent += 1
            self.ticket.record_event(f"notice_unsent:{entry.notice.event}",
                                     unsent_detail(receipt.unsent))
        detail = ", ".join(sent + receipt.skipped)
        if progress.attempts > 1:
            detail += f" (attempt {progress.attempts})"
        if detail:
            self.ticket.record_event(f"notified:{entry.notice.event}", detail)

    def _after_failure(self, entry: OutboxEntry, lane: Lane, final: bool) -> timedelta | None:
        """Fail the delivery for good, or say how long to wait before trying it again."""
        progress = entry.lanes[lane]
        if final or workflow.now() - entry.notice.occurred_at > GIVE_UP_AFTER:
            self._fail(entry, lane)
            return None
        return min(timedelta(seconds=2 ** min(progress.attempts - 1, 16)), self.retry_max)

    async def _attempt(self, entry: OutboxEntry, lane: Lane) -> timedelta | None:
        """One delivery attempt; returns the wait before the next one, if any."""
        notice, progress = entry.notice, entry.lanes[lane]
        was_failing = self.ticket.notices_failing()
        progress.attempts += 1
        progress.last_attempt_at = workflow.now()
        retry_in: timedelta | None = None
        self._in_flight += 1
        try:
            receipt: NoticeReceipt = await workflow.execute_activity_method(
                NotificationActivities.deliver, NoticeDelivery(notice=notice, lane=lane),
                start_to_close_timeout=ATTEMPT_TIMEOUT, heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=_ONE_ATTEMPT,
                summary=_summary(lane, [notice]))
        except ActivityError as err:
            self._in_flight -= 1
            failure = _failure(err)
            progress.last_error = failure.error
            retry_in = self._after_failure(entry, lane, failure.final)
        else:
            self._in_flight -= 1
            self._delivered(entry, lane, receipt)
        # (No `finally`: on eviction the coroutine is closed and must not touch the workflow.)
        if entry.settled():
            self.state.outbox.remove(entry)
        if was_failing != self.ticket.notices_failing():
            self.ticket.mark_changed(wake=False)
        return retry_in

    def _fail(self, entry: OutboxEntry, lane: Lane) -> None:
        progress = entry.lanes[lane]
        progress.status = "failed"
        error = progress.last_error or "failed"
        self.state.failed_notices.append(FailedNotice(
            notice_id=entry.notice.notice_id, event=entry.notice.event, lane=lane,
            attempts=progress.attempts, error=error, at=workflow.now()))
        del self.state.failed_notices[:-FAILED_NOTICES_KEPT]
        self.ticket.record_event(f"notice_failed:{entry.notice.event}",
                     f"{lane.value} gave up after {progress.attempts} attempt(s): {error}")


def unsent_detail(addresses: list[str]) -> str:
    return (f"not e-mailed to {', '.join(addresses)}: no SMTP server is configured "
            "(TEMPODESK_SMTP_HOST)")


def _failure(err: ActivityError) -> DeliveryFailure:
    cause = err.cause
    return DeliveryFailure(error=str(getattr(cause, "message", None) or cause or err)[:500],
                           final=isinstance(cause, ApplicationError) and cause.non_retryable)


def _summary(lane: Lane, notices: list[Notice]) -> str:
    """The activity's line in the Web UI."""
    first = notices[0]
    more = f" (+{len(notices) - 1} more)" if len(notices) > 1 else ""
    return f"{lane.value}: {first.event} - {first.subject}{more}"[:200]
