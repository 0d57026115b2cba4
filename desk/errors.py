"""Why the desk refused: one error for every door, classified by the HTTP status vocabulary
(RFC 9110: 404 not found, 409 conflict, 410 gone, 422 invalid, 503 unavailable ...) that
each door maps to its own answer - problem+json, a SCIM error, an SMTP reply, a CLI exit.

A workflow's refusal (its ``ApplicationError``'s type, domain/refusals.py) and the
engine's errors become a ``DeskError`` here too, through one table.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from domain.refusals import Refusal
from temporal_client import aborted_update

log = logging.getLogger(__name__)

_NOT_SLUG = re.compile(r"[^a-z0-9-]")


class DeskError(Exception):
    """A refusal: ``status`` classifies it, ``title`` and ``detail`` say it for people,
    ``errors`` name each field at fault and its fix, ``retry_after`` (seconds) says when a
    retry may succeed."""

    def __init__(self, status: int, title: str, detail: str, *, slug: str | None = None,
                 errors: list[dict[str, str]] | None = None,
                 retry_after: int | None = None,
                 extensions: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug or title_slug(title)
        self.errors = errors or []
        self.retry_after = retry_after
        self.extensions = extensions or {}  # RFC 9457 extension members, e.g. earliest_start


def title_slug(title: str) -> str:
    """The problem type's slug made from a title ("Which client?" -> which-client): only
    what a URN may hold, so a slug that was already clean stays as it was."""
    return _NOT_SLUG.sub("", title.lower().replace(" ", "-"))


def field_problem(status: int, field: str, message: str, fix: str, title: str,
                  where: str | None = None) -> DeskError:
    """A refusal naming the field at fault (``where``: body, query, path, header) and the fix."""
    error = {"field": field, "message": message, "fix": fix}
    if where is not None:
        error["in"] = where
    return DeskError(status, title, f"{field}: {message}", errors=[error])


def not_found(what: str) -> DeskError:
    return DeskError(404, "Not found", what)


def forbidden(detail: str) -> DeskError:
    return DeskError(403, "Forbidden", detail)


# A workflow's refusal (its ApplicationError's type) -> status, title, slug. The one place a
# refusal is classified; a type not here (none is left in the workflows,
# tests/test_refusal_types.py) is a 409, the safe default.
CONFLICT = (409, "Transition refused", "conflict")
REFUSAL_STATUS: dict[Refusal, tuple[int, str, str]] = {
    Refusal.INVALID_TRANSITION: CONFLICT,
    Refusal.ALREADY_DONE: CONFLICT,
    Refusal.LIMIT_REACHED: CONFLICT,
    Refusal.TICKET_ENDED: CONFLICT,
    Refusal.EXPIRED: (410, "Expired", "gone"),
    Refusal.INVALID: (422, "Request is not valid", "invalid"),
    Refusal.NOT_ALLOWED: (403, "Forbidden", "forbidden"),
    Refusal.FILE_LIMIT: (413, "File refused", "file-refused"),
    Refusal.VERSION_MISMATCH: (412, "Precondition failed", "precondition-failed"),
    Refusal.DELETED: (404, "Not found", "not-found"),
    Refusal.RETRY: (503, "Try again", "try-again"),
    Refusal.TICKET_TAKEN: (503, "Try again", "try-again"),
}


def refusal_status(exc: WorkflowUpdateFailedError) -> tuple[int, str, str]:
    """The status, title and slug of a workflow's refusal, by its type."""
    try:
        refusal = Refusal(getattr(exc.cause, "type", None))
    except ValueError:  # untyped, or a type from outside the set
        return CONFLICT
    return REFUSAL_STATUS.get(refusal, CONFLICT)


def refused(exc: WorkflowUpdateFailedError) -> DeskError:
    """A workflow's refusal: its message, the status its type maps to."""
    reason = str(exc.cause.message if hasattr(exc.cause, "message") else exc.cause)
    status, title, slug = refusal_status(exc)
    return DeskError(status, title, reason, slug=slug, retry_after=5 if status == 503 else None)


def unanswered(when: str = "in time") -> DeskError:
    """503 for a ticket that did not answer (its worker down, or its task failing): not done
    as far as the caller knows, so retry."""
    return DeskError(503, "Temporal unavailable", f"the ticket did not answer {when}; retry "
                     "(an Idempotency-Key or a repeated action is safe)",
                     slug="temporal-unavailable", retry_after=5)


def engine_error(exc: RPCError) -> DeskError:
    """What an error of the workflow engine means for the caller."""
    # A message to a finished workflow comes back as NOT_FOUND "... already completed".
    if "already completed" in exc.message:
        return DeskError(409, "Ticket is closed", "the ticket's workflow has completed: "
                         "raise a new ticket", slug="conflict")
    if exc.status == RPCStatusCode.NOT_FOUND:
        return not_found("no such ticket")
    if exc.status == RPCStatusCode.ALREADY_EXISTS:
        return DeskError(409, "Conflict", exc.message, slug="conflict")
    # The client's "transport error" (status UNKNOWN) is a server it cannot reach, e.g. one
    # whose connections a load balancer resets while it restarts: unavailable too.
    # An update aborted by a failed workflow task every time it was sent (temporal_client
    # sends it again a few times): not applied, so a retry is safe.
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                      RPCStatusCode.RESOURCE_EXHAUSTED) or aborted_update(exc) or (
            exc.status == RPCStatusCode.UNKNOWN and exc.message == "transport error"):
        return DeskError(503, "Temporal unavailable", "the workflow engine did not answer; "
                         "retry", retry_after=5)
    # Anything else: the engine's own words stay in our log, never in the answer.
    log.warning("Temporal refused a request: %s (%s)", exc.message, exc.status)
    if exc.status == RPCStatusCode.INVALID_ARGUMENT:
        return DeskError(400, "Bad request", "the request could not be carried out as given: "
                         "check the parameters against /docs")
    return DeskError(502, "Workflow engine error", "the workflow engine could not carry out "
                     "the request; retry, and tell the MSP if it persists")
