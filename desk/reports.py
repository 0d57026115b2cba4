"""A quarterly business review made on demand (``POST /v1/reports/qbr/{client}/{quarter}``
and ``tempodesk reports qbr CLIENT QUARTER``), beside the one each client's schedule makes
on the 1st of a quarter for the quarter just ended.

Any quarter from two years back up to the current one may be asked for
(:func:`domain.reviews.on_demand_quarter`). The report is the same workflow a schedule
starts, under the same business key (``qbr:<client>:<quarter>``), so asking twice - or
asking for a quarter its schedule already covered - starts nothing and finds the report
there. A quarter not yet over is reported as it stands (``interim``); the same workflow
makes its final figures, and mails them, when the quarter ends, so the schedule's own run
for it finds it made.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from desk.access import may
from desk.errors import DeskError, engine_error, field_problem, not_found
from desk.principal import Principal
from desk.state import Desk
from domain import search_attributes as sa
from domain.errors import FieldError
from domain.qbr import QbrReport
from domain.review_plan import qbr_start
from domain.reviews import Job, on_demand_quarter, review_workflow_id
from domain.roles import Action
from domain.settings import Settings
from domain.tenants import ClientConfig
from workflows.reviews import QbrWorkflow

QUERY_TIMEOUT = timedelta(seconds=5)  # a report that does not answer by then: not ready
POLL_SECONDS = 0.5                    # between reads while waiting for the figures


@dataclass(frozen=True)
class QbrOrder:
    workflow_id: str
    quarter: str
    started: bool  # False: the report already existed (made earlier, or by its schedule)
    handle: WorkflowHandle[QbrWorkflow, QbrReport]


def how_to_produce(client_id: str, quarter: str) -> str:
    """What a reader who finds no report is told (the GET's 404, the CLI)."""
    return (f"a QBR is made on the 1st of each quarter for the quarter just ended; to make "
            f"one now (the current quarter or one up to two years back), MSP agents and "
            f"admins POST /v1/reports/qbr/{client_id}/{quarter} or run `tempodesk reports "
            f"qbr {client_id} {quarter}`; a client's director asks the MSP")


async def produce_qbr(temporal: Client, settings: Settings, client: ClientConfig,
                      quarter: str, now: datetime) -> QbrOrder:
    """Start the QBR of ``client`` for ``quarter`` unless it exists. A quarter that may not
    be asked for raises ``domain.errors.FieldError`` (field ``quarter``)."""
    period = on_demand_quarter(quarter, client.sla.calendar.timezone, now)
    workflow_id = review_workflow_id(Job.QBR, client.id, period.label)
    try:
        handle = await temporal.start_workflow(
            QbrWorkflow.run, qbr_start(client, period, now, settings.public_url),
            id=workflow_id, task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.CLIENT_ID, client.id)]))
    except WorkflowAlreadyStartedError:
        return QbrOrder(workflow_id, period.label, False,
                        temporal.get_workflow_handle_for(QbrWorkflow.run, workflow_id))
    return QbrOrder(workflow_id, period.label, True, handle)


# ---------------------------------------------------------------- the desk's operations
# The HTTP routes (api/routes/reviews.py) and `tempodesk reports qbr` (commands/reports.py)
# call these; the permission and the tenancy check are made here, once.


class QbrOrdered(BaseModel):
    client: str
    quarter: str
    workflow_id: str = Field(examples=["qbr:belton:2026-Q4"])
    started: bool = Field(description="false: the report already existed (asked for "
                          "before, or made by the client's schedule); nothing new started")
    status: str = Field(description="compiling, interim (a quarter not yet over: its "
                        "figures so far; the final ones are made and mailed at its end), "
                        "ready")
    report: str = Field(description="where to read it (HTML; ?format=pdf for the PDF)")


def report_url(desk: Desk, client_id: str, quarter: str) -> str:
    return f"{desk.settings.public_url}/v1/reports/qbr/{client_id}/{quarter}"


async def _query(handle: WorkflowHandle[QbrWorkflow, QbrReport]) -> QbrReport | None:
    """The report as its workflow keeps it; None if it cannot say yet: a report just asked
    for answers queries once its first task has run (the engine refuses the query until
    then). An engine that does not answer is a 503 (retry), never "being made"."""
    try:
        return await handle.query(QbrWorkflow.report, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        if exc.status == RPCStatusCode.FAILED_PRECONDITION:
            return None
        # Not answered within QUERY_TIMEOUT (the client reports its deadline either way):
        # its worker is down or busy - a retry may find it, so 503, never "being made".
        if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise DeskError(503, "Temporal unavailable", "the report did not answer in "
                            "time; retry", retry_after=5) from exc
        raise


def _own_client(desk: Desk, principal: Principal, client_id: str) -> ClientConfig | None:
    """The client, if it exists and ``principal`` may see it (None alike otherwise, so an
    answer never tells another client's caller which clients exist)."""
    client = desk.config.client(client_id)
    return client if client is not None and principal.may_see(client_id) else None


async def order_qbr(desk: Desk, principal: Principal, client_id: str, quarter: str,
                    ) -> tuple[QbrOrdered, WorkflowHandle[QbrWorkflow, QbrReport]]:
    """Make ``client_id``'s QBR for ``quarter`` now, or find the one made already: the
    order, and the report's workflow to read it from."""
    may(principal, Action.PRODUCE_REPORTS)
    client = _own_client(desk, principal, client_id)
    if client is None:
        raise not_found(f"no client {client_id!r} among yours")
    try:
        order = await produce_qbr(desk.temporal, desk.settings, client, quarter,
                                  datetime.now(UTC))
    except FieldError as exc:
        raise field_problem(422, exc.field, exc.message, exc.fix, "No such report",
                            where="path") from exc
    except RPCError as exc:
        raise engine_error(exc) from exc
    report = None
    if not order.started:  # found: what it says now (an engine slow to say: compiling)
        try:
            report = await _query(order.handle)
        except (RPCError, DeskError):
            report = None
    ordered = QbrOrdered(client=client_id, quarter=order.quarter,
                         workflow_id=order.workflow_id, started=order.started,
                         status="compiling" if report is None else report.status,
                         report=report_url(desk, client_id, quarter))
    return ordered, order.handle


async def read_qbr(desk: Desk, principal: Principal, client_id: str, quarter: str,
                   ) -> QbrReport:
    """The QBR with its figures. 404 (saying how to make one) whether the client is
    unknown, another's or has no report; 404 with Retry-After while it is being made; 503
    when the engine does not answer."""
    may(principal, Action.VIEW_REPORTS)
    missing = DeskError(404, "Not found", f"no QBR for {client_id} {quarter}: "
                        f"{how_to_produce(client_id, quarter)}", slug="not-found",
                        extensions={"produce": {
                            "method": "POST",
                            "href": f"/v1/reports/qbr/{client_id}/{quarter}"}})
    if _own_client(desk, principal, client_id) is None:
        raise missing
    handle = desk.temporal.get_workflow_handle_for(
        QbrWorkflow.run, review_workflow_id(Job.QBR, client_id, quarter))
    try:
        report = await _query(handle)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise missing from exc
        raise engine_error(exc) from exc
    if report is None or report.figures is None:
        raise DeskError(404, "Not found", f"the QBR for {client_id} {quarter} is being made: "
                        "try again in a minute", retry_after=60)
    return report


async def make_qbr(desk: Desk, principal: Principal, client_id: str, quarter: str,
                   wait: float) -> tuple[QbrOrdered, QbrReport]:
    """Order the QBR and wait up to ``wait`` seconds for its figures (the CLI): the order
    and the report as it stands then (its ``figures`` None if they were not ready)."""
    ordered, handle = await order_qbr(desk, principal, client_id, quarter)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            report = await _query(handle)
        except RPCError as exc:
            raise engine_error(exc) from exc
        except DeskError:  # not answered in time: again while there is time
            if loop.time() >= deadline:
                raise
            continue
        if report is not None and (report.figures is not None or loop.time() >= deadline):
            return ordered, report
        if loop.time() >= deadline:
            raise DeskError(503, "Temporal unavailable", "the report did not answer in time; "
                            "run the command again (it makes nothing twice)", retry_after=5)
        await asyncio.sleep(POLL_SECONDS)
