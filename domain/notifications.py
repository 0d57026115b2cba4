"""What workflows ask the notification activities to deliver."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


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


class NoticeReceipt(BaseModel):
    message_id: str | None = None
    emailed: list[str] = Field(default_factory=list)
    webhooks: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)


def message_id(notice_id: str) -> str:
    """The e-mail Message-ID of a notice: derived, so a workflow knows it before sending."""
    return f"<{notice_id.replace(':', '.')}@tempodesk>"
