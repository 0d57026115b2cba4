"""Typed search-attribute keys: what operators filter on in the Temporal Web UI, e.g.
``TicketPriority = 'P1' AND SlaBreached = true``. Names are a public interface."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from temporalio.common import SearchAttributeKey, SearchAttributePair

if TYPE_CHECKING:
    from domain.tickets import TicketState

TICKET_KIND = SearchAttributeKey.for_keyword("TicketKind")
CLIENT_ID = SearchAttributeKey.for_keyword("ClientId")
TICKET_PRIORITY = SearchAttributeKey.for_keyword("TicketPriority")
TICKET_STATUS = SearchAttributeKey.for_keyword("TicketStatus")
SLA_RESPONSE_DUE = SearchAttributeKey.for_datetime("SlaResponseDue")
SLA_RESOLUTION_DUE = SearchAttributeKey.for_datetime("SlaResolutionDue")
SLA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")
ESCALATION_LEVEL = SearchAttributeKey.for_int("EscalationLevel")
ASSIGNEE = SearchAttributeKey.for_keyword("Assignee")
# Set (true) while a notice of the ticket keeps failing to reach its peer.
NOTICE_FAILING = SearchAttributeKey.for_bool("NoticeFailing")
# SCIM directory users: the hash of the current userName (domain.ids.directory_user_key),
# so a renamed user is still found by name; a hash, as visibility is not encrypted.
DIRECTORY_USER_KEY = SearchAttributeKey.for_keyword("DirectoryUserKey")

# Quotes: where each stands (sent, approved, declined, expired, superseded) and until when
# it may be approved, e.g. `TicketKind = 'quote' AND QuoteState = 'sent'`.
QUOTE_STATE = SearchAttributeKey.for_keyword("QuoteState")
QUOTE_VALID_UNTIL = SearchAttributeKey.for_datetime("QuoteValidUntil")

# User exits and new users: set (true) while a provider keeps failing one of the ticket's
# steps and the workflow is retrying it (domain.provider_steps.StepState.failing), e.g.
# `ProviderFailing = true AND TicketKind = 'offboarding'`.
PROVIDER_FAILING = SearchAttributeKey.for_bool("ProviderFailing")

# Kinds whose next instant is not (only) an SLA target - quotes, new users, user exits -
# publish it here so queues sort them: the expiry, the start, the effective time, the
# auto-close, the purge (docs/lifecycle.md). A Keyword holding the UTC instant as
# 2026-12-11T00:00:00Z (text order is time order, e.g. `NextDue < '2026-12-12'`): SQL
# visibility (the dev server's SQLite, PostgreSQL) allows 3 Datetime attributes, and
# SlaResponseDue, SlaResolutionDue and QuoteValidUntil hold them.
NEXT_DUE = SearchAttributeKey.for_keyword("NextDue")
NEXT_DUE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# What a ticket publishes (workflows/ticket.py keeps exactly these up to date).
TICKET_KEYS: tuple[SearchAttributeKey, ...] = (
    TICKET_KIND, CLIENT_ID, TICKET_PRIORITY, TICKET_STATUS, SLA_RESPONSE_DUE,
    SLA_RESOLUTION_DUE, SLA_BREACHED, ESCALATION_LEVEL, ASSIGNEE, NOTICE_FAILING,
)
QUOTE_KEYS: tuple[SearchAttributeKey, ...] = (QUOTE_STATE, QUOTE_VALID_UNTIL)
PROVIDER_KEYS: tuple[SearchAttributeKey, ...] = (PROVIDER_FAILING,)
ALL_KEYS: tuple[SearchAttributeKey, ...] = (*TICKET_KEYS, *QUOTE_KEYS, DIRECTORY_USER_KEY,
                                            *PROVIDER_KEYS, NEXT_DUE)

# Names as the `temporal` CLI writes the types (`--search-attribute Name=Type`).
CLI_TYPE_NAMES = {
    "KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "INT": "Int",
    "TEXT": "Text", "DOUBLE": "Double", "KEYWORD_LIST": "KeywordList",
}


def cli_flags() -> list[str]:
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}={CLI_TYPE_NAMES[key.indexed_value_type.name]}"]
    return flags


_UNSEARCHABLE = str.maketrans({"%": "%25", "\\": "%5C", '"': "%22"})


def keyword(text: str) -> str:
    """A free-text value as stored in a Keyword attribute: the dev server's SQLite
    visibility never matches a backslash or a double quote however the query escapes it,
    so those (and %) are stored percent-encoded; list filters encode the same way."""
    return text.translate(_UNSEARCHABLE)


def keyword_text(value: str | None) -> str | None:
    """The text a :func:`keyword` value was made from."""
    if value is None:
        return None
    return value.replace("%22", '"').replace("%5C", "\\").replace("%25", "%")


def next_due_text(instant: datetime) -> str:
    """The NextDue value of ``instant``: UTC, to the second."""
    return instant.astimezone(UTC).strftime(NEXT_DUE_FORMAT)


def next_due_instant(value: str | None) -> datetime | None:
    """The instant a NextDue value names (None if unset or not one)."""
    try:
        return datetime.strptime(value, NEXT_DUE_FORMAT).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


def ticket_attributes(state: TicketState, failing_after_a_failure: bool = True,
                      ) -> list[SearchAttributePair]:
    """The attribute pairs describing a ticket (used at start and on every change);
    ``failing_after_a_failure`` False only for tickets from before that rule (replay)."""
    clock = state.clock
    pairs = [
        SearchAttributePair(TICKET_KIND, state.kind.value),
        SearchAttributePair(CLIENT_ID, state.client_id),
        SearchAttributePair(TICKET_PRIORITY, clock.priority.value),
        SearchAttributePair(TICKET_STATUS, state.status.value),
        SearchAttributePair(SLA_BREACHED, clock.breached_at is not None),
        SearchAttributePair(ESCALATION_LEVEL, clock.escalation_level),
    ]
    if state.response_due is not None:
        pairs.append(SearchAttributePair(SLA_RESPONSE_DUE, state.response_due))
    if state.resolution_due is not None:
        pairs.append(SearchAttributePair(SLA_RESOLUTION_DUE, state.resolution_due))
    if state.assignee:
        pairs.append(SearchAttributePair(ASSIGNEE, keyword(state.assignee)))
    if state.notice_failing(failing_after_a_failure):
        pairs.append(SearchAttributePair(NOTICE_FAILING, True))
    if state.kind_due is not None:
        pairs.append(SearchAttributePair(NEXT_DUE, next_due_text(state.kind_due)))
    return pairs
