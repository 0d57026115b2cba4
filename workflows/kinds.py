"""Every ticket kind the desk runs, by :class:`domain.ids.TicketKind`.

A new kind plugs in by declaring itself: write ``workflows/<kind>.py`` with a
:class:`workflows.ticket.TicketWorkflow` subclass decorated with ``@ticket_kind(...)``
and import it below. The ticket routes, ``tempodesk tickets show`` and the worker then
serve it without further edits.
"""

from __future__ import annotations

from temporalio import workflow

from workflows import (  # noqa: F401  (each registers itself)
    incident,
    offboarding,
    onboarding,
    quote,
    service_request,
)
from workflows.ticket import TICKET_WORKFLOWS, TicketWorkflow

with workflow.unsafe.imports_passed_through():
    from domain.ids import TicketKind
    from domain.tickets import TicketView

__all__ = ["TICKET_WORKFLOWS", "TicketWorkflow", "view_models"]


def view_models() -> dict[TicketKind, type[TicketView]]:
    """Each kind's view model: what activities that read a ticket's view are given (they
    import no workflow)."""
    return {kind: cls.view_model for kind, cls in TICKET_WORKFLOWS.items()}
