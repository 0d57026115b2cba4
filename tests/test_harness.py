"""The test harness itself: servers from installed binaries, attributes registered."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.common import TypedSearchAttributes
from temporalio.worker import Worker

from domain import search_attributes as sa
from domain.ids import TicketKind, workflow_id
from domain.incidents import IncidentReport, IncidentStart
from domain.sla import Priority, snapshot_for
from domain.sla.priority import PriorityDecision
from tests.conftest import REPO, docker_missing, make_settings
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


def test_stack_option_skips_with_its_reason_without_docker():
    """`--temporal=stack` where no Docker engine answers: the dev-server tests are skipped,
    each saying what they would have run and why they cannot."""
    if docker_missing() is None:
        pytest.skip("Docker answers here: run `pytest --temporal=stack` for the real thing")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--temporal=stack",
         "tests/web/test_problems.py::test_healthz_needs_no_credential", "-rs"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout, done.stdout
    reason = next(line for line in done.stdout.splitlines() if line.startswith("SKIPPED"))
    assert ("--temporal=stack runs deploy/compose.yaml's Temporal and PostgreSQL under Docker, "
            "and cannot here: no Docker engine answers (") in reason, reason
