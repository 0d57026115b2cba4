"""Record a QBR made on demand for a quarter not yet over (house rule 8): its interim
figures, the wait for the quarter's end (behind ``workflow.patched``), the final figures.

    .venv/bin/python -m tests.reviews.record_qbr_on_demand

On a time-skipping server: one BetterWorld incident in mid-February, the Q1 report asked
for on 20 February, the quarter's end passed; writes tests/histories/qbr_on_demand_v1.json
(test_replay.py replays every file there).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from temporalio.worker import Worker

from activities.reviews import ReviewActivities
from desk.reports import produce_qbr
from domain.sla import Priority
from domain.tenants import load_config
from tests.conftest import DEMO_CONFIG, make_settings
from tests.histories.record import save, time_skipping
from tests.reviews.test_review_year import KnownTickets
from tests.workflows.support import make_start, start_incident
from worker import activities
from workflows.incident import IncidentWorkflow
from workflows.kinds import view_models
from workflows.post_mortem import PostMortemWorkflow
from workflows.reviews import QbrWorkflow

NY = ZoneInfo("America/New_York")
CLIENT = "betterworld"


async def record() -> Path:
    config = load_config(DEMO_CONFIG)
    settings = make_settings(task_queue="record", codec_keys={}, codec_key_id=None)
    client = config.client(CLIENT)
    async with time_skipping() as env:
        year = (await env.get_current_time()).astimezone(NY).year + 1
        known = KnownTickets()
        reviews = ReviewActivities(settings, config, env.client, tickets=known,
                                   view_models=view_models())
        async with httpx.AsyncClient() as http, Worker(
                env.client, task_queue="record",
                workflows=[IncidentWorkflow, PostMortemWorkflow, QbrWorkflow],
                activities=[*activities(settings, config, http), *reviews.all()]):

            async def at(instant: datetime) -> None:
                await env.sleep(instant - await env.get_current_time())

            opened = datetime(year, 2, 10, 10, tzinfo=NY)
            await at(opened)
            ticket = await start_incident(env.client, make_start(opened, Priority.P2,
                                                                 client.sla, client_id=CLIENT),
                                          "record")
            known.opened[ticket.id] = opened
            asked = datetime(year, 2, 20, 11, tzinfo=NY)
            await at(asked)
            order = await produce_qbr(env.client, settings, client, f"{year}-Q1",
                                      await env.get_current_time())
            await env.sleep(timedelta(minutes=5))
            assert (await order.handle.query(QbrWorkflow.report)).status == "interim"
            await at(datetime(year, 4, 1, 9, tzinfo=NY))
            assert (await order.handle.query(QbrWorkflow.report)).status == "ready"
            return save("qbr_on_demand_v1", await order.handle.fetch_history())


if __name__ == "__main__":
    print(asyncio.run(record()))
