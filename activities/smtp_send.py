"""Sending one e-mail through the configured SMTP relay, for every activity that mails
(notices, NPS surveys, QBR reports): a refused recipient is final, the rest is retried."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib
from temporalio.exceptions import ApplicationError

from domain.notifications import message_id
from domain.settings import Settings


def new_message(settings: Settings, mail_id: str, recipients: list[str], at: datetime,
                subject: str, auto_submitted: str, what: str) -> EmailMessage:
    """A message with our headers: From, To, Subject, Date, a Message-ID made from
    ``mail_id`` and Auto-Submitted (RFC 3834: auto-responders must not answer it, and our
    inbound path ignores it). A value no header can hold (e.g. a line break) is final:
    "``what`` cannot be written as an e-mail"."""
    message = EmailMessage()
    try:
        message["From"] = settings.smtp_from
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
    except (ValueError, TypeError) as exc:
        raise ApplicationError(f"{what} cannot be written as an e-mail: {exc}",
                               type="BadContent", non_retryable=True) from exc
    message["Date"] = format_datetime(at)
    message["Message-ID"] = message_id(mail_id)
    message["Auto-Submitted"] = auto_submitted
    return message


async def send_mail(settings: Settings, message: EmailMessage) -> str:
    """Send ``message``; its Message-ID."""
    try:
        await aiosmtplib.send(
            message, hostname=settings.smtp_host, port=settings.smtp_port,
            username=settings.smtp_username,
            password=(settings.smtp_password.get_secret_value()
                      if settings.smtp_password else None),
            start_tls=settings.smtp_starttls, timeout=30)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise ApplicationError(f"recipients refused: {exc}", non_retryable=True) from exc
    return message["Message-ID"]
