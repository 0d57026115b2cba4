"""What workflows ask the notification activities to deliver."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from domain.quote_lines import ApprovalLink, QuoteDocument


class Invite(BaseModel):
    """A meeting to send as an iCalendar invitation (text/calendar; method=REQUEST)."""

    uid: str = Field(description="stable across retries: calendars update, not duplicate")
    starts_at: datetime
    minutes: int = Field(ge=5, le=480)
    summary: str
    attendees: list[str] = Field(default_factory=list)


class Notice(BaseModel):
    """One event worth telling people about. ``notice_id`` is stable across retries, so
    receivers can de-duplicate (it becomes the Message-ID and the webhook-id)."""

    notice_id: str
    client_id: str
    ticket_id: str
    occurred_at: datetime
    event: str = Field(description="template name, e.g. 'ticket_opened', 'sla_breached'")
    subject: str
    context: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    recipients: list[str] = Field(default_factory=list, description="besides the desk mailboxes")
    survey_expires_at: datetime | None = Field(
        None, description="when set, the activity adds a signed survey link")
    thread_root: str | None = Field(None, description="Message-ID the e-mail replies to")
    unverified: list[str] = Field(default_factory=list, description="addresses a client "
                                  "gave (e.g. the technical contact): mailed only if known to "
                                  "the config or confirmed by an agent")
    confirmed: list[str] = Field(default_factory=list, description="addresses an agent "
                                 "confirmed for this ticket, besides the client's known ones")
    unconfirmed: list[str] = Field(default_factory=list, description="mailed only once an "
                                   "agent confirmed them, known or not (a sender whose mail "
                                   "failed authentication)")
    invite: Invite | None = Field(None, description="attached as an .ics invitation")
    approval: ApprovalLink | None = Field(None, description="adds a signed approval link")
    document: QuoteDocument | None = Field(None, description="attached as the quote's PDF")


class NoticeReceipt(BaseModel):
    message_id: str | None = None
    emailed: list[str] = Field(default_factory=list)
    webhooks: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    unsent: list[str] = Field(default_factory=list, description="addresses the e-mail was "
                              "for but not sent to: no SMTP server is configured")


def message_id(notice_id: str) -> str:
    """The e-mail Message-ID of a notice: derived, so a workflow knows it before sending."""
    return f"<{notice_id.replace(':', '.')}@tempodesk>"


class Lane(StrEnum):
    """Independent delivery lanes: an SMTP outage never holds back chat webhooks."""

    EMAIL = "email"
    WEBHOOKS = "webhooks"


class NoticeDelivery(BaseModel):
    """One notice on one lane: what the ``deliver`` activity is given."""

    notice: Notice
    lane: Lane


BATCH_MAX = 8  # notices one lane hands one activity, at most (bounds an attempt's time)


class NoticeBatch(BaseModel):
    """A lane's pending notices, oldest first: what the ``deliver_notices`` activity is
    given. One activity for what one moment queued (a breach and its first rung) instead
    of one each: a cohort of deadlines falling due at once costs the worker half the work."""

    notices: list[Notice] = Field(min_length=1, max_length=BATCH_MAX)
    lane: Lane


class DeliveryFailure(BaseModel):
    """Why the notice after the delivered ones failed; ``final`` when no retry can mend it."""

    error: str
    final: bool = False


class WebhookRouting(BaseModel):
    """Which notice events the client's webhooks receive, as the worker's config says at
    the time of a delivery: every event if some hook takes all, else those listed."""

    every_event: bool = False
    events: list[str] = Field(default_factory=list, max_length=500)

    def receives(self, event: str) -> bool:
        return self.every_event or event in self.events


class LaneReceipts(BaseModel):
    """One receipt per notice delivered, in order; delivery stopped at ``failure``, if any
    (the failed notice and those after it stay pending). ``routing``: the client's webhook
    routing read by this attempt, after its notices were queued."""

    receipts: list[NoticeReceipt] = Field(default_factory=list)
    failure: DeliveryFailure | None = None
    routing: WebhookRouting | None = None


class LaneProgress(BaseModel):
    # "skipped": no webhook of the client receives the event (webhook lane only)
    status: Literal["pending", "delivered", "failed", "skipped"] = "pending"
    attempts: int = 0
    last_error: str | None = None
    last_attempt_at: datetime | None = None


class OutboxEntry(BaseModel):
    """A notice waiting to be delivered, with its progress on each lane; it survives
    continue-as-new inside the ticket's state."""

    notice: Notice
    lanes: dict[Lane, LaneProgress] = Field(
        default_factory=lambda: {lane: LaneProgress() for lane in Lane})
    reached: bool = Field(False, description="a lane has delivered it to someone (counted "
                          "in the ticket's notices_sent)")

    def settled(self) -> bool:
        return all(p.status != "pending" for p in self.lanes.values())

    def failing(self, after_a_failure: bool = True) -> bool:
        """A lane has failed and waits to try again. (Before the patch
        "notice-failing-after-a-failure", an attempt merely in flight counted: every notice
        flipped NoticeFailing on and off; histories of that time keep that rule.)"""
        if not after_a_failure:
            return any(p.status == "pending" and p.attempts > 0 for p in self.lanes.values())
        return any(p.status == "pending" and p.last_error is not None
                   for p in self.lanes.values())


class FailedNotice(BaseModel):
    """A notice one lane could never deliver (kept on the ticket for an agent)."""

    notice_id: str
    event: str
    lane: Lane
    attempts: int
    error: str
    at: datetime
