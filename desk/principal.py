"""Who acts: every operation of the desk takes one. Doors make it from a credential (an API
key, an OIDC token: api/auth.py), a signed link, or a mail's authenticated sender."""

from __future__ import annotations

from dataclasses import dataclass

from domain.roles import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: a client's credential (``client_id`` set) or the MSP's staff
    (``client_id`` None; ``clients`` the ones served, None for all)."""

    client_id: str | None
    role: Role
    subject: str  # the key's id or the token's `sub`, for the audit trail
    method: str   # "api_key" or "oidc"
    clients: frozenset[str] | None = None
    email: str | None = None  # whose mailbox (a director approving a quote is named by it)

    @classmethod
    def of_client(cls, client_id: str, role: Role, subject: str, method: str,
                  email: str | None = None) -> Principal:
        return cls(client_id, role, subject, method, frozenset({client_id}),
                   email.lower() if email else None)

    @property
    def is_staff(self) -> bool:
        return self.client_id is None

    @property
    def actor(self) -> str:
        """How events name the caller: ``role:subject``, the same for every action."""
        return f"{self.role.value}:{self.subject}"

    @property
    def scope(self) -> str:
        """What page cursors are bound to: the client, or the staff member."""
        return self.client_id or f"staff:{self.subject}"

    def may_see(self, client_id: str) -> bool:
        return self.clients is None or client_id in self.clients
