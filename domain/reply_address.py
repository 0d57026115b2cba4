"""A director's personal reply address on a quote: ``approvals+<quote>.<expiry>.<mac>@msp``.

Each director's quote e-mail replies to their own address, signed like the approval link
(:func:`domain.tokens.sign`: purpose, quote, director, expiry), so an "Approved" reply
shows what only that director received. A whole token does not fit: an address's local
part is at most 64 octets (RFC 5321 4.5.3.1.1), so the address carries the quote id, the
expiry (base 36) and 80 bits of the token's MAC (base 32, lower case: mail systems may
change the case of a local part). The director is not in it: the MAC is checked against
the sender, so the address works for the director it was made for and nobody else.
"""

from __future__ import annotations

import base64
import hmac
import re
from datetime import UTC, datetime

from pydantic import BaseModel

from domain import tokens
from domain.ids import TICKET_ID_PATTERN

PURPOSE = "quote-reply"
_MAC_BYTES = 10
_LOCAL = re.compile(r"^(?P<box>[a-z0-9._-]+)\+(?P<quote>" + TICKET_ID_PATTERN.strip("^$")
                    + r")\.(?P<exp>[0-9a-z]{1,10})\.(?P<mac>[a-z2-7]{16})$", re.IGNORECASE)


def _mac(secret: str, quote_id: str, director: str, expires: int) -> str:
    token = tokens.sign(secret, PURPOSE, quote_id, datetime.fromtimestamp(expires, UTC),
                        director=director.lower())
    signature = token.rpartition(".")[2]
    mac = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))[:_MAC_BYTES]
    return base64.b32encode(mac).decode().lower()


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def reply_address(secret: str, approvals: str, quote_id: str, director: str,
                  expires_at: datetime) -> str:
    """``director``'s reply address for ``quote_id``, valid until ``expires_at``."""
    box, _, domain = approvals.partition("@")
    expires = int(expires_at.timestamp())
    mac = _mac(secret, quote_id, director, expires)
    return f"{box}+{quote_id}.{_base36(expires)}.{mac}@{domain}"


class ReplyClaim(BaseModel):
    """What a message's recipients say about an approval by mail."""

    quote_id: str | None = None
    valid: bool = False
    reason: str = ""


def claim(secret: str, approvals: str | None, recipients: list[str], sender: str,
          now: datetime) -> ReplyClaim:
    """Whether one of ``recipients`` is ``sender``'s own reply address for a quote, signed
    and unexpired. The first address of the approvals mailbox decides."""
    if approvals is None:
        return ReplyClaim(reason="approval by mail is not configured (mail.approvals)")
    box, _, domain = approvals.partition("@")
    for recipient in recipients:
        local, _, at = recipient.lower().rpartition("@")
        found = _LOCAL.match(local)
        if at != domain or found is None or found["box"].lower() != box:
            continue
        quote_id = found["quote"].upper()
        expires = int(found["exp"], 36)
        if expires > 2**40:
            return ReplyClaim(quote_id=quote_id, reason="the reply address is damaged")
        expected = _mac(secret, quote_id, sender, expires)
        if not hmac.compare_digest(expected, found["mac"].lower()):
            return ReplyClaim(quote_id=quote_id, reason="the reply address is not this "
                              "sender's own (each director's quote e-mail has its own)")
        if now.timestamp() > expires:
            return ReplyClaim(quote_id=quote_id, reason="the reply address has expired")
        return ReplyClaim(quote_id=quote_id, valid=True, reason="the sender's own reply "
                          "address for this quote")
    return ReplyClaim(reason="not sent to the director's own reply address (reply to the "
                      "quote e-mail itself)")
