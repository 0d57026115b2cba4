"""SCIM 2.0 Users at /scim/v2/Users for HR systems (role 'integration'): a create opens an
onboarding, a deactivation (PATCH or PUT active=false, in Okta's and Entra's dialects) or a
DELETE opens one immediate user exit. Each user is a workflow
(workflows/directory_user.py). What a write does is the desk's (desk/directory.py:
create_user, write_user for a replace, patch or rename, delete_user); this module parses
SCIM's HTTP (the body, filters, If-Match), reads, calls and answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from scim2_models import (
    Context,
    InvalidSyntaxException,
    ListResponse,
    PatchOp,
    PreconditionFailedException,
    ResponseParameters,
    ScimFilter,
    SearchRequest,
    TooManyException,
)
from scim2_models.path import CompareOperator, Comparison

from api.auth import require
from api.scim_http import base_url, scim_json
from api.state import AppState, app_state
from desk import directory as people
from desk.directory import People, write_user
from desk.principal import Principal
from domain.directory_user import DirectoryUser
from domain.roles import Action
from domain.scim import (
    DEFAULT_COUNT,
    MAX_RESULTS,
    POLICY,
    PREFIX,
    ScimUser,
    check_body_size,
    check_sizes,
    patch_with_manager_refs,
    validated,
    versions,
    with_manager_refs,
)
from domain.tenants import ClientConfig

router = APIRouter(prefix=PREFIX, tags=["scim"])
PATCH_ATTEMPTS = 3   # read, patch, write at that version; again if another write came first
T = TypeVar("T")
# The intake of a hire's onboarding and a leaver's exit, which SCIM's changes open.
_SEARCH_PARAMS = ("filter", "startIndex", "count", "attributes", "excludedAttributes",
                  "sortBy", "sortOrder")


class Call:
    """One SCIM request: the caller's directory (desk/directory.py :class:`People`, which
    the writes go through) and what only HTTP knows (the body, If-Match, the answer)."""

    def __init__(self, request: Request, principal: Principal, state: AppState) -> None:
        self.request = request
        self.people = People(state, principal, base_url(request))
        self.client: ClientConfig = self.people.client
        self.directory = self.people.directory

    def location(self, user_id: str) -> str:
        return self.people.location(user_id)

    def resource(self, user: DirectoryUser) -> ScimUser:
        return self.people.resource(user)

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


def call(request: Request, principal: Principal = require(Action.PEOPLE_SYNC),
         state: AppState = Depends(app_state)) -> Call:
    return Call(request, principal, state)


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
    user = await people.create_user(c.people, resource)
    return c.answer(user, 201)


@router.put("/Users/{user_id}", summary="SCIM: replace a user (active=false opens the user "
            "exit)")
async def replace_user(user_id: str, c: Call = Depends(call)) -> Response:
    current = await c.directory.need(c.client.id, user_id)
    expected = c.expected(current)
    payload = with_manager_refs(await c.body(), c.location)
    resource = await c.parsed(ScimUser, payload, Context.RESOURCE_REPLACEMENT_REQUEST)
    resource.replace(c.resource(current))  # read-only kept, immutable checked
    return c.answer(await write_user(c.people, current, resource, expected))


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
            return c.answer(await write_user(c.people, current, resource, current.version))
        except PreconditionFailedException:
            if pinned is not None or attempt == PATCH_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@router.delete("/Users/{user_id}", status_code=204, summary="SCIM: delete a user (opens the "
               "user exit unless one is open; a hire before the start: onboarding cancelled)")
async def delete_user(user_id: str, c: Call = Depends(call)) -> Response:
    current = await c.directory.need(c.client.id, user_id)
    expected = c.expected(current)
    await people.delete_user(c.people, current, expected)
    return Response(status_code=204)
