"""Long-lived tickets: history stays bounded by continue-as-new and no message is lost.

The dev server here suggests continue-as-new after 60 history events (conftest)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from domain.incidents import CommentIn
from domain.sla import Priority
from tests.web.helpers import eventually
from tests.workflows.support import incident_worker, make_start, start_incident
from workflows.incident import IncidentWorkflow


async def test_300_comments_across_continue_as_new(dev_client, config, task_queue):
    start = make_start(datetime.now(UTC), Priority.P3)
    async with incident_worker(dev_client, config, task_queue):
        handle = await start_incident(dev_client, start, task_queue)
        first_run = (await handle.describe()).run_id
        for batch in range(0, 300, 50):
            await asyncio.gather(*(
                handle.signal(IncidentWorkflow.comment,
                              CommentIn(body=f"comment {i}", by="agent:sam"))
                for i in range(batch, batch + 50)))

        async def view():
            return await handle.query(IncidentWorkflow.view)

        final = await eventually(view, lambda v: len(v.comments) == 300, timeout=60)
        described = await handle.describe()
    assert sorted(c.body for c in final.comments) == sorted(f"comment {i}" for i in range(300))
    assert described.run_id != first_run, "the ticket never continued as new"
    assert described.history_length < 300, described.history_length
    assert final.events[0].kind == "opened"  # state carried into the new run
    await handle.terminate("test done")
