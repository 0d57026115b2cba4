"""What every intake route shares: which client a new ticket is for, and idempotency keys
scoped to the credential that sent them."""

from __future__ import annotations

import hashlib

from api.auth import Principal
from api.problems import field_problem
from api.state import AppState
from domain.idempotency import KEY_HEX
from domain.tenants import ClientConfig


def scoped_key(principal: Principal, idempotency_key: str) -> str:
    """Keys belong to the credential that sent them (another credential's identical key is
    another request), hashed so every remembered key has the same small size."""
    raw = f"{principal.scope}\x00{principal.subject}\x00{idempotency_key}"
    return hashlib.sha256(raw.encode()).hexdigest()[:KEY_HEX]


def intake_client(principal: Principal, requested: str | None, state: AppState) -> ClientConfig:
    """The client a new ticket is for: always the credential's own; MSP staff name one of
    the clients they serve."""
    if principal.client_id is not None:
        if requested not in (None, principal.client_id):
            raise field_problem(422, "client_id", "a client's credential raises tickets for "
                                "its own client only", "remove 'client_id'", "Wrong client")
        return state.client_config(principal.client_id)
    client = state.config.client(requested) if requested else None
    if client is None or not principal.may_see(client.id):
        served = sorted(principal.clients or (c.id for c in state.config.clients))
        raise field_problem(422, "client_id", "MSP staff name the client the ticket is for",
                            f"add 'client_id', one of: {', '.join(served)}", "Which client?")
    return client
