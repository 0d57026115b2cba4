"""Business keys: human ticket ids per client and the workflow ids derived from them."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from enum import StrEnum

# A client prefix and 6 to 9 digits: bounded, so no id can be longer than 18 characters.
TICKET_ID_PATTERN = r"^[A-Z][A-Z0-9]{1,7}-\d{6,9}$"
TICKET_ID = re.compile(r"^(?P<prefix>[A-Z][A-Z0-9]{1,7})-(?P<number>\d{6,9})$")
TICKET_ID_HINT = "write a ticket id like BEL-000123: the client's prefix, '-', 6 to 9 digits"


class TicketKind(StrEnum):
    INCIDENT = "incident"
    SERVICE_REQUEST = "service_request"
    QUOTE = "quote"
    ONBOARDING = "onboarding"
    OFFBOARDING = "offboarding"


def ticket_id(prefix: str, number: int) -> str:
    """``BEL-000123``: the client's prefix and a zero-padded number."""
    return f"{prefix}-{number:06d}"


def parse_ticket_id(text: str) -> tuple[str, int]:
    match = TICKET_ID.match(text)
    if not match:
        raise ValueError(f"{text[:40]!r} is not a ticket id: {TICKET_ID_HINT}")
    return match["prefix"], int(match["number"])


def workflow_id(kind: TicketKind, ticket: str) -> str:
    """``incident:BEL-000123``: the workflow id is the business key."""
    return f"{kind.value}:{ticket}"


def parse_workflow_id(text: str) -> tuple[TicketKind, str]:
    """``incident:BEL-000123`` -> (INCIDENT, ``BEL-000123``)."""
    kind, sep, ticket = text.partition(":")
    if not sep:
        raise ValueError(f"{text!r} is not a ticket workflow id (kind:TICKET)")
    return TicketKind(kind), ticket


def post_mortem_workflow_id(ticket: str) -> str:
    return f"postmortem:{ticket}"


def sequence_workflow_id(prefix: str) -> str:
    return f"ticket-sequence:{prefix}"


def idempotency_workflow_id(prefix: str, key: str) -> str:
    """The shard remembering ``key`` (hex): one of 4,096 per client."""
    return f"idempotency:{prefix}:{key[:3]}"


DIRECTORY_USER_ID = re.compile(r"^[0-9a-f]{32}$")


def directory_user_key(client_id: str, user_name: str) -> str:
    """A SCIM user's id: a hash of the client and the userName, compared as SCIM compares
    it (NFC, lower case), so one client cannot hold two users of one name."""
    folded = unicodedata.normalize("NFC", user_name).lower()
    return hashlib.sha256(f"{client_id}\x00{folded}".encode()).hexdigest()[:32]


def directory_user_workflow_id(client_id: str, user_id: str) -> str:
    """``directory-user:<client>:<id>``: the workflow holding one SCIM user."""
    return f"directory-user:{client_id}:{user_id}"


def sequence_task_queue(task_queue: str) -> str:
    """The sequences' own queue: a lease never waits behind a burst of new tickets."""
    return f"{task_queue}.sequence"


def alert_workflow_id(client_id: str, source: str, key: str) -> str:
    """``alert:<client>:<hash>``: the episode workflow of one alert of one client (its
    Alertmanager fingerprint or Events v2 dedup_key, hashed: bounded and not free text)."""
    digest = hashlib.sha256(f"{source}\x00{key}".encode()).hexdigest()[:32]
    return f"alert:{client_id}:{digest}"
