"""RFC 9457 problem+json for every error: the field at fault and how to fix it.

No input may produce a 500: validation, auth, Temporal and unexpected errors all map here.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.body_examples import body_model_of
from api.pages import TEMPLATES
from api.scim_errors import is_scim, scim_error
from desk.errors import DeskError, engine_error, field_problem, refused, unanswered
from domain.errors import FieldError, explain
from domain.shapes import shape

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(DeskError):
    """A refusal only the HTTP door makes (a credential challenge, a route's own headers):
    a :class:`DeskError` with HTTP headers."""

    def __init__(self, status: int, title: str, detail: str, *, slug: str | None = None,
                 errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None,
                 extensions: dict[str, Any] | None = None) -> None:
        super().__init__(status, title, detail, slug=slug, errors=errors,
                         extensions=extensions)
        self.headers = headers or {}


# A signed link's path is its credential: an answer (and whatever logs it) names the route.
_SIGNED_PATH = re.compile(r"^(/v1/surveys(?:/nps)?/)[^/]+$")


def headers_of(error: DeskError) -> dict[str, str]:
    headers = dict(getattr(error, "headers", {}))
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return headers


def problem_response(problem: DeskError, instance: str,
                     headers: dict[str, str] | None = None) -> Response:
    """``problem`` as problem+json (a SCIM error on SCIM's paths), with ``headers`` added."""
    instance = _SIGNED_PATH.sub(r"\1{token}", instance)
    headers = {**headers_of(problem), **(headers or {})}
    if is_scim(instance):  # SCIM clients read SCIM's error format, not RFC 9457
        return scim_error(problem.status, problem.detail, headers=headers)
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
                        headers=headers)


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


def navigating(request: Request) -> bool:
    """A browser opening an address (a link followed, one typed): it asks for HTML
    first. Programs ask for JSON or anything (``*/*``)."""
    return (request.method == "GET"
            and request.headers.get("accept", "").lstrip().startswith("text/html"))


def on_a_page(request: Request) -> bool:
    """A browser on one of the desk's pages (a route answering HTML, asked for HTML)."""
    route = request.scope.get("route")
    return (getattr(route, "response_class", None) is HTMLResponse
            and "text/html" in request.headers.get("accept", ""))


# What a person who opened an address of the API needing a key should do: they followed a
# ticket's link in a mail (the API's ticket address until the portal has a page for it,
# domain/links.py), so the words are for them, whichever address it was.
SIGN_IN_HINT = ("This address is for the service desk's tools, which sign in with a key. "
                "To add to your ticket, reply to the e-mail you received about it: the "
                "service desk answers by e-mail.")


def answer(request: Request, problem: DeskError) -> Response:
    """``problem`` as its caller reads it: a page saying it to a browser (under the MSP's
    name, with the fix), problem+json to everyone else."""
    page = on_a_page(request)
    if not (page or navigating(request)):
        return problem_response(problem, request.url.path)
    tempodesk = getattr(request.app.state, "tempodesk", None)
    msp = tempodesk.config.msp if tempodesk is not None else None
    fixes = [e["fix"] for e in problem.errors or [] if e.get("fix")]
    html = TEMPLATES.get_template("problem.html.j2").render(
        problem=problem, fixes=fixes, msp=msp, logo_src=msp.logo_src() if msp else None,
        terms=msp.terms_text() if msp else None,
        hint=SIGN_IN_HINT if problem.status == 401 and not page else None)
    return HTMLResponse(html, status_code=problem.status, headers=headers_of(problem))


def install(app: FastAPI) -> None:
    @app.exception_handler(DeskError)
    async def _problem(request: Request, exc: DeskError) -> Response:
        return answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors, malformed = validation_errors(exc, body_model(request), param_fields(request))
        status = 400 if malformed else 422
        title = "Malformed request" if malformed else "Request is not valid"
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return answer(request, Problem(status, title, detail, slug="validation", errors=errors))

    @app.exception_handler(FieldError)
    async def _field(request: Request, exc: FieldError) -> Response:
        """A rule checked in a route (not a model) that the request breaks: 422."""
        return answer(request, field_problem(422, exc.field, exc.message, exc.fix,
                                             "Request is not valid"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed"}
        detail = str(exc.detail) if exc.detail else titles.get(exc.status_code, "HTTP error")
        if exc.status_code == 404 and exc.detail == "Not Found":
            detail = f"no route {request.url.path}: see /docs for the routes"
        return answer(request, Problem(exc.status_code, titles.get(exc.status_code, "HTTP error"),
                                       detail, headers=dict(exc.headers or {})))

    @app.exception_handler(WorkflowUpdateFailedError)
    async def _update_failed(request: Request, exc: WorkflowUpdateFailedError) -> Response:
        return answer(request, refused(exc))

    @app.exception_handler(RPCError)
    async def _rpc(request: Request, exc: RPCError) -> Response:
        return answer(request, engine_error(exc))

    @app.exception_handler(RPCTimeoutOrCancelledError)
    async def _timed_out(request: Request, exc: RPCTimeoutOrCancelledError) -> Response:
        """An update or query the engine took but did not answer in time (e.g. the worker
        holding the ticket died): not done as far as the caller knows, so retry."""
        return answer(request, unanswered())

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return answer(request, Problem(500, "Internal error",
                                       "an unexpected error occurred; it has been logged"))


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
