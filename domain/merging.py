"""Which incident a duplicate may be merged into: a pure rule, so every refusal is tested
without a server (desk/ticket_actions.py applies it)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.incidents import IncidentView
from domain.tickets import Status, TicketView


@dataclass(frozen=True)
class MergeRefusal:
    """Why not: the status class (409 conflict, 422 invalid), the problem and its fix, all
    about the body's ``survivor`` field."""

    status: int
    message: str
    fix: str


def merge_refusal(duplicate: TicketView, survivor: TicketView) -> MergeRefusal | None:
    """None if ``duplicate`` may be merged into ``survivor`` (both of the same client,
    which the caller has checked): the survivor is an incident, open, and the newer."""
    if not isinstance(survivor, IncidentView):
        return MergeRefusal(422, f"{survivor.ticket_id} is a {survivor.kind.value}",
                            "merge into an incident")
    if survivor.status is Status.CLOSED or survivor.merged_into is not None:
        return MergeRefusal(409, f"{survivor.ticket_id} is closed", "merge into an open ticket")
    if survivor.opened_at < duplicate.opened_at:
        return MergeRefusal(409, f"{survivor.ticket_id} is older than {duplicate.ticket_id}",
                            f"merge the older ticket into the newest: merge "
                            f"{survivor.ticket_id} into {duplicate.ticket_id}")
    return None
