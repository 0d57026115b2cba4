"""A year of BetterWorld's NPS and QBR schedules under time skipping, against tickets this
test creates (real incident workflows, acknowledged, resolved, closed and scored at
exact instants), real e-mail (aiosmtpd) and the real HTTP API for the NPS answers.

The time-skipping server has no Schedules (nor visibility lists), so the test starts the
schedules' kickoff workflow at each instant the schedule spec gives - computed by
``domain.reviews.fire_times`` from the same config, the function whose instants the
dev-server test compares with the server's own next firings - and the QBR's ticket list
comes from the tickets the test made (each ticket is then read by its query, as in
production). Every send is checked: whom, when, how many, and the figures in the PDF.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.reviews import ReviewActivities
from api.app import create_app
from domain.incidents import IncidentReport, IncidentStart
from domain.reviews import Job, ReviewKickoff, fire_times, review_workflow_id
from domain.sla import Priority, snapshot_for
from domain.sla.priority import PriorityDecision
from domain.tickets import CsatAnswer, Status, Transition
from tests.conftest import make_settings, served
from tests.documents.pdf_text import pdf_text
from tests.peers import Mailbox
from tests.web.helpers import incident_body
from tests.workflows.support import start_incident
from worker import activities
from workflows.incident import IncidentWorkflow
from workflows.kinds import view_models
from workflows.post_mortem import PostMortemWorkflow
from workflows.reviews import NpsSurveyWorkflow, QbrWorkflow, ReviewKickoffWorkflow

NY = ZoneInfo("America/New_York")
CLIENT = "betterworld"
M, H = timedelta(minutes=1), timedelta(hours=1)


class KnownTickets:
    """What visibility would list (the time-skipping server has no list API)."""

    def __init__(self) -> None:
        self.opened: dict[str, datetime] = {}

    async def workflow_ids(self, client_id: str, since: datetime, limit: int,
                           ) -> tuple[list[str], int]:
        ids = [i for i, at in self.opened.items() if at >= since]
        return ids[:limit], len(ids)


@contextlib.asynccontextmanager
async def api(client: Client, config, settings) -> AsyncIterator[httpx.AsyncClient]:
    async with served(create_app(settings, config, client)) as (_, http):
        yield http


async def settle(probe, check, timeout: float = 30.0):
    """Poll while virtual time stands still (it only moves in env.sleep here)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if check(value):
            return value
        assert asyncio.get_running_loop().time() < deadline, f"never settled: {value!r}"
        await asyncio.sleep(0.05)


class Year:
    def __init__(self, env, config, task_queue: str, mailbox: Mailbox, http) -> None:
        self.env, self.config, self.queue, self.mailbox, self.http = (
            env, config, task_queue, mailbox, http)
        self.client_cfg = config.client(CLIENT)
        self.tickets = KnownTickets()
        self.numbers = iter(range(1, 1000))
        self.kickoffs = 0

    async def at(self, instant: datetime) -> None:
        now = await self.env.get_current_time()
        assert instant >= now, (instant, now)
        await self.env.sleep(instant - now)

    async def after(self, delta: timedelta) -> None:
        await self.env.sleep(delta)

    async def kickoff(self, job: Job) -> dict:
        self.kickoffs += 1
        now = await self.env.get_current_time()
        handle = await self.env.client.start_workflow(
            ReviewKickoffWorkflow.run, ReviewKickoff(client_id=CLIENT, job=job),
            id=f"schedule:{job.value}:{CLIENT}-{now:%Y-%m-%dT%H:%M:%SZ}-{self.kickoffs}",
            task_queue=self.queue, execution_timeout=timedelta(hours=1))
        result = await settle(lambda: _described(handle), lambda d: d.status.name != "RUNNING")
        assert result.status.name == "COMPLETED"
        with self.env.auto_time_skipping_disabled():  # result() would let time run on
            return (await handle.result()).model_dump(mode="json")

    async def incident(self, priority: Priority, channel: str):
        opened = await self.env.get_current_time()
        start = IncidentStart(
            ticket_id=f"BWT-{next(self.numbers):06d}", client_id=CLIENT, opened_at=opened,
            report=IncidentReport.model_validate(incident_body(channel=channel)),
            priority=PriorityDecision(priority=priority, rule="test"), raised_by="test",
            sla=snapshot_for(self.client_cfg.sla, opened))
        handle = await start_incident(self.env.client, start, self.queue)
        self.tickets.opened[handle.id] = opened
        return handle

    async def quarter_of_tickets(self, csat_b: int) -> None:
        """A (P1 e-mail) answered in 30 min, resolved at 6 h; B (P2 chat) answered in 3 min,
        resolved at 50 h, past its 36 h target; C (P1 phone) answered at 2 h, past its 1 h
        target, resolved at 20 h. CSAT: A 5, B ``csat_b``."""
        a = await self.incident(Priority.P1, "email")
        b = await self.incident(Priority.P2, "chat")
        c = await self.incident(Priority.P1, "phone")
        await self.after(3 * M)
        await _ack(b)
        await self.after(27 * M)
        await _ack(a)
        await self.after(90 * M)
        await _ack(c)
        await self.after(4 * H)
        await _finish(a, 5)
        await self.after(14 * H)
        await _finish(c, None)
        await self.after(30 * H)
        await _finish(b, csat_b)


async def _described(handle):
    return await handle.describe()


async def _ack(handle) -> None:
    await handle.execute_update(IncidentWorkflow.acknowledge,
                                Transition(to=Status.ACKNOWLEDGED, by="agent:test"))


async def _finish(handle, csat: int | None) -> None:
    await handle.execute_update(IncidentWorkflow.transition,
                                Transition(to=Status.RESOLVED, by="agent:test"))
    await handle.execute_update(IncidentWorkflow.transition,
                                Transition(to=Status.CLOSED, by="agent:test"))
    if csat is not None:
        await handle.execute_update(IncidentWorkflow.record_csat, CsatAnswer(score=csat))


def nps_mails(mailbox: Mailbox) -> list:
    return [m for m in mailbox.messages if "recommend us" in m["Subject"]]


def qbr_mails(mailbox: Mailbox) -> list:
    return [m for m in mailbox.messages
            if m["Subject"].strip().startswith("Quarterly business review")]


async def test_a_year_of_nps_and_qbr_schedules(ts_env, task_queue, config):
    env = ts_env
    client_cfg = config.client(CLIENT)
    zone = client_cfg.sla.calendar.timezone
    year = (await env.get_current_time()).astimezone(NY).year + 1
    begin = datetime(year, 1, 1, tzinfo=NY)
    end = datetime(year + 1, 1, 1, 12, tzinfo=NY)
    qbr_at = fire_times(client_cfg.reviews.calendar(Job.QBR), zone, begin, end)
    nps_at = fire_times(client_cfg.reviews.calendar(Job.NPS), zone, begin, end)
    assert [t.astimezone(NY).strftime("%m-%d %H:%M") for t in qbr_at] == [
        "01-01 09:00", "04-01 09:00", "07-01 09:00", "10-01 09:00", "01-01 09:00"]
    assert [t.astimezone(NY).strftime("%m-%d %H:%M") for t in nps_at] == [
        "03-01 09:00", "09-01 09:00"]
    batches = [datetime(year, 3 * q - 1, 15, 10, tzinfo=NY) for q in (1, 2, 3, 4)]
    answers = {nps_at[0] + timedelta(days=1): {"ana.ruiz@hudsonfreight.example": 9},
               nps_at[1] + timedelta(days=2): {"ana.ruiz@hudsonfreight.example": 10,
                                               "lee.okafor@hudsonfreight.example": 3}}
    agenda = sorted([(t, "qbr", None) for t in qbr_at] + [(t, "nps", None) for t in nps_at]
                    + [(t, "tickets", q + 1) for q, t in enumerate(batches)]
                    + [(t, "answers", who) for t, who in answers.items()],
                    key=lambda item: item[0])

    with Mailbox() as mailbox:
        settings = make_settings(task_queue=task_queue, smtp_host="127.0.0.1",
                                 smtp_port=mailbox.port)
        year_run: Year
        async with httpx.AsyncClient() as worker_http, api(env.client, config,
                                                            settings) as http:
            year_run = Year(env, config, task_queue, mailbox, http)
            reviews = ReviewActivities(settings, config, env.client, tickets=year_run.tickets,
                                   view_models=view_models())
            async with Worker(env.client, task_queue=task_queue,
                              workflows=[IncidentWorkflow, PostMortemWorkflow,
                                         ReviewKickoffWorkflow, NpsSurveyWorkflow, QbrWorkflow],
                              activities=[*activities(settings, config, worker_http),
                                          *reviews.all()]):
                await year_run.at(begin)
                for instant, what, detail in agenda:
                    await year_run.at(instant)
                    if what == "tickets":
                        await year_run.quarter_of_tickets(csat_b=detail)
                    elif what == "nps":
                        sent = len(nps_mails(mailbox))
                        kicked = await year_run.kickoff(Job.NPS)
                        assert kicked["started"], kicked
                        await settle(lambda: _async(lambda: nps_mails(mailbox)),
                                     lambda m, sent=sent: len(m) == sent + 2)
                    elif what == "answers":
                        await answer_nps(mailbox, http, detail)
                    else:
                        sent = len(qbr_mails(mailbox))
                        kicked = await year_run.kickoff(Job.QBR)
                        assert kicked["started"], kicked
                        await settle(lambda: _async(lambda: qbr_mails(mailbox)),
                                     lambda m, sent=sent: len(m) == sent + 1)
                        if instant == qbr_at[1]:  # fired twice in a quarter: nothing new
                            again = await year_run.kickoff(Job.QBR)
                            assert again["started"] is False and again["period"] == (
                                kicked["period"])
                await year_run.after(timedelta(hours=1))
                reports = {}
                for label in [f"{year - 1}-Q4", *(f"{year}-Q{q}" for q in (1, 2, 3, 4))]:
                    handle = env.client.get_workflow_handle_for(
                        QbrWorkflow.run, review_workflow_id(Job.QBR, CLIENT, label))
                    reports[label] = await handle.query(QbrWorkflow.report)
                served = await http.get(f"/v1/reports/qbr/{CLIENT}/{year}-Q3",
                                        params={"format": "pdf"},
                                        headers={"Authorization":
                                                 "Bearer td_betterworld_director_demo"})

    # ---- every send: the NPS links (2 contacts, twice) and the QBRs (5, one each quarter)
    nps = nps_mails(mailbox)
    assert sorted((_date(m), m["To"]) for m in nps) == [
        (t, to) for t in nps_at for to in ("ana.ruiz@hudsonfreight.example",
                                           "lee.okafor@hudsonfreight.example")]
    qbrs = qbr_mails(mailbox)
    assert [(m["To"], _date(m)) for m in qbrs] == [
        ("dana.brooks@betterworld.example", t) for t in qbr_at]
    assert [m["Subject"].split()[3].rstrip(":") for m in qbrs] == list(reports)
    message_ids = [m["Message-ID"] for m in nps + qbrs]
    assert len(set(message_ids)) == len(message_ids) == 9  # nothing sent twice

    # ---- the figures, against the tickets made above
    empty = reports[f"{year - 1}-Q4"].figures
    assert empty is not None and (empty.tickets, empty.nps) == (0, None)
    nps_by_quarter = {1: (100, 1, 2), 2: (100, 1, 2), 3: (0, 2, 2), 4: (0, 2, 2)}
    for q in (1, 2, 3, 4):
        f = reports[f"{year}-Q{q}"].figures
        assert f is not None
        assert (f.tickets, f.incidents, f.open_at_end, f.breaches) == (3, 3, 0, 2), q
        assert f.compliance_pct == 66.7                      # A and C in target, B not
        p1, p2 = f.priorities[0], f.priorities[1]
        assert (p1.opened, p1.responded_in_target, p1.response_pct, p1.compliance_pct) == (
            2, 1, 50.0, 100.0)
        assert (p2.opened, p2.response_pct, p2.compliance_pct, p2.breaches) == (
            1, 100.0, 0.0, 1)
        assert abs(f.mean_response_s - 3060) < 2             # (3 + 30 + 120) min / 3
        assert abs(f.mean_resolution_s - 91200) < 2          # (6 + 20 + 50) h / 3
        assert f.csat_average == (5 + q) / 2 and f.csat_responses == 2
        channels = {c.channel: (c.answered, c.met) for c in f.channels}
        assert channels == {"email": (1, True), "phone": (1, False), "chat": (1, True)}
        assert f.nps is not None
        assert (f.nps.nps, f.nps.responses, f.nps.invited) == nps_by_quarter[q], q
        assert f.nps.period == f"{year}-H{1 if q <= 2 else 2}"
        assert len(f.risks) == 6 and f.risks[0].score == 16
        text = pdf_text(_pdf(qbrs[q]))
        assert "66.7% of resolved incidents within the resolution target" in text
        assert f"{(5 + q) / 2:g} / 5 (2 answers)" in text
    assert served.status_code == 200 and served.content == _pdf(qbrs[3])


async def answer_nps(mailbox: Mailbox, http: httpx.AsyncClient, scores: dict[str, int]):
    latest = {m["To"]: m for m in nps_mails(mailbox)}
    for to, score in scores.items():
        token = re.search(r"/v1/surveys/nps/(\S+)", latest[to].get_content()).group(1)
        answered = await http.post(f"/v1/surveys/nps/{token}", json={"score": score})
        assert answered.status_code == 200, answered.text


async def _async(fn):
    return fn()


def _date(message) -> datetime:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(message["Date"])


def _pdf(message) -> bytes:
    [pdf] = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    return pdf.get_content()
