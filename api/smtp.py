"""`tempodesk smtp`: an SMTP listener for MSPs that route mail straight in (an MTA with TLS,
spam filtering and sender authentication in front of it: docs/security.md). Each accepted
message goes through the same intake as ``POST /v1/email/inbound``, as the MSP's own
integration; but its Authentication-Results are believed only when the connecting peer is one
of ``mail.smtp.trusted_relays`` (RFC 8601 section 5: anyone else wrote them itself).

Answers: 250 with what the message did (only to an authenticated sender: anyone else reads
"accepted", whatever ticket the message names, so the replies tell no ticket ids); 451 (the
sending MTA keeps the message and tries again) when the desk cannot take it now or a sending
address or From address is over its limit (``mail.smtp`` in the config; the reply says how
many seconds to wait); 554 for a message nobody can read (retrying cannot help)."""

from __future__ import annotations

import asyncio
import logging
import math
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr

from aiosmtpd.smtp import SMTP, Envelope, Session

import log_hygiene
from api.state import AppState
from desk.errors import DeskError
from desk.mail import take_message
from desk.principal import Principal
from desk.rate_limits import RateLimiter
from domain.email_inbound import MESSAGE_MAX_BYTES, MalformedMail, one_line
from domain.roles import Role
from domain.sender_auth import smtp_reply
from domain.text import mailbox_of

log = logging.getLogger(__name__)
LISTENER = Principal(None, Role.INTEGRATION, "smtp-listener", "smtp")


def _header_sender(raw: bytes) -> str:
    """The From address, read from the headers alone (cheap, before the whole parse)."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:64 * 1024])
        return one_line(parseaddr(str(headers.get("From", "")))[1], 254).lower()
    except Exception:  # unreadable headers: the intake refuses the message itself
        return ""


def _peer(session: Session) -> str:
    return session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")


def _over(what: str, wait: float) -> str:
    return f"451 4.7.1 too much mail from {what}: try again in {math.ceil(wait)} s"


class InboundMail:
    """aiosmtpd's handler: MAIL -> the per-address limit; DATA -> the per-sender limit and
    the intake; its outcome in the reply."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        # The project's token buckets: one per connecting address, one per From address.
        self.limits = RateLimiter(state.config)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        peer = _peer(session)
        wait = self.limits.wait_for_key("smtp-ip", peer, self.state.config.mail.smtp.per_ip)
        if wait:
            return _over(peer, wait)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else (
            envelope.content or "").encode()
        sender = _header_sender(raw)
        if sender:
            # One allowance a mailbox: sam+1@, sam+2@ ... are all sam@'s.
            wait = self.limits.wait_for_key("smtp-sender", mailbox_of(sender),
                                            self.state.config.mail.smtp.per_sender)
            if wait:
                return _over(sender, wait)
        try:
            outcome = await take_message(self.state, raw, LISTENER,
                                         [str(r) for r in envelope.rcpt_tos],
                                         smtp_peer=_peer(session))
        except MalformedMail as exc:
            return f"554 5.6.0 {exc.reason}"
        except DeskError as exc:
            if exc.status == 413:  # a file over the client's limit: no retry mends it
                return f"552 5.3.4 {one_line(exc.detail, 300)}"
            log.exception("an inbound message was not taken")
            return "451 4.3.0 not taken now: try again later"
        except Exception:  # Temporal unreachable, ...: the sender's MTA retries
            log.exception("an inbound message was not taken")  # no address: PII
            return "451 4.3.0 not taken now: try again later"
        said = smtp_reply(outcome.action, outcome.ticket_id, outcome.sender_authenticated)
        return f"250 2.0.0 {said}"


async def serve_smtp(state: AppState, host: str, port: int) -> asyncio.AbstractServer:
    log_hygiene.install()
    loop = asyncio.get_running_loop()
    handler = InboundMail(state)  # one for the listener: its limits span connections
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=MESSAGE_MAX_BYTES,
                     hostname="tempodesk", ident="Tempodesk inbound"), host, port)
