"""Business keys: human ticket ids per client, the workflow ids derived from them, and the
keys of the provider steps a ticket drives (each builder has its parser)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, unquote

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


def a_kind(kind: TicketKind) -> str:
    """The kind with its article, for messages: "an incident", "a quote"."""
    return f"{'an' if kind.value[0] in 'aeiou' else 'a'} {kind.value}"


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


# ---------------------------------------------------------------- provider steps

class SagaPass(StrEnum):
    """Which pass of a process's saga a provider step belongs to."""

    DO = "do"        # provisioning or revoking: the step itself
    UNDO = "undo"    # its compensation, after HR withdrew a new user


# A step's target is a device's hostname or serial as a form gives it (at most 64
# characters, any script): percent-encoded, a 4-byte character takes 12, so the longest
# key a form allows is about 64 x 12 + 80. A bound below that would fail the workflow on
# a device name the form took.
TARGET_MAX_CHARS = 64
STEP_KEY_MAX = 1024
_STEP_NAME = re.compile(r"^[a-z][a-z_]{0,39}$")
# A fixed namespace: the same step key always gives the same UUID (RFC 9562 version 5).
_STEP_NAMESPACE = uuid.UUID("6f1d7c2e-4c55-4a49-9e0b-7d0f3a6c9b21")


@dataclass(frozen=True)
class StepKey:
    """One provider step of one ticket, by business data: what a provider sees as its
    idempotency key, the same on every retry and in every run of the ticket."""

    kind: TicketKind
    ticket: str
    saga: SagaPass
    step: str                 # the step's name (e.g. create_account), never the activity's
    target: str | None = None  # for a step repeated per item: the device, the check number


def step_key(kind: TicketKind, ticket: str, saga: SagaPass, step: str,
             target: str | None = None) -> str:
    """``onboarding:BEL-000003:undo:create_account``, or with a target
    ``offboarding:BEL-000009:do:wipe_device:PF3X9K`` (percent-encoded, so the key is ASCII
    and its colons are its own)."""
    if not _STEP_NAME.match(step):
        raise ValueError(f"{step!r} is not a step name (lower case and underscores)")
    key = f"{workflow_id(kind, ticket)}:{saga.value}:{step}"
    if target is not None:
        key += ":" + quote(target, safe="")
    if len(key) > STEP_KEY_MAX:
        raise ValueError(f"a step key is at most {STEP_KEY_MAX} characters")
    return key


def parse_step_key(text: str) -> StepKey:
    """The parts of a :func:`step_key` (a receiver may rely on this shape)."""
    parts = text.split(":")
    if not 4 <= len(parts) <= 5 or len(text) > STEP_KEY_MAX:
        raise ValueError(f"{text[:60]!r} is not a step key (kind:TICKET:pass:step[:target])")
    kind, ticket = parse_workflow_id(f"{parts[0]}:{parts[1]}")
    parse_ticket_id(ticket)
    if not _STEP_NAME.match(parts[3]):
        raise ValueError(f"{parts[3]!r} is not a step name")
    target = unquote(parts[4]) if len(parts) == 5 else None
    return StepKey(kind=kind, ticket=ticket, saga=SagaPass(parts[2]), step=parts[3],
                   target=target)


def step_request_id(key: str) -> str:
    """The step key as a GUID, for providers that want one per request for correlation
    (Microsoft Graph's ``client-request-id``): the same for every call of the step."""
    return str(uuid.uuid5(_STEP_NAMESPACE, key))


def order_key(quote: str) -> str:
    """``order:BEL-000301``: the procurement order of an approved quote (one per quote)."""
    return f"order:{quote}"
