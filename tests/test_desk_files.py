"""The desk's file operations called directly, with no HTTP in between (desk/attachments.py):
each checks the permission and whose ticket it is before a byte of the file is read, so a
door - the HTML pages next - cannot forget either. Against a real Temporal dev server and
worker, and the real S3 server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from desk import attachments, opening
from desk.errors import DeskError
from desk.principal import Principal
from domain.attachments import Channel
from domain.roles import Role
from tests.test_desk_tickets import person, report

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Incoming:
    filename: str
    chunks: AsyncIterator[bytes]
    size: int | None = None


class Body:
    """A door's file body that says whether anyone read it."""

    def __init__(self, content: bytes = PNG) -> None:
        self.content = content
        self.read = False

    async def __call__(self) -> Incoming:
        self.read = True

        async def chunks() -> AsyncIterator[bytes]:
            yield self.content

        return Incoming("screen.png", chunks())


async def refused(call) -> int:
    with pytest.raises(DeskError) as caught:
        await call
    return caught.value.status


async def belton_incident(desk) -> str:
    view, _ = await opening.raise_incident(
        desk.state, person(desk, "belton", Role.REQUESTER), report(), None
    )
    return view.ticket_id


async def test_a_role_that_may_not_attach_is_refused_before_the_file_is_read(files_desk):
    ticket = await belton_incident(files_desk)
    monitoring = person(files_desk, "belton", Role.INTEGRATION)
    body = Body()
    assert (
        await refused(
            attachments.attach_file(files_desk.state, monitoring, ticket, body, Channel.API)
        )
        == 403
    )
    assert await refused(attachments.stage_file(files_desk.state, monitoring, None, body)) == 403
    assert not body.read


async def test_another_clients_ticket_is_not_found_and_its_files_stay_unread(files_desk):
    ticket = await belton_incident(files_desk)
    requester = person(files_desk, "belton", Role.REQUESTER)
    added = await attachments.attach_file(files_desk.state, requester, ticket, Body(), Channel.API)
    outsider: Principal = person(files_desk, "plexacet", Role.AGENT)
    body = Body()
    assert (
        await refused(
            attachments.attach_file(files_desk.state, outsider, ticket, body, Channel.API)
        )
        == 404
    )
    assert not body.read
    assert await refused(attachments.ticket_files(files_desk.state, outsider, ticket)) == 404
    assert (
        await refused(attachments.read_file(files_desk.state, outsider, ticket, added.sha256))
        == 404
    )
    # The ticket's own people read it back, byte for byte.
    listed_ticket, listed = await attachments.ticket_files(files_desk.state, requester, ticket)
    assert (listed_ticket, [a.sha256 for a in listed]) == (ticket, [added.sha256])
    found, chunks = await attachments.read_file(files_desk.state, requester, ticket, added.sha256)
    assert found.content_type == "image/png"
    assert b"".join([chunk async for chunk in chunks]) == PNG
