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

from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain import search_attributes as sa
from domain.qbr import QbrReport
from domain.review_plan import qbr_start
from domain.reviews import Job, on_demand_quarter, review_workflow_id
from domain.settings import Settings
from domain.tenants import ClientConfig
from workflows.reviews import QbrWorkflow


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
