"""A post-mortem task: opened when a preventable P1/P2 closes; reminds daily once overdue."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from domain.notifications import Notice
    from domain.post_mortems import PostMortemCompletion, PostMortemStart, PostMortemView
    from domain.refusals import Refusal

REMIND_EVERY = timedelta(days=1)
MAX_REMINDERS = 5


@workflow.defn
class PostMortemWorkflow:
    @workflow.init
    def __init__(self, start: PostMortemStart) -> None:
        self.start = start
        self.state = PostMortemView(incident=start.incident, client_id=start.client_id,
                                    due_at=start.due_at)

    @workflow.run
    async def run(self, start: PostMortemStart) -> PostMortemView:
        await self._notify("post_mortem_opened", f"Post-mortem for {start.incident}: "
                           f"{start.subject}")
        wake = start.due_at
        while self.state.status != "done":
            timeout = max(wake - workflow.now(), timedelta(0))
            if self.state.reminders >= MAX_REMINDERS:
                timeout = None  # keep the task open, stop nagging
            try:
                await workflow.wait_condition(lambda: self.state.status == "done",
                                              timeout=timeout)
            except TimeoutError:
                self.state.reminders += 1
                await self._notify("post_mortem_overdue",
                                   f"Overdue post-mortem for {start.incident}")
                wake = workflow.now() + REMIND_EVERY
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    @workflow.query
    def view(self) -> PostMortemView:
        return self.state

    @workflow.update
    def complete(self, completion: PostMortemCompletion) -> PostMortemView:
        self.state.completion = completion
        self.state.status = "done"
        return self.state

    @complete.validator
    def _validate_complete(self, completion: PostMortemCompletion) -> None:
        if self.state.status == "done":
            raise ApplicationError("the post-mortem is already complete", type=Refusal.ALREADY_DONE)

    async def _notify(self, event: str, subject: str) -> None:
        notice = Notice(
            notice_id=f"{workflow.info().workflow_id}:{event}:{self.state.reminders}",
            client_id=self.start.client_id, ticket_id=self.start.incident,
            occurred_at=workflow.now(), event=event, subject=subject,
            unverified=[self.start.technical_contact],  # the client named them
            context={"due_at": self.start.due_at.isoformat()})
        await workflow.execute_activity_method(
            NotificationActivities.notify, notice, start_to_close_timeout=timedelta(minutes=5))
