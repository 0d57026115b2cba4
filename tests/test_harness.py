"""The test harness itself: servers from installed binaries, attributes registered."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.common import TypedSearchAttributes
from temporalio.worker import Worker

from domain import search_attributes as sa
from domain.ids import TicketKind, workflow_id
from domain.incidents import IncidentReport, IncidentStart
from domain.sla import Priority, snapshot_for
from domain.sla.priority import PriorityDecision
from tests.conftest import REPO, make_settings
from tests.web.helpers import incident_body
from worker import activities
from workflows.incident import IncidentWorkflow


def incident_start(config, client_id: str = "belton") -> IncidentStart:
    opened = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    policy = config.client(client_id).sla
    return IncidentStart(
        ticket_id=f"TST-{uuid.uuid4().int % 10**6:06d}", client_id=client_id, opened_at=opened,
        report=IncidentReport.model_validate(incident_body()),
        priority=PriorityDecision(priority=Priority.P1, rule="test"), raised_by="test",
        sla=snapshot_for(policy, opened))


async def test_time_skipping_server_runs_a_workflow_with_search_attributes(ts_env, config,
                                                                          task_queue):
    start = incident_start(config)
    state = IncidentWorkflow.initial_state(start)
    async with httpx.AsyncClient() as http, Worker(
        ts_env.client, task_queue=task_queue, workflows=[IncidentWorkflow],
        activities=activities(make_settings(), config, http),
    ):
        handle = await ts_env.client.start_workflow(
            IncidentWorkflow.run, start, id=workflow_id(TicketKind.INCIDENT, start.ticket_id),
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes(sa.ticket_attributes(state)),
            execution_timeout=timedelta(minutes=5))
        shown = await handle.query(IncidentWorkflow.view)
        assert shown.ticket_id == start.ticket_id
        described = await handle.describe()
        assert described.typed_search_attributes.get(sa.TICKET_PRIORITY) == "P1"
        await handle.terminate("test done")


def test_container_option_skips_cleanly_without_docker():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--temporal=container",
         "tests/web/test_problems.py::test_healthz_needs_no_credential", "-rs"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert "needs a Docker engine and none answers here" in done.stdout
