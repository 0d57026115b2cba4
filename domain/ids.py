"""Business keys: human ticket ids per client and the workflow ids derived from them."""

from __future__ import annotations

import re
from enum import StrEnum

TICKET_ID = re.compile(r"^(?P<prefix>[A-Z][A-Z0-9]{1,7})-(?P<number>\d{6,})$")


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
        raise ValueError(f"{text!r} is not a ticket id: expected e.g. 'BEL-000123'")
    return match["prefix"], int(match["number"])


def workflow_id(kind: TicketKind, ticket: str) -> str:
    """``incident:BEL-000123``: the workflow id is the business key."""
    return f"{kind.value}:{ticket}"


def sequence_workflow_id(prefix: str) -> str:
    return f"ticket-sequence:{prefix}"


def sequence_task_queue(task_queue: str) -> str:
    """The sequences' own queue: a lease never waits behind a burst of new tickets."""
    return f"{task_queue}.sequence"
