"""Clients own their people: every address the desk acts on for a client (a leaver's or
joiner's account, their manager, a shared mailbox to open, a SCIM userName) must be in
one of the identity domains the client declares (``ClientConfig.domains``). A credential,
a form or an HR system's sync never proves by itself that an address is the client's.

Pure: the doors (the forms, SCIM) call it to refuse with the field at fault; the provider
activities call it again before a provider sees the address, so an old ticket or a
future door cannot reach another client's people either."""

from __future__ import annotations

from collections.abc import Iterable

from domain.errors import FieldError
from domain.tenants import ClientConfig

# What a provider activity raises for a call outside its client: non-retryable, so the
# step goes to an agent at once (no retry makes someone else's person the client's).
NOT_THE_CLIENTS_PERSON = "NotTheClientsPerson"


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower().strip(".") if "@" in address else "(none)"


def outsider(client: ClientConfig | None, field: str, address: str) -> FieldError | None:
    """Why ``address`` (given as ``field``) is not one of ``client``'s people, or None if it
    is. The refusal names the domain, not the whole address, and never the client that
    may own it (that would tell one client about another's people)."""
    if client is not None and client.owns(address):
        return None
    if client is None:
        return FieldError(field, "no client is configured for this call",
                          "the client was removed from the configuration: do it by hand")
    if not client.domains:
        return FieldError(field, f"{client.name} declares no identity domains, so the desk "
                          "acts on none of its people",
                          "the MSP lists the client's domains under `domains:` in "
                          "tempodesk.yaml")
    return FieldError(field, f"the domain {_domain(address)!r} is not one of {client.name}'s "
                      "identity domains: the desk acts only on the client's own people",
                      f"use an address in {', '.join(client.domains)}; if the client owns "
                      "that domain too, the MSP adds it to the client's `domains`")


def check_people(client: ClientConfig, people: Iterable[tuple[str, str]]) -> None:
    """Raise the first refusal among ``people`` (field, address) pairs, if any."""
    for field, address in people:
        refusal = outsider(client, field, address)
        if refusal is not None:
            raise refusal
