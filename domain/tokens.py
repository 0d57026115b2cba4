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


def verify(secret: str, token: str, purpose: str, now: datetime | None = None) -> dict:
    try:
        body, mac = token.split(".")
        expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise InvalidToken("the link's signature does not match")
        payload = json.loads(_unb64(body))
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidToken("the link is damaged: open it from the e-mail again") from exc
    if payload.get("p") != purpose:
        raise InvalidToken("the link is not for this purpose")
    if (now or datetime.now(UTC)).timestamp() > payload["exp"]:
        raise ExpiredToken("the link has expired")
    return payload
