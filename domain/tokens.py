"""Signed, expiring tokens for links sent by e-mail (CSAT surveys, later approvals).

``<base64url(json)>.<base64url(HMAC-SHA256)>``: the link itself is the credential, so it
names one ticket, one purpose and an expiry, and cannot be altered without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime


class InvalidToken(Exception):
    pass


class ExpiredToken(InvalidToken):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, purpose: str, subject: str, expires_at: datetime, **extra: str) -> str:
    payload = {"p": purpose, "s": subject, "exp": int(expires_at.timestamp()), **extra}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


_DAMAGED = "the link is damaged: open it from the e-mail again"


def verify(secret: str, token: str, purpose: str, now: datetime | None = None) -> dict:
    """The payload of a token this secret signed for ``purpose``. Strict: the MAC is
    compared in its one canonical encoding (no padding, no stray characters, no other
    spare bits), and the payload must have the shape :func:`sign` gives it."""
    body, sep, mac = token.partition(".")
    if not sep or not body or not mac:
        raise InvalidToken(_DAMAGED)
    expected = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace")):
        raise InvalidToken("the link's signature does not match")
    try:
        payload = json.loads(_unb64(body))
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidToken(_DAMAGED) from exc
    if (not isinstance(payload, dict) or not isinstance(payload.get("p"), str)
            or not isinstance(payload.get("s"), str) or type(payload.get("exp")) is not int):
        raise InvalidToken(_DAMAGED)
    if payload["p"] != purpose:
        raise InvalidToken("the link is not for this purpose")
    if (now or datetime.now(UTC)).timestamp() > payload["exp"]:
        raise ExpiredToken("the link has expired")
    return payload
