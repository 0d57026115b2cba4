"""`tempodesk smtp`: an SMTP listener for MSPs that route mail straight in (an MTA with TLS
and spam filtering in front of it). Each accepted message goes through the same intake as
``POST /v1/email/inbound``, as the MSP's own integration; a message we cannot take now is
answered 451, so the sending MTA keeps it and tries again (nothing is lost)."""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.smtp import SMTP, Envelope, Session

import log_hygiene
from api.auth import Principal
from api.email_intake import take_message
from api.state import AppState
from domain.email_inbound import MESSAGE_MAX_BYTES
from domain.roles import Role

log = logging.getLogger(__name__)
LISTENER = Principal(None, Role.INTEGRATION, "smtp-listener", "smtp")


class InboundMail:
    """aiosmtpd's handler: DATA -> the intake; its outcome in the 250 reply."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else (
            envelope.content or "").encode()
        try:
            outcome = await take_message(self.state, raw, LISTENER)
        except Exception:  # Temporal unreachable, ...: the sender's MTA retries
            log.exception("an inbound message was not taken")  # no address: PII
            return "451 4.3.0 not taken now: try again later"
        return f"250 2.0.0 {outcome.action} {outcome.ticket_id or ''}".rstrip()


async def serve_smtp(state: AppState, host: str, port: int) -> asyncio.AbstractServer:
    log_hygiene.install()
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(InboundMail(state), data_size_limit=MESSAGE_MAX_BYTES,
                     hostname="tempodesk", ident="Tempodesk inbound"), host, port)
