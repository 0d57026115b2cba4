"""Ticket numbers leased from a Temporal server that has gone (desk/ticket_numbers.py): a
block leased in the background that fails is told to the next request that takes a
number, and neither it nor the SDK's own record of the failed start is logged as an
exception nobody retrieved when no request comes (an API stopping after its server)."""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from desk.ticket_numbers import TicketNumbers
from domain import search_attributes as sa
from domain.sequence import Lease

BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin"


class GoneAfterFirstLease:
    """A client whose first lease is granted; every call after fails."""

    def __init__(self) -> None:
        self.calls = 0

    async def execute_update_with_start_workflow(self, *args, **kwargs) -> Lease:
        self.calls += 1
        if self.calls == 1:
            return Lease(first=1, count=4)
        raise ConnectionError("transport error")


def never_retrieved(caplog) -> list[str]:
    gc.collect()
    return [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]


async def test_a_failed_background_lease_is_told_to_the_next_request_only(caplog):
    caplog.set_level(logging.ERROR, logger="asyncio")
    client = GoneAfterFirstLease()
    numbers = TicketNumbers(client, "files", block=4)  # type: ignore[arg-type]
    # Half the block used: the next one is leased in the background, and fails.
    assert [await numbers.next("BEL") for _ in range(3)] == [
        "BEL-000001", "BEL-000002", "BEL-000003"]
    while client.calls < 2:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)
    with pytest.raises(ConnectionError):
        await numbers.next("BEL")
    # Another pool's failed refill that no request takes: not logged.
    others = TicketNumbers(GoneAfterFirstLease(), "files", block=4)  # type: ignore[arg-type]
    for _ in range(3):
        await others.next("ACM")
    await asyncio.sleep(0.01)
    del others
    assert never_retrieved(caplog) == []


async def test_a_lease_from_a_server_gone_leaves_nothing_unretrieved(caplog):
    caplog.set_level(logging.ERROR, logger="asyncio")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), search_attributes=sa.ALL_KEYS)
    client = await Client.connect(env.client.service_client.config.target_host,
                                  data_converter=pydantic_data_converter)
    await env.shutdown()
    numbers = TicketNumbers(client, "files")
    with pytest.raises(Exception):  # noqa: B017 - whichever error the SDK gives
        await numbers.next("BEL")
    del numbers
    await asyncio.sleep(0.01)
    assert never_retrieved(caplog) == []
