"""RFC 9457 problem+json for every error: the field at fault and how to fix it.

No input may produce a 500: validation, auth, Temporal and unexpected errors all map here.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.body_examples import body_model_of
from api.scim_errors import is_scim, scim_error
from domain.errors import FieldError, explain
from domain.refusals import Refusal
from domain.shapes import shape
from temporal_client import aborted_update

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, *, slug: str | None = None,
                 errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None,
                 extensions: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug or title.lower().replace(" ", "-")
        self.errors = errors or []
        self.headers = headers or {}
        self.extensions = extensions or {}  # RFC 9457 extension members, e.g. earliest_start


def field_problem(status: int, field: str, message: str, fix: str, title: str,
                  where: str | None = None) -> Problem:
    error = {"field": field, "message": message, "fix": fix}
    if where is not None:
        error["in"] = where
    return Problem(status, title, f"{field}: {message}", errors=[error])


# A signed link's path is its credential: an answer (and whatever logs it) names the route.
_SIGNED_PATH = re.compile(r"^(/v1/surveys(?:/nps)?/)[^/]+$")


def problem_response(problem: Problem, instance: str) -> JSONResponse:
    instance = _SIGNED_PATH.sub(r"\1{token}", instance)
    if is_scim(instance):  # SCIM clients read SCIM's error format, not RFC 9457
        return scim_error(problem.status, problem.detail, headers=problem.headers)
    body: dict[str, Any] = {
        "type": f"urn:tempodesk:problem:{problem.slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
    }
    if problem.errors:
        body["errors"] = problem.errors
    body.update(problem.extensions)
    return JSONResponse(body, status_code=problem.status, media_type=MEDIA_TYPE,
                        headers=problem.headers)


def body_model(request: Request) -> type[BaseModel] | None:
    """The model the route validates its JSON body with (None: no such body)."""
    return body_model_of(request.scope.get("route"))


def param_fields(request: Request) -> dict[tuple[str, str], FieldInfo]:
    """The route's path, query and header parameters by (where, name): their shapes."""
    found: dict[tuple[str, str], FieldInfo] = {}

    def walk(dependant: Any) -> None:
        for where, params in (("path", dependant.path_params),
                              ("query", dependant.query_params),
                              ("header", dependant.header_params)):
            found.update({(where, p.alias): p.field_info for p in params})
        for sub in dependant.dependencies:
            walk(sub)

    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is not None:
        walk(dependant)
    return found


def validation_errors(exc: RequestValidationError, model: type[BaseModel] | None = None,
                      params: dict[tuple[str, str], FieldInfo] | None = None,
                      ) -> tuple[list[dict[str, str]], bool]:
    """The errors as {field, in, message, fix}; True if the body was not JSON at all.
    ``model``: the body's, ``params``: the other parameters', so that a missing field's
    or parameter's fix gives its shape."""
    errors: list[dict[str, str]] = []
    malformed = False
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            malformed = True
            ctx = error.get("ctx") or {}
            errors.append({"field": "(body)", "in": "body",
                           "message": f"not valid JSON: {ctx.get('error', '')}",
                           "fix": "send a JSON object with Content-Type: application/json"})
            continue
        loc = error.get("loc", ())
        e = explain(error, request=True, model=model if loc and loc[0] == "body" else None)
        fix = e.fix
        param = (params or {}).get((e.where, e.field))
        if error.get("type") == "missing" and param is not None:
            fix = f"add '{e.field}': {shape(param, e.field)}"
        errors.append({"field": e.field, "in": e.where, "message": e.message, "fix": fix})
    return errors, malformed


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors, malformed = validation_errors(exc, body_model(request), param_fields(request))
        status = 400 if malformed else 422
        title = "Malformed request" if malformed else "Request is not valid"
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(Problem(status, title, detail, slug="validation", errors=errors),
                                request.url.path)

    @app.exception_handler(FieldError)
    async def _field(request: Request, exc: FieldError) -> JSONResponse:
        """A rule checked in a route (not a model) that the request breaks: 422."""
        return problem_response(field_problem(422, exc.field, exc.message, exc.fix,
                                              "Request is not valid"), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        detail = str(exc.detail) if exc.detail else titles.get(exc.status_code, "HTTP error")
        if exc.status_code == 404 and exc.detail == "Not Found":
            detail = f"no route {request.url.path}: see /docs for the routes"
        return problem_response(
            Problem(exc.status_code, titles.get(exc.status_code, "HTTP error"), detail,
                    headers=dict(exc.headers or {})), request.url.path)

    @app.exception_handler(WorkflowUpdateFailedError)
    async def _update_failed(request: Request, exc: WorkflowUpdateFailedError) -> JSONResponse:
        return problem_response(refusal_problem(exc), request.url.path)

    @app.exception_handler(RPCError)
    async def _rpc(request: Request, exc: RPCError) -> JSONResponse:
        return problem_response(rpc_problem(exc), request.url.path)

    @app.exception_handler(RPCTimeoutOrCancelledError)
    async def _timed_out(request: Request, exc: RPCTimeoutOrCancelledError) -> JSONResponse:
        """An update or query the engine took but did not answer in time (e.g. the worker
        holding the ticket died): not done as far as the caller knows, so retry."""
        return problem_response(unanswered(), request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            Problem(500, "Internal error", "an unexpected error occurred; it has been logged"),
            request.url.path)


# A workflow's refusal (its ApplicationError's type, domain/refusals.py) -> status, title,
# slug. The one place a refusal becomes an HTTP status; a type not here (none is left in the
# workflows, tests/test_refusal_types.py) is a 409, the safe default.
CONFLICT = (409, "Transition refused", "conflict")
REFUSAL_STATUS: dict[Refusal, tuple[int, str, str]] = {
    Refusal.INVALID_TRANSITION: CONFLICT,
    Refusal.ALREADY_DONE: CONFLICT,
    Refusal.LIMIT_REACHED: CONFLICT,
    Refusal.TICKET_ENDED: CONFLICT,
    Refusal.EXPIRED: (410, "Expired", "gone"),
    Refusal.INVALID: (422, "Request is not valid", "invalid"),
    Refusal.NOT_ALLOWED: (403, "Forbidden", "forbidden"),
    Refusal.FILE_LIMIT: (413, "File refused", "file-refused"),
    Refusal.VERSION_MISMATCH: (412, "Precondition failed", "precondition-failed"),
    Refusal.DELETED: (404, "Not found", "not-found"),
    Refusal.RETRY: (503, "Try again", "try-again"),
    Refusal.TICKET_TAKEN: (503, "Try again", "try-again"),
}


def refusal_status(exc: WorkflowUpdateFailedError) -> tuple[int, str, str]:
    """The status, title and slug of a workflow's refusal, by its type."""
    try:
        refusal = Refusal(getattr(exc.cause, "type", None))
    except ValueError:  # untyped, or a type from outside the set
        return CONFLICT
    return REFUSAL_STATUS.get(refusal, CONFLICT)


def refusal_problem(exc: WorkflowUpdateFailedError) -> Problem:
    """A workflow's refusal as a problem: its message, the status its type maps to."""
    reason = str(exc.cause.message if hasattr(exc.cause, "message") else exc.cause)
    status, title, slug = refusal_status(exc)
    headers = {"Retry-After": "5"} if status == 503 else None
    return Problem(status, title, reason, slug=slug, headers=headers)


def unanswered(when: str = "in time") -> Problem:
    """503 for a ticket that did not answer (its worker down, or its task failing): not done
    as far as the caller knows, so retry."""
    return Problem(503, "Temporal unavailable", f"the ticket did not answer {when}; retry "
                   "(an Idempotency-Key or a repeated action is safe)",
                   slug="temporal-unavailable", headers={"Retry-After": "5"})


def rpc_problem(exc: RPCError) -> Problem:
    # A message to a finished workflow comes back as NOT_FOUND "... already completed".
    if "already completed" in exc.message:
        return Problem(409, "Ticket is closed", "the ticket's workflow has completed: "
                       "raise a new ticket", slug="conflict")
    if exc.status == RPCStatusCode.NOT_FOUND:
        return Problem(404, "Not found", "no such ticket")
    if exc.status == RPCStatusCode.ALREADY_EXISTS:
        return Problem(409, "Conflict", exc.message, slug="conflict")
    # The client's "transport error" (status UNKNOWN) is a server it cannot reach, e.g. one
    # whose connections a load balancer resets while it restarts: unavailable too.
    # An update aborted by a failed workflow task every time it was sent (temporal_client
    # sends it again a few times): not applied, so a retry is safe.
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                      RPCStatusCode.RESOURCE_EXHAUSTED) or aborted_update(exc) or (
            exc.status == RPCStatusCode.UNKNOWN and exc.message == "transport error"):
        return Problem(503, "Temporal unavailable", "the workflow engine did not answer; retry",
                       headers={"Retry-After": "5"})
    # Anything else: the engine's own words stay in our log, never in the answer.
    log.warning("Temporal refused a request: %s (%s)", exc.message, exc.status)
    if exc.status == RPCStatusCode.INVALID_ARGUMENT:
        return Problem(400, "Bad request", "the request could not be carried out as given: "
                       "check the parameters against /docs")
    return Problem(502, "Workflow engine error", "the workflow engine could not carry out "
                   "the request; retry, and tell the MSP if it persists")


# ------------------------------------------------------------------ OpenAPI

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem", "type": "object", "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"},
                           "fix": {"type": "string"}, "in": {"type": "string"}}}},
    },
    "additionalProperties": True,  # extension members, e.g. earliest_start
}
SCIM_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ScimError", "type": "object", "required": ["schemas", "status"],
    "properties": {"schemas": {"type": "array", "items": {"type": "string"}},
                   "status": {"type": "string"}, "detail": {"type": "string"},
                   "scimType": {"type": "string"}},
}


def document(app: FastAPI) -> None:
    """Say in the OpenAPI document what answers really look like: every operation's 4xx is
    problem+json (SCIM's are SCIM errors), not FastAPI's default application/json 422, and
    SCIM answers are application/scim+json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(
            {"Problem": PROBLEM_SCHEMA, "ScimError": SCIM_ERROR_SCHEMA})
        for path, operations in schema.get("paths", {}).items():
            scim = is_scim(path)
            media = "application/scim+json" if scim else MEDIA_TYPE
            ref = {"$ref": f"#/components/schemas/{'ScimError' if scim else 'Problem'}"}
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                if scim:  # SCIM answers in its own media type (RFC 7644 §3.1)
                    for answer in responses.values():
                        content = answer.get("content", {})
                        if "application/json" in content:
                            content[media] = content.pop("application/json")
                responses["4XX"] = {"description": "The request was refused: what is wrong "
                                    "and how to fix it",
                                    "content": {media: {"schema": ref}}}
        for unused in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
