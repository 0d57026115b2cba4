"""Who may do what: the one check every operation of the desk makes (domain/roles.py holds
the table), and which client's tickets and people a caller reaches."""

from __future__ import annotations

from desk.errors import forbidden
from desk.principal import Principal
from domain.roles import Action, allowed, roles_for


def may(principal: Principal, action: Action) -> None:
    """Refuse (403, naming the roles that may) unless ``principal``'s role may ``action``."""
    if not allowed(principal.role, action):
        raise forbidden(f"role {principal.role.value!r} may not {action.value}; "
                        f"allowed roles: {', '.join(roles_for(action))}")
