"""One SCIM user of one client: the resource, its version (ETag), and the onboarding and
user exit it opened, so a leaver gets one exit however often HR deactivates them.

Started by the API's SCIM create under ``directory-user:<client>:<id>`` (the id hashes the
userName, so the workflow id keeps names unique per client); runs until deleted,
continuing as new when its history grows. Every change is an update whose validator
refuses a stale version, so concurrent writers never lose each other's changes.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from domain import search_attributes as sa
    from domain.directory_user import (
        EXIT_CLAIM_SECONDS,
        ClaimResult,
        Deletion,
        DirectoryUser,
        DirectoryUserStart,
        ExitClaim,
        ExitOrder,
        Leaving,
        OnboardingOrder,
        Opened,
        Replacement,
        TicketLink,
        Withdrawal,
        Withdrawing,
        Withdrawn,
        withdrawn_note,
    )
    from domain.ids import TicketKind, directory_user_key, workflow_id
    from domain.refusals import Refusal
    from workflows.offboarding import OffboardingWorkflow
    from workflows.onboarding import OnboardingWorkflow
    from workflows.ticket import TicketWorkflow

VERSION_MISMATCH = Refusal.VERSION_MISMATCH
DELETED = Refusal.DELETED
WITHDRAW_TIMEOUT = timedelta(seconds=30)
WITHDRAW_ATTEMPTS = 5   # then the update fails (the API answers an error, as a failed read did)
TICKET_TAKEN = Refusal.TICKET_TAKEN  # the prepared number was used already: nothing opened
# The exit and the onboarding opened inside this workflow (before: claim, open and link sent
# one by one by the API, a crash between them leaving half an exit). Updates that did not
# exist before, so no committed history reaches them; the marker dates the histories that do.
TICKETS_IN_WORKFLOW = "tickets-opened-in-workflow"


@workflow.defn
class DirectoryUserWorkflow:
    @workflow.init
    def __init__(self, start: DirectoryUserStart) -> None:
        self.user = start.user
        self._opening: set[TicketKind] = set()   # orders in flight (their handler awaits)

    @workflow.run
    async def run(self, start: DirectoryUserStart) -> None:
        workflow.set_current_details(self._details())
        if start.onboarding is not None:  # a hire created with the onboarding to open
            try:
                await self._open_onboarding(start.onboarding)
            except ApplicationError as exc:  # its number was taken: the user stands
                self._replace(Replacement(resource=self.user.resource, note=(
                    f"no onboarding: it could not be opened ({exc.type}); raise it with "
                    "POST /v1/onboarding")))
        await workflow.wait_condition(
            lambda: self.user.deleted_at is not None
            or workflow.info().is_continue_as_new_suggested())
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.user.deleted_at is None:
            workflow.continue_as_new(DirectoryUserStart(user=self.user))

    @workflow.query
    def view(self) -> DirectoryUser:
        return self.user

    # ------------------------------------------------------------------ updates

    def _check(self, expected_version: int | None) -> None:
        if self.user.deleted_at is not None:
            raise ApplicationError("the user was deleted", type=DELETED)
        if expected_version is not None and expected_version != self.user.version:
            raise ApplicationError(f"the user is at version {self.user.version}, not "
                                   f"{expected_version}: read it again", type=VERSION_MISMATCH)

    @workflow.update
    def replace(self, change: Replacement) -> DirectoryUser:
        return self._replace(change)

    def _replace(self, change: Replacement) -> DirectoryUser:
        user = self.user
        renamed = (str(change.resource.get("userName", ""))
                   != str(user.resource.get("userName", "")))
        changed = change.resource != user.resource or (
            change.note is not None and change.note != user.note)
        if changed:
            user.resource = change.resource
            if change.note is not None:
                user.note = change.note
            user.version += 1
            user.modified_at = workflow.now()
        if renamed:
            name = str(change.resource.get("userName", ""))
            workflow.upsert_search_attributes(
                [sa.DIRECTORY_USER_KEY.value_set(directory_user_key(user.client_id, name))])
        workflow.set_current_details(self._details())
        return user

    @replace.validator
    def _replace_allowed(self, change: Replacement) -> None:
        self._check(change.expected_version)

    @workflow.update
    def claim_exit(self, claim: ExitClaim) -> ClaimResult:
        """Granted once per leaver (again only if a claim was never followed by a ticket
        within EXIT_CLAIM_SECONDS: the API that held it died)."""
        user = self.user
        now = workflow.now()
        fresh = (user.exit_claimed_at is not None
                 and now - user.exit_claimed_at < timedelta(seconds=EXIT_CLAIM_SECONDS))
        if user.offboarding_ticket is not None or fresh:
            return ClaimResult(granted=False, offboarding_ticket=user.offboarding_ticket)
        user.exit_claimed_at = now
        return ClaimResult(granted=True)

    @claim_exit.validator
    def _claim_allowed(self, claim: ExitClaim) -> None:
        self._check(None)

    @workflow.update
    def link_ticket(self, link: TicketLink) -> DirectoryUser:
        return self._link(link)

    def _link(self, link: TicketLink) -> DirectoryUser:
        user = self.user
        if link.kind is TicketKind.ONBOARDING:
            user.onboarding_ticket = link.ticket_id
        else:
            user.offboarding_ticket = link.ticket_id
            user.exit_claimed_at = None
        workflow.set_current_details(self._details())
        return user

    @link_ticket.validator
    def _link_allowed(self, link: TicketLink) -> None:
        self._check(None)
        if link.kind not in (TicketKind.ONBOARDING, TicketKind.OFFBOARDING):
            raise ApplicationError(f"a directory user opens onboardings and user exits, "
                                   f"not a {link.kind.value}", type=Refusal.INVALID)

    @workflow.update
    async def open_exit(self, order: ExitOrder) -> Opened:
        """The leaver's user exit, whole: claimed, started (a child workflow under its
        ticket's business key, left running when this user ends) and linked. Once per
        leaver: nothing is opened if the user has an exit, one is being opened, or an
        older API's claim is still fresh."""
        return await self._open_exit(order)

    @open_exit.validator
    def _exit_allowed(self, order: ExitOrder) -> None:
        self._check(None)
        self._own_ticket(order.start.client_id)

    @workflow.update
    async def leave(self, leaving: Leaving) -> Opened:
        """A deactivation stored and its user exit opened, in one update: a crash between
        the two cannot keep an inactive user whose exit nobody opens."""
        self._replace(leaving.replacement)
        return await self._open_exit(leaving.exit)

    @leave.validator
    def _leave_allowed(self, leaving: Leaving) -> None:
        self._check(leaving.replacement.expected_version)
        self._own_ticket(leaving.exit.start.client_id)

    async def _open_exit(self, order: ExitOrder) -> Opened:
        user = self.user
        now = workflow.now()
        claimed = (user.exit_claimed_at is not None
                   and now - user.exit_claimed_at < timedelta(seconds=EXIT_CLAIM_SECONDS))
        if (user.offboarding_ticket is not None or claimed
                or TicketKind.OFFBOARDING in self._opening):
            return Opened(opened=False, user=user)
        user.exit_claimed_at = now
        try:
            await self._open_child(OffboardingWorkflow, order.start, order.summary)
        except BaseException:
            user.exit_claimed_at = None
            raise
        return Opened(opened=True, user=self._link(TicketLink(
            kind=TicketKind.OFFBOARDING, ticket_id=order.start.ticket_id)))

    @workflow.update
    async def withdraw_hire(self, withdrawing: Withdrawing) -> Withdrawn:
        """A hire deactivated or deleted before their start: the deactivation stored and
        their onboarding cancelled (by an activity, retried until it answers) in one
        update; a deactivation keeps a note saying so. ``withdrawn`` False if the hire has
        started or the onboarding is over (the caller opens the exit instead)."""
        workflow.patched(TICKETS_IN_WORKFLOW)
        if withdrawing.replacement is not None:
            self._replace(withdrawing.replacement)
        ticket = self.user.onboarding_ticket
        if ticket is None:
            return Withdrawn(withdrawn=False, user=self.user)
        withdrawn = await workflow.execute_activity(
            "directory.withdraw_hire",
            Withdrawal(onboarding_ticket=ticket, by=withdrawing.by, asked_at=workflow.now()),
            result_type=bool, start_to_close_timeout=WITHDRAW_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=WITHDRAW_ATTEMPTS),
            summary=f"withdraw the hire: cancel onboarding {ticket}")
        if withdrawn and withdrawing.replacement is not None:
            self._replace(Replacement(resource=self.user.resource, note=withdrawn_note(ticket)))
        return Withdrawn(withdrawn=withdrawn, user=self.user)

    @withdraw_hire.validator
    def _withdraw_allowed(self, withdrawing: Withdrawing) -> None:
        replacement = withdrawing.replacement
        self._check(replacement.expected_version if replacement is not None else None)

    @workflow.update
    async def open_onboarding(self, order: OnboardingOrder) -> Opened:
        """The hire's onboarding, started as a child workflow and linked; nothing if the
        user has one (or one is being opened)."""
        return await self._open_onboarding(order)

    async def _open_onboarding(self, order: OnboardingOrder) -> Opened:
        # The same order again (the API asking for the onboarding its create started) is
        # answered once that one is open: opened, with the link.
        await workflow.wait_condition(lambda: TicketKind.ONBOARDING not in self._opening)
        if self.user.onboarding_ticket is not None:
            return Opened(opened=self.user.onboarding_ticket == order.start.ticket_id,
                          user=self.user)
        await self._open_child(OnboardingWorkflow, order.start, order.summary)
        return Opened(opened=True, user=self._link(TicketLink(
            kind=TicketKind.ONBOARDING, ticket_id=order.start.ticket_id)))

    @open_onboarding.validator
    def _onboarding_allowed(self, order: OnboardingOrder) -> None:
        self._check(None)
        self._own_ticket(order.start.client_id)

    def _own_ticket(self, client_id: str) -> None:
        if client_id != self.user.client_id:
            raise ApplicationError(f"a user of {self.user.client_id} opens tickets of that "
                                   f"client, not of {client_id}", type=Refusal.NOT_ALLOWED)

    async def _open_child(self, kind_workflow: type[TicketWorkflow], start,
                          summary: str) -> None:
        """Start a ticket's workflow under its business key: a retried task or a replay
        starts it once (the start is a command in this history)."""
        workflow.patched(TICKETS_IN_WORKFLOW)
        kind = kind_workflow.kind
        self._opening.add(kind)
        try:
            at_intake = kind_workflow.initial_state(start)
            await workflow.start_child_workflow(
                kind_workflow.run, start, id=workflow_id(kind, start.ticket_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    kind_workflow.search_attributes(at_intake)),
                static_summary=summary)
        except WorkflowAlreadyStartedError as exc:
            raise ApplicationError(f"ticket number {start.ticket_id} is taken: retry",
                                   type=TICKET_TAKEN, non_retryable=True) from exc
        finally:
            self._opening.discard(kind)

    @workflow.update
    def delete(self, deletion: Deletion) -> DirectoryUser:
        self.user.deleted_at = workflow.now()
        self.user.version += 1
        workflow.set_current_details(self._details())
        return self.user

    @delete.validator
    def _delete_allowed(self, deletion: Deletion) -> None:
        self._check(deletion.expected_version)

    def _details(self) -> str:
        """The Web UI's current details: what this user opened, or why nothing."""
        user = self.user
        lines = [f"version {user.version}",
                 f"onboarding: {user.onboarding_ticket or '-'}",
                 f"user exit: {user.offboarding_ticket or '-'}"]
        if user.note:
            lines.append(f"note: {user.note}")
        if user.deleted_at is not None:
            lines.append(f"deleted {user.deleted_at:%Y-%m-%d %H:%M} UTC")
        return "\n".join(lines)
