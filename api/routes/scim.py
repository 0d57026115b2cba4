"""SCIM 2.0 Users at /scim/v2/Users for HR systems (role 'integration'): a create opens an
onboarding, a deactivation (PATCH or PUT active=false, in Okta's and Entra's dialects) or a
DELETE opens one immediate user exit. Each user is a workflow
(workflows/directory_user.py); this module starts, queries and messages them."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from scim2_models import (
    Context,
    ForbiddenException,
    InvalidSyntaxException,
    InvalidValueException,
    ListResponse,
    NotFoundException,
    PatchOp,
    PayloadTooLargeException,
    PreconditionFailedException,
    ResponseParameters,
    ScimFilter,
    SearchRequest,
    TooManyException,
    UniquenessException,
)
from scim2_models.path import CompareOperator, Comparison

from api.auth import require
from api.routes.scim_discovery import base_url, scim_json
from api.state import AppState, app_state
from desk.directory import Directory, folded
from desk.opening import exit_start, joiner_start
from desk.principal import Principal
from domain.directory_user import (
    RESOURCE_MAX_BYTES,
    Deletion,
    DirectoryUser,
    ExitOrder,
    Leaving,
    OnboardingOrder,
    Opened,
    Replacement,
    Withdrawing,
    Withdrawn,
    resource_size,
    withdrawn_note,
)
from domain.ids import TicketKind, directory_user_key, workflow_id
from domain.onboarding import JoinerForm
from domain.roles import Action
from domain.scim import (
    DEFAULT_COUNT,
    MAX_RESULTS,
    POLICY,
    PREFIX,
    ScimUser,
    check_body_size,
    check_sizes,
    loaded,
    patch_with_manager_refs,
    stored,
    validated,
    versions,
    with_manager_refs,
)
from domain.scim_forms import contact, exit_form, foreign_user_name, joiner_form, manager_id
from domain.tenants import ClientConfig
from domain.tickets import DONE, Contact
from workflows.directory_user import DirectoryUserWorkflow as Wf
from workflows.onboarding import OnboardingWorkflow

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX, tags=["scim"])
PATCH_ATTEMPTS = 3   # read, patch, write at that version; again if another write came first
T = TypeVar("T")
_SEARCH_PARAMS = ("filter", "startIndex", "count", "attributes", "excludedAttributes",
                  "sortBy", "sortOrder")


class Call:
    """One SCIM request: the caller's client, its directory and where its users live."""

    def __init__(self, request: Request, principal: Principal, state: AppState) -> None:
        if principal.client_id is None:  # staff keys are never 'integration'; still, say so
            raise ForbiddenException(detail="a client's integration key syncs its people")
        self.request = request
        self.principal = principal
        self.state = state
        self.client: ClientConfig = state.client_config(principal.client_id)
        self.directory = Directory(state.temporal, state.settings.task_queue)

    def location(self, user_id: str) -> str:
        return f"{base_url(self.request)}/Users/{user_id}"

    def resource(self, user: DirectoryUser) -> ScimUser:
        return loaded(user, self.location(user.user_id))

    async def body(self) -> Any:
        raw = await self.request.body()
        check_body_size(raw)
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise InvalidSyntaxException(detail="the body is not JSON") from exc

    async def parsed(self, model: type[T], payload: Any, context: Context) -> T:
        """``payload`` read as ``model`` (see domain.scim.validated), off the event loop:
        scim2-models parses filters and paths in pure Python, in time growing with their
        length, so sizes are refused first and the parse runs in a thread."""
        check_sizes(payload)
        return await asyncio.to_thread(validated, model, payload, context)

    def expected(self, user: DirectoryUser) -> int | None:
        """The version If-Match asks for (412 at once if it is not the current one)."""
        header = self.request.headers.get("if-match")
        if header is None:
            return None
        accepted = versions(header)
        if accepted is not None and user.version not in accepted:
            raise PreconditionFailedException(detail=f"If-Match {header[:80]}: the user is at "
                                              f"{user.etag}")
        return user.version

    def answer(self, user: DirectoryUser, status: int = 200,
               parameters: ResponseParameters[Any] | None = None) -> Response:
        context = Context.RESOURCE_CREATION_RESPONSE if status == 201 else \
            Context.RESOURCE_QUERY_RESPONSE
        body = self.resource(user).model_dump(scim_ctx=context, response_parameters=parameters)
        location = self.location(user.user_id)
        return scim_json(body, status, {"ETag": user.etag, "Location": location})

    async def manager(self, resource: ScimUser) -> Contact | None:
        boss = manager_id(resource)
        user = await self.directory.get(self.client.id, boss) if boss else None
        return contact(self.resource(user)) if user else None


def call(request: Request, principal: Principal = require(Action.PEOPLE_SYNC),
         state: AppState = Depends(app_state)) -> Call:
    return Call(request, principal, state)


def _own_person(c: Call, resource: ScimUser) -> None:
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


# ---------------------------------------------------------------- reading


def _user_name_eq(scim_filter: ScimFilter[Any]) -> str | None:
    """The name of a plain `userName eq "..."` filter (read at the user's workflow)."""
    node = scim_filter.ast
    if (isinstance(node, Comparison) and node.op is CompareOperator.eq
            and node.attr_path.attr.lower() == "username" and node.attr_path.sub_attr is None
            and node.attr_path.uri in (None, str(ScimUser.__schema__))
            and isinstance(node.value, str)):
        return node.value
    return None


def _matching(c: Call, scim_filter: ScimFilter[Any],
              users: list[DirectoryUser]) -> list[DirectoryUser]:
    """The users ``scim_filter`` matches (CPU work in time growing with the filter: run
    off the event loop)."""
    return [u for u in users if scim_filter.match(c.resource(u))]


async def _search(c: Call, search: SearchRequest[Any]) -> Response:
    start = max(search.start_index or 1, 1)
    count = max(0, min(DEFAULT_COUNT if search.count is None else search.count, MAX_RESULTS))
    if search.filter is None:
        ids = await c.directory.ids(c.client.id)
        total = len(ids)
        users = await c.directory.read(c.client.id, ids[start - 1:start - 1 + count])
    else:
        name = _user_name_eq(search.filter)
        if name is not None:
            found = await c.directory.named(c.client.id, name)
            candidates = [found] if found else []
        else:
            ids = await c.directory.ids(c.client.id)
            if len(ids) > MAX_RESULTS:
                raise TooManyException(detail=f"this directory has {len(ids)} users: a filter "
                                       f"reads at most {MAX_RESULTS}; filter on userName eq")
            candidates = await c.directory.read(c.client.id, ids)
        matched = await asyncio.to_thread(_matching, c, search.filter, candidates)
        total = len(matched)
        users = matched[start - 1:start - 1 + count]
    return scim_json(await asyncio.to_thread(_listing, c, search, users, total, start))


def _listing(c: Call, search: SearchRequest[Any], users: list[DirectoryUser], total: int,
             start: int) -> dict[str, Any]:
    """A page of users as SCIM JSON: up to 200 users of up to 16 KiB each take a while
    to serialise, so this too runs off the event loop."""
    listing = ListResponse[ScimUser](total_results=total, start_index=start,
                                     items_per_page=len(users),
                                     resources=[c.resource(u) for u in users])
    return listing.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=search)


@router.get("/Users", summary="SCIM: list or filter users (startIndex, count, filter, "
            "attributes)")
async def list_users(c: Call = Depends(call)) -> Response:
    query = c.request.query_params
    search = await c.parsed(SearchRequest[ScimUser],
                            {k: query[k] for k in _SEARCH_PARAMS if k in query},
                            Context.SEARCH_REQUEST)
    return await _search(c, search)


@router.post("/Users/.search", summary="SCIM: search users with a SearchRequest body")
@router.post("/.search", summary="SCIM: search (users are the only resource type)")
async def search_users(c: Call = Depends(call)) -> Response:
    search = await c.parsed(SearchRequest[ScimUser], await c.body(), Context.SEARCH_REQUEST)
    return await _search(c, search)


@router.get("/Users/{user_id}", summary="SCIM: one user (ETag; If-None-Match answers 304)")
async def get_user(user_id: str, c: Call = Depends(call)) -> Response:
    user = await c.directory.need(c.client.id, user_id)
    if_none_match = c.request.headers.get("if-none-match")
    if if_none_match is not None and (accepted := versions(if_none_match)) is not None \
            and user.version in accepted:
        return Response(status_code=304, headers={"ETag": user.etag})
    query = c.request.query_params
    parameters = await c.parsed(ResponseParameters[ScimUser],
                                {k: query[k] for k in ("attributes", "excludedAttributes")
                                 if k in query}, Context.RESOURCE_QUERY_REQUEST)
    return c.answer(user, parameters=parameters)


# ---------------------------------------------------------------- writing


@router.post("/Users", status_code=201, summary="SCIM: create a user; opens an onboarding "
             "when the user makes a New User form (else the reason is kept)")
async def create_user(c: Call = Depends(call)) -> Response:
    payload = with_manager_refs(await c.body(), c.location)
    resource = await c.parsed(ScimUser, payload, Context.RESOURCE_CREATION_REQUEST)
    _own_person(c, resource)
    keep = _bounded(resource)
    name = str(resource.user_name)
    if await c.directory.named(c.client.id, name) is not None:  # e.g. a user renamed to it
        raise UniquenessException(detail="a user with this userName exists")
    now = datetime.now(UTC)
    form, note = joiner_form(resource, c.client, await c.manager(resource), now)
    user = DirectoryUser(client_id=c.client.id, user_id=directory_user_key(c.client.id, name),
                         resource=keep, created_at=now, modified_at=now, note=note)
    order = await _onboarding_order(c, form)  # in the input: the workflow opens it
    try:
        await c.directory.create(user, name, onboarding=order)
    except UniquenessException:
        if order is not None:  # no workflow started: the number was not used
            c.state.numbers.give_back(order.start.ticket_id)
        raise
    if form is not None:
        user = await _onboard(c, user, form, keep, order)
    return c.answer(user, 201)


async def _onboarding_order(c: Call, form: JoinerForm | None) -> OnboardingOrder | None:
    """The hire's onboarding, planned and numbered for their workflow to open; None if
    there is none, or it cannot be planned (then :func:`_onboard` notes why)."""
    if form is None:
        return None
    try:
        start, summary = await joiner_start(c.state, c.client, form, c.principal.actor)
    except Exception:
        return None
    return OnboardingOrder(start=start, summary=summary)


async def _onboard(c: Call, user: DirectoryUser, form: JoinerForm, keep: dict[str, Any],
                   order: OnboardingOrder | None = None) -> DirectoryUser:
    """Open the hire's onboarding and link it to the user (or note why it could not be):
    one update, the user's workflow starts the onboarding and links it (for a create, it
    started it already from its input: the update answers once it is linked)."""
    try:
        if order is None:
            start, summary = await joiner_start(c.state, c.client, form, c.principal.actor)
            order = OnboardingOrder(start=start, summary=summary)
        opened: Opened = await c.directory.update(c.client.id, user.user_id,
                                                  Wf.open_onboarding, order)
    except Exception as exc:  # the user stands; the note tells HR and the desk
        log.exception("SCIM user %s: the onboarding could not be opened", user.user_id)
        return await c.directory.update(c.client.id, user.user_id, Wf.replace, Replacement(
            resource=keep, note=f"no onboarding: it could not be opened ({type(exc).__name__})"
            "; raise it with POST /v1/onboarding"))
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


async def _withdraw_hire(c: Call, user: DirectoryUser) -> str | None:
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


async def _withdrawable(c: Call, user: DirectoryUser) -> bool:
    """Whether the user is a hire who has not started, their onboarding still open (the
    workflow's activity checks again as it cancels)."""
    if user.onboarding_ticket is None:
        return False
    handle = c.state.temporal.get_workflow_handle(
        workflow_id(TicketKind.ONBOARDING, user.onboarding_ticket))
    view = await handle.query(OnboardingWorkflow.view)
    return not (view.starts_at <= datetime.now(UTC) or view.status in DONE)


async def _exit(c: Call, user: DirectoryUser, resource: ScimUser) -> tuple[DirectoryUser, str]:
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


async def _send_exit(c: Call, user_id: str, update: Any, arg: Any,
                     order: ExitOrder) -> Opened:
    """Send an update carrying ``order``; its number goes back to the pool if the workflow
    did not use it (refused, or an exit open already), never if the outcome is unknown."""
    try:
        opened: Opened = await c.directory.update(c.client.id, user_id, update, arg)
    except (PreconditionFailedException, NotFoundException):
        c.state.numbers.give_back(order.start.ticket_id)  # refused by a validator
        raise
    if not opened.opened:
        c.state.numbers.give_back(order.start.ticket_id)
    return opened


async def _exit_order(c: Call, resource: ScimUser) -> tuple[ExitOrder | None, str]:
    """The leaver's exit, checked and numbered for their workflow to open; or the note
    saying why there is none."""
    today = datetime.now(ZoneInfo(c.client.sla.calendar.timezone)).date()
    form, note = exit_form(resource, c.client, await c.manager(resource), today)
    if form is None:
        return None, note
    start, summary = await exit_start(c.state, c.client, form, c.principal.actor)
    return ExitOrder(start=start, summary=summary), ""


async def _write(c: Call, current: DirectoryUser, resource: ScimUser,
                 expected: int | None) -> DirectoryUser:
    """Store a new state of the user; a deactivation opens its exit (once)."""
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


@router.put("/Users/{user_id}", summary="SCIM: replace a user (active=false opens the user "
            "exit)")
async def replace_user(user_id: str, c: Call = Depends(call)) -> Response:
    current = await c.directory.need(c.client.id, user_id)
    expected = c.expected(current)
    payload = with_manager_refs(await c.body(), c.location)
    resource = await c.parsed(ScimUser, payload, Context.RESOURCE_REPLACEMENT_REQUEST)
    resource.replace(c.resource(current))  # read-only kept, immutable checked
    return c.answer(await _write(c, current, resource, expected))


@router.patch("/Users/{user_id}", summary="SCIM: patch a user (Okta's and Entra's dialects; "
              "active=false opens the user exit)")
async def patch_user(user_id: str, c: Call = Depends(call)) -> Response:
    body = patch_with_manager_refs(await c.body(), c.location)
    patch = await c.parsed(PatchOp[ScimUser], body, Context.RESOURCE_PATCH_REQUEST)
    for attempt in range(PATCH_ATTEMPTS):
        current = await c.directory.need(c.client.id, user_id)
        pinned = c.expected(current)
        resource = c.resource(current)
        patch.patch(resource, scim_policy=POLICY)
        try:
            return c.answer(await _write(c, current, resource, current.version))
        except PreconditionFailedException:
            if pinned is not None or attempt == PATCH_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@router.delete("/Users/{user_id}", status_code=204, summary="SCIM: delete a user (opens the "
               "user exit unless one is open; a hire before the start: onboarding cancelled)")
async def delete_user(user_id: str, c: Call = Depends(call)) -> Response:
    current = await c.directory.need(c.client.id, user_id)
    expected = c.expected(current)
    if _leaving(current, None, deleting=True):
        await _exit(c, current, c.resource(current))
    await c.directory.update(c.client.id, user_id, Wf.delete,
                             Deletion(expected_version=expected))
    return Response(status_code=204)
