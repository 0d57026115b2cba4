"""Post-mortem tasks: the overdue-reminder timeout branch, on the time-skipping server."""

from __future__ import annotations

from datetime import timedelta

from domain.post_mortems import PostMortemCompletion, PostMortemStart
from tests.workflows.support import incident_worker
from workflows.post_mortem import MAX_REMINDERS, PostMortemWorkflow


async def test_reminds_daily_when_overdue_then_completes(ts_env, config, task_queue):
    now = await ts_env.get_current_time()
    due = now + timedelta(days=7)
    start = PostMortemStart(incident="BEL-000007", client_id="belton", subject="Outage",
                            technical_contact="it@harbourside.example", due_at=due)
    async with incident_worker(ts_env.client, config, task_queue):
        handle = await ts_env.client.start_workflow(
            PostMortemWorkflow.run, start, id="postmortem:BEL-000007", task_queue=task_queue)
        await ts_env.sleep(timedelta(days=6, hours=23))
        assert (await handle.query(PostMortemWorkflow.view)).reminders == 0
        await ts_env.sleep(timedelta(hours=2))  # due passed: first reminder
        assert (await handle.query(PostMortemWorkflow.view)).reminders == 1
        await ts_env.sleep(timedelta(days=10))  # daily reminders, capped
        assert (await handle.query(PostMortemWorkflow.view)).reminders == MAX_REMINDERS
        await handle.execute_update(PostMortemWorkflow.complete, PostMortemCompletion(
            root_cause="expired certificate", actions="monitor expiry", by="it"))
        result = await handle.result()
    assert result.status == "done" and result.completion.root_cause == "expired certificate"
