"""Long-lived tickets: history stays bounded by continue-as-new and no message is lost.

The dev server here suggests continue-as-new after 60 history events (conftest)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from domain.sla import Priority
from domain.tickets import COMMENT_SUMMARIES_KEPT, COMMENTS_KEPT, CommentIn
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

        final = await eventually(view, lambda v: v.comments_total == 300, timeout=60)
        described = await handle.describe()
    # Bounded state: the newest 10 whole, 200 summarised, none lost in between or twice.
    kept = [c.body for c in final.comments] + [c.excerpt for c in final.older_comments]
    assert (len(final.comments), len(final.older_comments)) == (COMMENTS_KEPT,
                                                                COMMENT_SUMMARIES_KEPT)
    assert len(set(kept)) == len(kept) and set(kept) <= {f"comment {i}" for i in range(300)}
    assert described.run_id != first_run, "the ticket never continued as new"
    assert described.history_length < 300, described.history_length
    assert final.events[0].kind == "opened"  # state carried into the new run
    await handle.terminate("test done")
