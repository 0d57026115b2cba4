"""Signed links are decoded strictly: any token not exactly as signed is refused (401 over
HTTP), and a validly signed but malformed payload is refused, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from domain import tokens

SECRET = "test-secret-for-tokens"


def signed(payload: object) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    mac = hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def tampered() -> list[str]:
    good = tokens.sign(SECRET, "csat", "BEL-000001", datetime.now(UTC) + timedelta(days=1))
    body, mac = good.split(".")
    last = mac[-1]
    # 32 bytes -> 43 base64 characters: the last one carries 2 spare bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spare = alphabet[alphabet.index(last) ^ 1]
    return [f"{good}!!!!", f"{body}.{mac[:10]}$$$${mac[10:]}", f"{body}.{mac[:-1]}{spare}",
            f"{good}=", f"{good}==", f"{body}.{mac}.{mac}", f"{body}", f".{mac}", ""]


# Named, not shown: a token carries its expiry, and pytest-xdist's processes must collect
# the same test ids.
TAMPERED_IDS = ["junk-after", "junk-in-mac", "spare-bits", "one-pad", "two-pads", "two-macs",
                "no-mac", "no-body", "empty"]


@pytest.mark.parametrize("token", tampered(), ids=TAMPERED_IDS)
def test_anything_but_the_exact_token_is_refused(token):
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(SECRET, token, "csat")


@pytest.mark.parametrize("payload", [
    {"p": "csat", "s": "BEL-000001"},                      # no exp
    ["csat", "BEL-000001"],                                # a list
    {"p": "csat", "s": "BEL-000001", "exp": "tomorrow"},  # exp not a number
    {"p": "csat", "s": 12, "exp": 4_000_000_000},          # subject not text
    "just a string",
])
def test_signed_but_malformed_payloads_are_refused(payload):
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(SECRET, signed(payload), "csat")


def test_the_exact_token_is_accepted():
    good = tokens.sign(SECRET, "csat", "BEL-000001", datetime.now(UTC) + timedelta(days=1))
    assert tokens.verify(SECRET, good, "csat")["s"] == "BEL-000001"
