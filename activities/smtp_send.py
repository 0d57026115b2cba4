"""Sending one e-mail through the configured SMTP relay, for every activity that mails
(notices, NPS surveys, QBR reports): a refused recipient is final, the rest is retried."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
from temporalio.exceptions import ApplicationError

from domain.settings import Settings


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
