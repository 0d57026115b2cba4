"""The SCIM users of a client as their workflows hold them (workflows/directory_user.py):
the API's only way to read, start, change and list them. Temporal's refusals come back as
SCIM errors: a stale version is 412, a deleted user 404, a taken userName 409."""

from __future__ import annotations

import asyncio
import unicodedata
from typing import Any

from scim2_models import (
    NotFoundException,
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

from domain import search_attributes as sa
from domain.directory_user import DirectoryUser, DirectoryUserStart, OnboardingOrder
from domain.ids import DIRECTORY_USER_ID, directory_user_key, directory_user_workflow_id
from workflows.directory_user import DELETED, VERSION_MISMATCH, DirectoryUserWorkflow

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
