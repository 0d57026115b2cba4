"""Who may see which ticket, inside a client: the kinds each role's credential sees, and
the personal data on a ticket that only some of those readers need.

Tenancy (a client's credential never sees another client's tickets) is checked before
this, in the API; this table narrows what a credential sees *within* its client. MSP
credentials (``client_id`` None: staff agents and admins, the MSP's mail gateway) work
every kind for the clients they serve. Enforced in ``desk/tickets.py``
(``TicketDirectory.locate``: a hidden kind answers 404, exactly as a missing ticket) and
in the listing's query (``domain/ticket_list.py``); docs/security.md states the table.

Later: once people sign in (a later issue), a requester sees only the tickets they raised
and a manager their organisation's. That narrows a kind this table allows, per ticket:
add it as one more check after :func:`may_see` (and one more term in the listing's
query), never as a wider table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from domain.ids import TicketKind
from domain.roles import Role

EVERYDAY = frozenset({TicketKind.INCIDENT, TicketKind.SERVICE_REQUEST})
HR_TICKETS = frozenset({TicketKind.ONBOARDING, TicketKind.OFFBOARDING})  # joiners, leavers
EVERY_KIND = frozenset(TicketKind)

# A client's credential, by role: the kinds of its own client's tickets it sees.
CLIENT_KINDS: dict[Role, frozenset[TicketKind]] = {
    Role.REQUESTER: EVERYDAY,
    Role.HR: EVERYDAY | HR_TICKETS,
    Role.DIRECTOR: EVERY_KIND,       # HR tickets (oversight) and quotes (they decide them)
    Role.AGENT: EVERY_KIND,          # the MSP's people, on a key bound to this client
    Role.ADMIN: EVERY_KIND,
    # A machine of the client's (monitoring, its HR system, its own mail gateway): what it
    # raises and follows is incidents and service requests. SCIM reaches its joiners and
    # leavers through its own resources, never through the ticket routes.
    Role.INTEGRATION: EVERYDAY,
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads a ticket, as far as this table cares: a role, and whether the credential
    is the MSP's own (``client_id`` None) rather than a client's."""

    role: Role
    msp: bool = False


def visible_kinds(viewer: Viewer) -> frozenset[TicketKind]:
    if viewer.msp:
        return EVERY_KIND
    return CLIENT_KINDS[viewer.role]


def may_see(viewer: Viewer, kind: TicketKind) -> bool:
    return kind in visible_kinds(viewer)


# ---------------------------------------------------------------- personal data

# HR writes the joiner's personal e-mail and phone on the form for the first contact,
# before the work mailbox exists; the service desk makes that contact (the account
# confirmation and the MFA walk-through). Directors see the joiner (name, title, start)
# but have no need of a private address or number: withheld from them, as from machines.
# A contact's phone number on any ticket (the technical contact of an incident, a
# requester, a manager) is read by the same people: it may be a private mobile, and only
# those who call people need it; everyone else who sees the ticket sees name and e-mail.
PERSONAL_DATA_READERS = frozenset({Role.HR, Role.AGENT, Role.ADMIN})


def sees_personal_data(viewer: Viewer) -> bool:
    return viewer.role in PERSONAL_DATA_READERS


V = TypeVar("V", bound=BaseModel)


def redacted(view: V, viewer: Viewer) -> V:
    """``view`` as ``viewer`` may read it: the kind's personal fields (its
    ``personal_fields``, a name or a dotted path into the view such as
    ``request.manager.phone``) emptied and named in its ``withheld``, unless the viewer
    needs them. The one place a view is redacted; kinds without personal fields pass
    unchanged."""
    fields: tuple[str, ...] = getattr(view, "personal_fields", ())
    held = [path for path in fields if _at(view, path) not in (None, "")]
    if not held or sees_personal_data(viewer):
        return view
    for path in held:
        view = _emptied(view, path)
    return view.model_copy(update={"withheld": held})


def _at(model: BaseModel, path: str) -> object:
    value: object = model
    for name in path.split("."):
        if value is None:
            return None
        value = getattr(value, name)
    return value


def _emptied(model: V, path: str) -> V:
    """A copy of ``model`` with the field at ``path`` set to None (nested models copied)."""
    name, _, rest = path.partition(".")
    inner = getattr(model, name)
    return model.model_copy(update={name: _emptied(inner, rest) if rest else None})
