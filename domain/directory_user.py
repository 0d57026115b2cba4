"""Users an HR system keeps in this desk's directory over SCIM 2.0: one small workflow per
user (workflows/directory_user.py) holds the SCIM resource, its version (the ETag) and the
tickets its life opened. The resource's meaning (schemas, forms) is domain/scim.py's."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.ids import TICKET_ID_PATTERN, TicketKind
from domain.offboarding import OffboardingStart
from domain.onboarding import OnboardingStart, OnboardingView
from domain.tickets import DONE

RESOURCE_MAX_BYTES = 16 * 1024   # a SCIM User as stored: far above what HR systems send
NOTE_MAX_CHARS = 500
EXIT_CLAIM_SECONDS = 30          # a claim not followed by a ticket by then was lost (a crash)


def resource_size(resource: dict[str, Any]) -> int:
    return len(json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode())


def _bounded(resource: dict[str, Any]) -> dict[str, Any]:
    if resource_size(resource) > RESOURCE_MAX_BYTES:
        raise ValueError(f"a stored user is at most {RESOURCE_MAX_BYTES} bytes of JSON")
    return resource


Resource = Annotated[dict[str, Any], AfterValidator(_bounded)]


class DirectoryUser(BaseModel):
    """One SCIM user of one client, as its workflow keeps it (and queries answer)."""

    client_id: str
    user_id: str = Field(description="the SCIM id (domain.ids.directory_user_key)")
    resource: Resource = Field(description="the SCIM User as the HR system wrote it, "
                                     "without id, meta and password")
    created_at: datetime
    modified_at: datetime
    version: int = Field(1, ge=1, description="bumped by every change: the ETag")
    onboarding_ticket: str | None = None
    offboarding_ticket: str | None = None
    exit_claimed_at: datetime | None = Field(None, description="an API is opening the user "
                                             "exit (see claim_exit)")
    note: str = Field("", max_length=NOTE_MAX_CHARS, description="why a change opened no "
                      "ticket, e.g. a userName that is not an e-mail address")
    deleted_at: datetime | None = None

    @property
    def etag(self) -> str:
        # Weak: the same version reads differently with `attributes` or another base URL.
        return f'W/"{self.version}"'


class DirectoryUserStart(BaseModel):
    user: DirectoryUser
    onboarding: OnboardingOrder | None = Field(None, description="the hire's onboarding, "
                                               "opened by the workflow as it starts")


class Replacement(BaseModel):
    """A new state of the resource (a PUT, or a PATCH applied by the API)."""

    model_config = ConfigDict(extra="forbid")
    resource: Resource
    expected_version: int | None = Field(None, description="refused unless the user is at "
                                         "this version (If-Match, or the version patched)")
    note: str | None = Field(None, max_length=NOTE_MAX_CHARS)


class Deletion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expected_version: int | None = None


class ExitClaim(BaseModel):
    """Asked before opening a user exit, so a leaver gets one however often HR says so."""

    model_config = ConfigDict(extra="forbid")
    by: str = Field(max_length=200)


class ClaimResult(BaseModel):
    granted: bool
    offboarding_ticket: str | None = None


class TicketLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: TicketKind
    ticket_id: str = Field(pattern=TICKET_ID_PATTERN)


SUMMARY_MAX_CHARS = 400
# The starts name their kind's state, defined after them: complete them now, or a start
# that arrived inside an order (never built on its own) cannot be serialised for its child.
OffboardingStart.model_rebuild()
OnboardingStart.model_rebuild()


class ExitOrder(BaseModel):
    """A leaver's user exit, opened whole by the user's workflow (claim, start, link in one
    durable update): the offboarding's start, numbered and checked by the API, and the
    Web UI's one-line summary of it."""

    model_config = ConfigDict(extra="forbid")
    start: OffboardingStart
    summary: str = Field(max_length=SUMMARY_MAX_CHARS)


class Leaving(BaseModel):
    """A deactivation that opens the leaver's exit: the new resource stored and the exit
    opened in one update, so neither is kept without the other."""

    model_config = ConfigDict(extra="forbid")
    replacement: Replacement
    exit: ExitOrder


class OnboardingOrder(BaseModel):
    """A hire's onboarding, opened and linked by the user's workflow in one durable update."""

    model_config = ConfigDict(extra="forbid")
    start: OnboardingStart
    summary: str = Field(max_length=SUMMARY_MAX_CHARS)


class Opened(BaseModel):
    """What an order did: ``opened`` False when the user had that ticket already (or another
    caller is opening it); ``user`` as it stands after."""

    opened: bool
    user: DirectoryUser


WITHDRAWN_REASON = "withdrawn by the HR system before the start date"


def hire_withdrawable(onboarding: OnboardingView, now: datetime) -> bool:
    """Whether a hire's deactivation may cancel their onboarding instead of opening an
    exit: they have not started and the onboarding is still open. Asked by the SCIM door
    before it sends the withdrawal, and again by the activity as it cancels."""
    return not (onboarding.starts_at <= now or onboarding.status in DONE)


def withdrawn_note(onboarding_ticket: str) -> str:
    return (f"onboarding {onboarding_ticket} cancelled before the start date: what was set "
            "up for this hire is undone; no user exit needed")


class Withdrawing(BaseModel):
    """A hire deactivated (``replacement``, then noted) or deleted (None) before their
    start: the user's workflow cancels their onboarding if it is still to come."""

    model_config = ConfigDict(extra="forbid")
    replacement: Replacement | None = None
    by: str = Field(max_length=200)


class Withdrawal(BaseModel):
    """What the workflow asks its activity: cancel this onboarding if the hire has not
    started. ``asked_at`` tells a retried attempt its own cancellation from an older one."""

    onboarding_ticket: str = Field(pattern=TICKET_ID_PATTERN)
    by: str
    asked_at: datetime


class Withdrawn(BaseModel):
    withdrawn: bool
    user: DirectoryUser


DirectoryUserStart.model_rebuild()  # it names OnboardingOrder, defined after it
