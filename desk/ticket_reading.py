"""Reading one ticket, for every door: the permission, the tenancy and kind visibility
(``locate``: another client's ticket, or a kind the caller's role does not see, is 404),
then the view as the caller may read it. (Many tickets: api/routes/tickets.py lists them
from Temporal's visibility.)"""

from __future__ import annotations

from desk.access import may
from desk.errors import DeskError
from desk.principal import Principal
from desk.state import Desk
from desk.tickets import TicketRef
from domain.ids import TicketKind
from domain.offboarding import OffboardingView
from domain.roles import Action
from domain.tickets import TicketView


async def show_ticket(desk: Desk, principal: Principal, ticket_id: str) -> TicketView:
    """One ticket of any kind, as ``principal`` may read it."""
    may(principal, Action.VIEW_TICKETS)
    ref = await desk.tickets.locate(ticket_id, principal)
    return ref.shown(await ref.view())


async def custody_record(desk: Desk, principal: Principal,
                         ticket_id: str) -> tuple[TicketRef, OffboardingView]:
    """A user exit's record, for its chain-of-custody document (409 for another kind):
    the ticket and its whole view."""
    may(principal, Action.VIEW_TICKETS)
    ref = await desk.tickets.locate(ticket_id, principal)
    if ref.kind is not TicketKind.OFFBOARDING:
        raise DeskError(409, "Not for this kind", f"{ticket_id} is a {ref.kind.value}: only a "
                        "user exit has a chain of custody", slug="conflict")
    view = await ref.view()
    assert isinstance(view, OffboardingView)
    return ref, view
