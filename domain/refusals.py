"""Why the desk refuses a request: the one set of types every workflow refusal carries.

A workflow (or a validator) that refuses raises ``ApplicationError(message, type=Refusal.X)``;
the HTTP doors map the type to a status in one table (desk/errors.py ``REFUSAL_STATUS``), so
an expired link is a 410 and a request that contradicts itself a 422, not every refusal a 409.
tests/test_refusal_types.py fails on a raise without a type or with one outside this set.

The values are the ``ApplicationError.type`` strings on the wire. The first six below were
in use before this set was declared (other code and running workflows compare them), so
they keep their spelling; new members follow it (CamelCase, as Temporal's own types).
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    # ---- in use before this set existed: values unchanged
    RETRY = "Retry"
    """A step the refusal depends on did not answer: nothing was done, try again (503)."""
    TICKET_TAKEN = "TicketTaken"
    """The prepared ticket number is taken: try again with a new one (503)."""
    VERSION_MISMATCH = "VersionMismatch"
    """The caller's version of the record is stale: read it again (412)."""
    DELETED = "Deleted"
    """The record was deleted (404)."""
    TICKET_ENDED = "TicketEnded"
    """The ticket has ended and let go of its files: raise a new ticket (409)."""
    FILE_LIMIT = "FileLimit"
    """A file, or the files on the ticket, would exceed the client's limits (413)."""

    # ---- the state of the ticket (or record) does not allow it
    INVALID_TRANSITION = "InvalidTransition"
    """Not possible in the current state: the ticket is closed, done, cancelled, merged, not
    ready yet, or has no such step (409)."""
    ALREADY_DONE = "AlreadyDone"
    """What was asked is already the case: answered, acknowledged, approved, recorded (409)."""
    LIMIT_REACHED = "LimitReached"
    """A per-ticket count is at its maximum: pauses, confirmed addresses, the top of the
    escalation ladder (409)."""

    # ---- the request itself
    EXPIRED = "Expired"
    """The link or offer the request answers has run out: a survey link, an NPS survey, a
    quote's validity; or what it is about was let go (purged data) (410)."""
    INVALID = "Invalid"
    """The request contradicts itself or names what is not there, whatever the state: a
    date in the past, a field given with the wrong action, a reason missing (422)."""
    NOT_ALLOWED = "NotAllowed"
    """The person or sender the request names may not do this: not a director, not one of
    the survey's respondents, another client's alert (403)."""
