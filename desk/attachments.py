"""The desk's operations on a ticket's files, for every door: add one, upload one before its
ticket exists, list them, open one. Each checks who may (``may``) and whose ticket it is
(``locate``: another client's ticket is the 404 of a missing one) before a byte of the file
is read, and that the caller's credential has not too many uploads in flight
(desk/upload_slots.py); desk/files.py stores, seals and serves them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from desk.access import may
from desk.files import add_file, answered, held_files, open_file, stage_upload
from desk.intake import intake_client
from desk.principal import Principal
from desk.state import Desk
from domain.attachments import Attachment, Channel, Upload
from domain.roles import Action


class IncomingFile(Protocol):
    """A file as a door receives it: its name and its bytes, as they arrive."""

    filename: str
    chunks: AsyncIterator[bytes]
    size: int | None  # its exact length, when the door knows it (a raw body's)


# How a door hands over a file's body: awaited only once the caller may add it.
Receive = Callable[[], Awaitable[IncomingFile]]


async def attach_file(desk: Desk, principal: Principal, ticket_id: str, receive: Receive,
                      channel: Channel, declared_size: int | None = None) -> Attachment:
    """Add a file to a ticket the caller may see (``declared_size``: what the door was
    told to expect, so a file over the limits is refused before it is read)."""
    may(principal, Action.ATTACH_FILES)
    ref = await answered(desk, desk.tickets.locate(ticket_id, principal))
    with desk.uploads.slot(principal):
        incoming = await receive()
        return await add_file(desk, ref, incoming.filename, incoming.chunks,
                              principal.actor, channel, declared_size=declared_size,
                              exact_size=incoming.size)


async def stage_file(desk: Desk, principal: Principal, client_id: str | None,
                     receive: Receive, declared_size: int | None = None,
                     client_id_in: str = "body") -> Upload:
    """Keep a file for a ticket not opened yet (its ``upload`` is named in the new ticket's
    ``uploads``): the caller's own client's, or the one MSP staff name (``client_id_in``:
    where the door's request carried it, for a refusal naming it)."""
    may(principal, Action.ATTACH_FILES)
    client = intake_client(principal, client_id, desk, where=client_id_in)
    with desk.uploads.slot(principal):
        incoming = await receive()
        return await stage_upload(desk, client, incoming.filename, incoming.chunks,
                                  principal.actor, declared_size=declared_size,
                                  exact_size=incoming.size)


async def ticket_files(desk: Desk, principal: Principal,
                       ticket_id: str) -> tuple[str, list[Attachment]]:
    """The ticket's id and its files, for a caller who may see it."""
    may(principal, Action.VIEW_TICKETS)
    ref = await answered(desk, desk.tickets.locate(ticket_id, principal))
    return ref.ticket_id, await answered(desk, held_files(ref))


async def read_file(desk: Desk, principal: Principal, ticket_id: str,
                    sha256: str) -> tuple[Attachment, AsyncIterator[bytes]]:
    """One of the ticket's files and its bytes, opened as they are sent."""
    may(principal, Action.VIEW_TICKETS)
    ref = await answered(desk, desk.tickets.locate(ticket_id, principal))
    return await open_file(desk, ref, sha256)
