"""Record the review workflows' histories for the replay tests (house rule 8).

    .venv/bin/python -m tests.reviews.record_reviews

On a time-skipping server: BetterWorld's NPS kickoff on 1 March (one answer, then the
survey closes) and its QBR kickoff on 1 April (one incident in the quarter, no SMTP), then
writes tests/histories/review_kickoff_v1.json, nps_v1.json and qbr_v1.json. Commit them
before changing these workflows' command sequences: test_replay.py replays every file.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from temporalio.worker import Worker

from activities.reviews import ReviewActivities
from domain.nps import NpsReply, respondent_key
from domain.reviews import Job, ReviewKickoff, review_workflow_id
from domain.sla import Priority
from domain.tenants import load_config
from domain.tickets import Status, Transition
from tests.conftest import DEMO_CONFIG, make_settings
from tests.histories.record import save, time_skipping
from tests.reviews.test_review_year import KnownTickets
from tests.workflows.support import make_start, start_incident
from worker import activities
from workflows.incident import IncidentWorkflow
from workflows.kinds import view_models
from workflows.post_mortem import PostMortemWorkflow
from workflows.reviews import NpsSurveyWorkflow, QbrWorkflow, ReviewKickoffWorkflow

NY = ZoneInfo("America/New_York")
CLIENT = "betterworld"


async def record() -> list[Path]:
    config = load_config(DEMO_CONFIG)
    settings = make_settings(task_queue="record", codec_keys={}, codec_key_id=None)
    policy = config.client(CLIENT).sla
    async with time_skipping() as env:
        year = (await env.get_current_time()).astimezone(NY).year + 1
        known = KnownTickets()
        reviews = ReviewActivities(settings, config, env.client, tickets=known,
                                   view_models=view_models())
        async with httpx.AsyncClient() as http, Worker(
                env.client, task_queue="record",
                workflows=[IncidentWorkflow, PostMortemWorkflow, ReviewKickoffWorkflow,
                           NpsSurveyWorkflow, QbrWorkflow],
                activities=[*activities(settings, config, http), *reviews.all()]):

            async def at(instant: datetime) -> None:
                await env.sleep(instant - await env.get_current_time())

            async def kickoff(job: Job):
                handle = await env.client.start_workflow(
                    ReviewKickoffWorkflow.run, ReviewKickoff(client_id=CLIENT, job=job),
                    id=f"schedule:{job.value}:{CLIENT}-{year}", task_queue="record")
                with env.auto_time_skipping_disabled():
                    await handle.result()
                return handle

            opened = datetime(year, 2, 10, 10, tzinfo=NY)
            await at(opened)
            start = make_start(opened, Priority.P2, policy, client_id=CLIENT)
            ticket = await start_incident(env.client, start, "record")
            known.opened[ticket.id] = opened
            await env.sleep(timedelta(minutes=30))
            await ticket.execute_update(IncidentWorkflow.transition,
                                        Transition(to=Status.RESOLVED, by="agent"))

            await at(datetime(year, 3, 1, 9, tzinfo=NY))
            nps_kickoff = await kickoff(Job.NPS)
            nps = env.client.get_workflow_handle_for(
                NpsSurveyWorkflow.run, review_workflow_id(Job.NPS, CLIENT, f"{year}-H1"))
            await env.sleep(timedelta(hours=2))
            respondent = respondent_key(CLIENT, f"{year}-H1", "ana.ruiz@hudsonfreight.example")
            await nps.execute_update(NpsSurveyWorkflow.answer,
                                     NpsReply(respondent=respondent, score=9))
            await env.sleep(timedelta(days=15))  # the survey closes

            await at(datetime(year, 4, 1, 9, tzinfo=NY))
            await kickoff(Job.QBR)
            qbr = env.client.get_workflow_handle_for(
                QbrWorkflow.run, review_workflow_id(Job.QBR, CLIENT, f"{year}-Q1"))
            await env.sleep(timedelta(minutes=5))
            assert (await qbr.query(QbrWorkflow.report)).status == "ready"
            return [save("review_kickoff_v1", await nps_kickoff.fetch_history()),
                    save("nps_v1", await nps.fetch_history()),
                    save("qbr_v1", await qbr.fetch_history())]


if __name__ == "__main__":
    for path in asyncio.run(record()):
        print(path)
