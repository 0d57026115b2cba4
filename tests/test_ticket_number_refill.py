"""A block of ticket numbers leased in the background (desk/ticket_numbers.py) that fails
is told to the next request that takes a number, and is not logged as an exception nobody
retrieved when no request comes (an API stopping while its Temporal server is gone)."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from desk.ticket_numbers import TicketNumbers, _Pool


class Unreachable:
    async def execute_update_with_start_workflow(self, *args, **kwargs):
        raise ConnectionError("transport error")


async def test_a_failed_refill_is_told_to_the_next_request_and_not_logged(caplog):
    numbers = TicketNumbers(Unreachable(), "files")  # type: ignore[arg-type]
    pool = numbers._pools.setdefault("BEL", _Pool())
    caplog.set_level(logging.ERROR, logger="asyncio")
    refill = numbers._refill("BEL", pool)
    await asyncio.wait([refill])
    with pytest.raises(ConnectionError):  # the next request hears of it
        await numbers.next("BEL")

    unheard = numbers._refill("ACM", numbers._pools.setdefault("ACM", _Pool()))
    await asyncio.wait([unheard])
    del unheard
    numbers._pools.clear()
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
