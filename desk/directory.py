"""The SCIM users of a client as their workflows hold them (workflows/directory_user.py),
and the desk's operations on them: :class:`Directory` is the only way to read, start,
change and list them; :class:`People` is one principal's directory (the permission and
the client checked once, as it is made), and :func:`create_user`, :func:`write_user`
(replace, patch, rename) and :func:`delete_user` are what an HR system's changes do - an
onboarding for a hire, an exit for a leaver, a withdrawal for a hire who never started.
The SCIM door (api/routes/scim.py) parses, calls these and answers. Refusals are SCIM
errors (scim2-models' exceptions, which the door answers as they are): a stale version
is 412, a deleted user 404, a taken userName 409."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from scim2_models import (
    ForbiddenException,
    InvalidValueException,
    NotFoundException,
    PayloadTooLargeException,
    PreconditionFailedException,
    SCIMException,
    UniquenessException,
)
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from desk.access import may
from desk.errors import DeskError
from desk.opening import exit_start, joiner_start
from desk.principal import Principal
from desk.state import Desk
from domain import search_attributes as sa
from domain.directory_user import (
    RESOURCE_MAX_BYTES,
    Deletion,
    DirectoryUser,
    DirectoryUserStart,
    ExitOrder,
    Leaving,
    OnboardingOrder,
    Opened,
    Replacement,
    Withdrawing,
    Withdrawn,
    hire_withdrawable,
    resource_size,
    withdrawn_note,
)
from domain.errors import FieldError
from domain.ids import (
    DIRECTORY_USER_ID,
    TicketKind,
    directory_user_key,
    directory_user_workflow_id,
    workflow_id,
)
from domain.onboarding import JoinerForm
from domain.roles import Action
from domain.scim import ScimUser, loaded, stored
from domain.scim_forms import contact, exit_form, foreign_user_name, joiner_form, manager_id
from domain.tenants import ClientConfig
from domain.tickets import Contact
from workflows.directory_user import DELETED, VERSION_MISMATCH, DirectoryUserWorkflow
from workflows.directory_user import DirectoryUserWorkflow as Wf
from workflows.onboarding import OnboardingWorkflow

log = logging.getLogger(__name__)

ID_SCAN_MAX = 10_000   # users listed per client (ids only; only a page is read)
READ_CONCURRENCY = 20
VISIBLE_WITHIN = 3.0   # seconds a create waits for listings to show the new user


def folded(user_name: str) -> str:
    return unicodedata.normalize("NFC", user_name).lower()


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Directory:
    def __init__(self, temporal: Client, task_queue: str) -> None:
        self.temporal = temporal
        self.task_queue = task_queue
        self._reads = asyncio.Semaphore(READ_CONCURRENCY)

    def handle(self, client_id: str, user_id: str) -> WorkflowHandle[Any, Any]:
        return self.temporal.get_workflow_handle_for(
            DirectoryUserWorkflow.run, directory_user_workflow_id(client_id, user_id))

    async def get(self, client_id: str, user_id: str) -> DirectoryUser | None:
        """The user, or None if there is none (or it was deleted)."""
        if not DIRECTORY_USER_ID.match(user_id):
            return None
        try:
            async with self._reads:
                user = await self.handle(client_id, user_id).query(DirectoryUserWorkflow.view)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return None if user.deleted_at is not None else user

    async def need(self, client_id: str, user_id: str) -> DirectoryUser:
        user = await self.get(client_id, user_id)
        if user is None:
            raise NotFoundException(detail=f"no user {user_id[:40]}")
        return user

    async def named(self, client_id: str, user_name: str) -> DirectoryUser | None:
        """The user holding ``user_name`` now: at the workflow its name makes (unless
        renamed since), or a renamed user found by the hash it publishes."""
        return (await self.holders(client_id, user_name))[1]

    async def holders(self, client_id: str, user_name: str,
                      ) -> tuple[DirectoryUser | None, DirectoryUser | None]:
        """The user at the workflow id ``user_name`` makes (whatever its name now), and
        the user holding ``user_name`` now (see :meth:`named`): a rename needs both free."""
        key = directory_user_key(client_id, user_name)
        user = await self.get(client_id, key)
        return user, await self._holding(client_id, user_name, key, user)

    async def _holding(self, client_id: str, user_name: str, key: str,
                       user: DirectoryUser | None) -> DirectoryUser | None:
        if user is not None and folded(str(user.resource.get("userName", ""))) == folded(
                user_name):
            return user
        query = (f"WorkflowType = 'DirectoryUserWorkflow' AND ExecutionStatus = 'Running' "
                 f"AND {sa.CLIENT_ID.name} = {_quote(client_id)} "
                 f"AND {sa.DIRECTORY_USER_KEY.name} = {_quote(key)}")
        async for execution in self.temporal.list_workflows(query, limit=10):
            found = await self.get(client_id, execution.id.rsplit(":", 1)[-1])
            if found is not None and folded(str(found.resource.get("userName", ""))) == folded(
                    user_name):
                return found
        return None

    async def create(self, user: DirectoryUser, user_name: str,
                     onboarding: OnboardingOrder | None = None) -> None:
        """Start the user's workflow (with the hire's onboarding, which it opens itself)."""
        try:
            await self.temporal.start_workflow(
                DirectoryUserWorkflow.run, DirectoryUserStart(user=user, onboarding=onboarding),
                id=directory_user_workflow_id(user.client_id, user.user_id),
                task_queue=self.task_queue,
                # A deleted user's name may be used again; a live one's may not.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=TypedSearchAttributes([
                    SearchAttributePair(sa.CLIENT_ID, user.client_id),
                    SearchAttributePair(sa.DIRECTORY_USER_KEY,
                                        directory_user_key(user.client_id, user_name))]),
                static_summary=f"SCIM user {user.user_id} of {user.client_id}")
        except WorkflowAlreadyStartedError as exc:
            raise UniquenessException(detail="a user with this userName exists") from exc
        await self._listed(user.client_id, user.user_id)

    async def _listed(self, client_id: str, user_id: str) -> None:
        """Wait (briefly) until visibility lists a new user: Temporal's lists lag its
        writes, and an HR system lists what it just created (read your own writes)."""
        query = (f"WorkflowId = {_quote(directory_user_workflow_id(client_id, user_id))} "
                 "AND ExecutionStatus = 'Running'")
        deadline = asyncio.get_running_loop().time() + VISIBLE_WITHIN
        while (await self.temporal.count_workflows(query)).count == 0:
            if asyncio.get_running_loop().time() > deadline:
                return  # listed later; the user exists and is served by id meanwhile
            await asyncio.sleep(0.02)

    async def update(self, client_id: str, user_id: str, update: Any, arg: Any) -> Any:
        """Send ``update`` (a DirectoryUserWorkflow update) and map its refusals."""
        try:
            return await self.handle(client_id, user_id).execute_update(update, arg)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            kind = cause.type if isinstance(cause, ApplicationError) else None
            detail = str(getattr(cause, "message", cause))
            if kind == VERSION_MISMATCH:
                raise PreconditionFailedException(detail=detail) from exc
            if kind == DELETED:
                raise NotFoundException(detail=f"no user {user_id}") from exc
            raise SCIMException(detail=detail) from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # also "already completed": deleted
                raise NotFoundException(detail=f"no user {user_id}") from exc
            raise

    async def ids(self, client_id: str) -> list[str]:
        """The ids of the client's users, in a stable order (for startIndex paging)."""
        query = (f"WorkflowType = 'DirectoryUserWorkflow' AND ExecutionStatus = 'Running' "
                 f"AND {sa.CLIENT_ID.name} = {_quote(client_id)}")
        found = {execution.id.rsplit(":", 1)[-1] async for execution in
                 self.temporal.list_workflows(query, limit=ID_SCAN_MAX, page_size=1000)}
        return sorted(found)

    async def read(self, client_id: str, user_ids: list[str]) -> list[DirectoryUser]:
        users = await asyncio.gather(*(self.get(client_id, i) for i in user_ids))
        return [u for u in users if u is not None]


# ---------------------------------------------------------------- the desk's operations


class People:
    """One principal's SCIM directory: its client's users, their resources' locations
    under ``base`` (the service provider's base URL). Made only for a principal whose role
    syncs people (403 otherwise) with a client's key (an MSP key names no directory)."""

    def __init__(self, desk: Desk, principal: Principal, base: str) -> None:
        may(principal, Action.PEOPLE_SYNC)
        if principal.client_id is None:  # staff keys are never 'integration'; still, say so
            raise ForbiddenException(detail="a client's integration key syncs its people")
        self.desk = desk
        self.principal = principal
        self.base = base
        self.client: ClientConfig = desk.client_config(principal.client_id)
        self.directory = Directory(desk.temporal, desk.settings.task_queue)

    def location(self, user_id: str) -> str:
        return f"{self.base}/Users/{user_id}"

    def resource(self, user: DirectoryUser) -> ScimUser:
        return loaded(user, self.location(user.user_id))

    async def manager(self, resource: ScimUser) -> Contact | None:
        boss = manager_id(resource)
        user = await self.directory.get(self.client.id, boss) if boss else None
        return contact(self.resource(user)) if user else None


def _own_person(c: People, resource: ScimUser) -> None:
    """An HR system syncs its own client's people: a userName in another client's domain
    (created, or renamed into) is 400 invalidValue, RFC 7644's status for a value the
    server cannot take (SCIM has no 422), before anything is stored."""
    if refusal := foreign_user_name(resource, c.client):
        raise InvalidValueException(detail=refusal)


def _bounded(resource: ScimUser) -> dict[str, Any]:
    keep = stored(resource)
    if resource_size(keep) > RESOURCE_MAX_BYTES:
        raise PayloadTooLargeException(detail=f"a user is at most {RESOURCE_MAX_BYTES} bytes "
                                       "of JSON")
    return keep


# ---------------------------------------------------------------- writing


async def create_user(c: People, resource: ScimUser) -> DirectoryUser:
    """A new user, from a parsed SCIM resource: their workflow started (with the hire's
    onboarding when they make a New User form, else the note says why there is none)."""
    _own_person(c, resource)
    keep = _bounded(resource)
    name = str(resource.user_name)
    if await c.directory.named(c.client.id, name) is not None:  # e.g. a user renamed to it
        raise UniquenessException(detail="a user with this userName exists")
    now = datetime.now(UTC)
    form, note = joiner_form(resource, c.client, await c.manager(resource), now)
    user = DirectoryUser(client_id=c.client.id, user_id=directory_user_key(c.client.id, name),
                         resource=keep, created_at=now, modified_at=now, note=note)
    order, refusal = await _onboarding_order(c, form)  # in the input: the workflow opens it
    try:
        await c.directory.create(user, name, onboarding=order)
    except UniquenessException:
        if order is not None:  # no workflow started: the number was not used
            c.desk.numbers.give_back(order.start.ticket_id)
        raise
    if order is not None and form is not None:
        user = await _onboard(c, user, form, keep, order)
    elif refusal:  # planned once and refused: the note says why (no second attempt)
        user = await c.directory.update(c.client.id, user.user_id, Wf.replace,
                                        Replacement(resource=keep, note=refusal))
    return user


async def _onboarding_order(c: People, form: JoinerForm | None,
                            ) -> tuple[OnboardingOrder | None, str]:
    """The hire's onboarding, planned and numbered for their workflow to open; or None
    and the note saying why there is none ("" when there is no form)."""
    if form is None:
        return None, ""
    try:
        start, summary = await joiner_start(c.desk, c.client, form, c.principal.actor)
    except Exception as exc:
        return None, _not_opened(exc)
    return OnboardingOrder(start=start, summary=summary), ""


def _not_opened(exc: Exception) -> str:
    """The note for an onboarding that could not be opened. A refusal (too little notice,
    another client's people) is the desk's answer, said in the note; anything else is
    logged with its traceback."""
    if isinstance(exc, DeskError):
        reason = exc.detail[:300]
    elif isinstance(exc, FieldError):
        reason = f"{exc.field}: {exc.message}"[:300]
    else:
        log.exception("SCIM: an onboarding could not be opened")
        reason = f"it could not be opened ({type(exc).__name__})"
    return f"no onboarding: {reason}; raise it with POST /v1/onboarding"


async def _onboard(c: People, user: DirectoryUser, form: JoinerForm, keep: dict[str, Any],
                   order: OnboardingOrder | None = None) -> DirectoryUser:
    """Open the hire's onboarding and link it to the user (or note why it could not be):
    one update, the user's workflow starts the onboarding and links it (for a create, it
    started it already from its input: the update answers once it is linked)."""
    try:
        if order is None:
            start, summary = await joiner_start(c.desk, c.client, form, c.principal.actor)
            order = OnboardingOrder(start=start, summary=summary)
        opened: Opened = await c.directory.update(c.client.id, user.user_id,
                                                  Wf.open_onboarding, order)
    except Exception as exc:  # the user stands; the note tells HR and the desk
        return await c.directory.update(c.client.id, user.user_id, Wf.replace, Replacement(
            resource=keep, note=_not_opened(exc)))
    return opened.user


def _leaving(current: DirectoryUser, active: bool | None, deleting: bool = False) -> bool:
    """A deactivation or deletion of someone who had access: not of a user created
    inactive and never activated (a hire that did not start), unless an earlier attempt
    to open the exit was cut short (its claim is still held)."""
    had_access = current.resource.get("active") is not False
    return (deleting or active is False) and (had_access or current.exit_claimed_at is not None)


def _arriving(current: DirectoryUser, active: bool | None) -> bool:
    """An activation of a user who was inactive (created so, or deactivated)."""
    return active is True and current.resource.get("active") is False


async def _withdraw_hire(c: People, user: DirectoryUser) -> str | None:
    """A hire deactivated or deleted before their first day has no access to lose, only an
    account being set up for nobody: their onboarding is cancelled (what was done is undone,
    newest first) instead of an exit opened. The note to keep; None if the hire has
    started, their onboarding is finished, or there is none (then the exit is opened)."""
    if not await _withdrawable(c, user):
        return None
    assert user.onboarding_ticket is not None
    result: Withdrawn = await c.directory.update(c.client.id, user.user_id, Wf.withdraw_hire,
                                                 Withdrawing(by=c.principal.actor))
    return withdrawn_note(user.onboarding_ticket) if result.withdrawn else None


async def _withdrawable(c: People, user: DirectoryUser) -> bool:
    """Whether the user is a hire who has not started, their onboarding still open (the
    workflow's activity checks again as it cancels)."""
    if user.onboarding_ticket is None:
        return False
    handle = c.desk.temporal.get_workflow_handle(
        workflow_id(TicketKind.ONBOARDING, user.onboarding_ticket))
    view = await handle.query(OnboardingWorkflow.view)
    return hire_withdrawable(view, datetime.now(UTC))


async def _exit(c: People, user: DirectoryUser, resource: ScimUser) -> tuple[DirectoryUser, str]:
    """Open the user's exit unless one is open (or being opened): once per leaver. The
    note says why none could be. A hire who has not started is withdrawn instead."""
    if user.offboarding_ticket is not None:
        return user, ""
    withdrawn = await _withdraw_hire(c, user)
    if withdrawn is not None:
        return user, withdrawn
    order, note = await _exit_order(c, resource)
    if order is None:
        return user, note
    # One update: the user's workflow claims, starts and links the exit durably (a crash
    # part-way is finished by the workflow, not left as a claim without a ticket).
    opened = await _send_exit(c, user.user_id, Wf.open_exit, order, order)
    return (opened.user if opened.opened else user), ""


async def _send_exit(c: People, user_id: str, update: Any, arg: Any,
                     order: ExitOrder) -> Opened:
    """Send an update carrying ``order``; its number goes back to the pool if the workflow
    did not use it (refused, or an exit open already), never if the outcome is unknown."""
    try:
        opened: Opened = await c.directory.update(c.client.id, user_id, update, arg)
    except (PreconditionFailedException, NotFoundException):
        c.desk.numbers.give_back(order.start.ticket_id)  # refused by a validator
        raise
    if not opened.opened:
        c.desk.numbers.give_back(order.start.ticket_id)
    return opened


async def _exit_order(c: People, resource: ScimUser) -> tuple[ExitOrder | None, str]:
    """The leaver's exit, checked and numbered for their workflow to open; or the note
    saying why there is none."""
    today = datetime.now(ZoneInfo(c.client.sla.calendar.timezone)).date()
    form, note = exit_form(resource, c.client, await c.manager(resource), today)
    if form is None:
        return None, note
    start, summary = await exit_start(c.desk, c.client, form, c.principal.actor)
    return ExitOrder(start=start, summary=summary), ""


async def write_user(c: People, current: DirectoryUser, resource: ScimUser,
                 expected: int | None) -> DirectoryUser:
    """Store a new state of the user (a replacement, a patch, a rename): a deactivation
    opens its exit (once), a hire's before their start withdraws them, an activation of a
    pre-hire opens their onboarding. ``expected``: the version the write is for (412 if
    another came first)."""
    _own_person(c, resource)
    keep = _bounded(resource)
    name = str(resource.user_name)
    if folded(name) != folded(str(current.resource.get("userName", ""))):
        # A rename: the name must be free, and so must the workflow id it would make.
        for other in await c.directory.holders(c.client.id, name):
            if other is not None and other.user_id != current.user_id:
                raise UniquenessException(detail="another user has this userName")
    replacement = Replacement(resource=keep, expected_version=expected)
    leaving = _leaving(current, resource.active)
    note = ""
    if leaving and current.offboarding_ticket is None and await _withdrawable(c, current):
        # A hire who has not started: the deactivation stored and the onboarding cancelled
        # (and noted) by one update; if it finished meanwhile, the exit is opened below.
        withdrawal: Withdrawn = await c.directory.update(
            c.client.id, current.user_id, Wf.withdraw_hire,
            Withdrawing(replacement=replacement, by=c.principal.actor))
        if withdrawal.withdrawn:
            return withdrawal.user
        user, note = await _exit(c, withdrawal.user, resource)
        if note and note != user.note:
            user = await c.directory.update(c.client.id, user.user_id, Wf.replace,
                                            Replacement(resource=keep, note=note))
        return user
    if leaving and current.offboarding_ticket is None:
        # A leaver: the deactivation is stored and the exit opened by one update, so a
        # crash cannot keep an inactive user whose exit no later request would open.
        order, note = await _exit_order(c, resource)
        if order is not None:
            opened = await _send_exit(c, current.user_id, Wf.leave,
                                      Leaving(replacement=replacement, exit=order), order)
            return opened.user
        leaving = False  # no exit to open (the note says why)
    user = await c.directory.update(c.client.id, current.user_id, Wf.replace, replacement)
    if leaving:
        user, note = await _exit(c, user, resource)
    elif _arriving(current, resource.active) and user.onboarding_ticket is None:
        # A pre-hire created inactive (Okta's and Workday's staged users) is activated:
        # now they are a new hire, with the start date they were sent with.
        form, note = joiner_form(resource, c.client, await c.manager(resource),
                                 datetime.now(UTC))
        if form is not None:
            return await _onboard(c, user, form, keep)
    if note and note != user.note:
        user = await c.directory.update(c.client.id, user.user_id, Wf.replace,
                                        Replacement(resource=keep, note=note))
    return user




async def delete_user(c: People, current: DirectoryUser, expected: int | None) -> None:
    """Delete the user: their exit opened first unless one is open (a hire before the
    start: their onboarding cancelled instead)."""
    if _leaving(current, None, deleting=True):
        await _exit(c, current, c.resource(current))
    await c.directory.update(c.client.id, current.user_id, Wf.delete,
                             Deletion(expected_version=expected))
