"""An example of every JSON request body, shown in the OpenAPI document (each operation's
request body lists them: Swagger UI at /docs offers them in its "Examples" menu) and in
docs/api.md. Each example is a body its model accepts (tests/web/test_dead_ends.py
validates them, and fails on a JSON-body route without one).

The bodies of ticket actions (domain/request_bodies.py) carry their examples with them;
the forms and foreign formats have theirs here, beside the routes' code, so that the models
stay as their modules define them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from api.route_table import every_route
from domain.alerts import AlertmanagerWebhook, EventIn
from domain.incidents import IncidentReport
from domain.nps import NpsAnswer
from domain.offboarding import ExitForm
from domain.onboarding import JoinerForm
from domain.quote_lines import QuoteDraft
from domain.service_requests import RequestForm
from domain.sla.preview import PreviewRequest
from domain.tickets import CsatAnswer

JO = {"name": "Jo Tran", "email": "jo.tran@harbourside.example"}
MIA = {"name": "Mia Chen", "email": "mia.chen@harbourside.example"}

# model -> {example name: (summary, body)}
EXAMPLES: dict[type[BaseModel], dict[str, tuple[str, dict[str, Any]]]] = {
    IncidentReport: {
        "matrix": ("Impact and urgency", {
            "subject": "Whole office cannot send e-mail", "doing": "Sending a quote",
            "expected": "Delivered", "actual": "550 relay denied",
            "tried": "Restarted Outlook", "technical_contact": JO,
            "impact": "high", "urgency": "high"}),
        "severity": ("Severity criteria instead", {
            "subject": "File server unreachable", "doing": "Opening a matter file",
            "expected": "The file opens", "actual": "Network path not found",
            "tried": "Rebooted the PC", "technical_contact": JO,
            "severity": {"users_affected_pct": 40, "work_stoppage": "significant"}}),
        "phone": ("An agent logs a call for a client (MSP staff name the client)", {
            "client_id": "belton", "subject": "Printer jams on every page",
            "doing": "Printing", "expected": "Pages print", "actual": "Jams",
            "tried": "Cleared the tray", "technical_contact": JO, "channel": "phone",
            "impact": "low", "urgency": "medium"}),
    },
    RequestForm: {
        "basic": ("Basic: add, change or remove (5 business days)", {
            "subject": "New starter needs access to the Matters share", "type": "basic",
            "change": "add", "requester": JO}),
        "advisory": ("Advisory: a mini consult", {
            "subject": "Should we move the file server to SharePoint?", "type": "advisory",
            "advisory_tier": "mini_consult", "requester": MIA,
            "description": "About 400 GB, 35 users"}),
    },
    QuoteDraft: {
        "laptops": ("Three laptops, installed", {
            "client_id": "belton", "title": "Three laptops for the new associates",
            "lines": [{"description": "Laptop, 16 GB, 3-year warranty", "quantity": "3",
                       "unit_price": "1800.00"},
                      {"description": "Set-up and install", "quantity": "3",
                       "unit_price": "150.00"}],
            "currency": "AUD", "install_days": 10}),
    },
    JoinerForm: {
        "office": ("A new user in the office", {
            "employee": {"name": "Sam Lee", "email": "sam.lee@gmail.example",
                         "phone": "+61 400 000 000"},
            "user_principal_name": "sam.lee@harbourside.example", "title": "Associate",
            "department": "Litigation", "manager": MIA, "start_date": "2027-02-01",
            "role_template": "lawyer", "hardware": [{"hostname": "BEL-LT-042"}]}),
    },
    ExitForm: {
        "planned": ("A planned exit, a laptop to hand back", {
            "employee": JO, "user_principal_name": "jo.tran@harbourside.example",
            "manager": MIA, "last_working_day": "2027-01-29",
            "hardware": [{"serial": "PF3X9K2L", "kind": "laptop",
                          "managed_device_id": "6a1f0c1e-2b1d-4c8e-9f5a-0d3b7e2c9a41"}]}),
        "immediate": ("Immediate: access revoked now", {
            "employee": JO, "user_principal_name": "jo.tran@harbourside.example",
            "last_working_day": "2026-12-07", "immediate": True,
            "reason": "Involuntary exit"}),
    },
    PreviewRequest: {
        "p2": ("A P2 opened late on a Friday", {
            "policy": "belton", "priority": "P2", "opened_at": "2026-11-20T16:30:00+11:00"}),
    },
    CsatAnswer: {"happy": ("A score and a comment", {"score": 5, "comment": "Quick, thanks"})},
    NpsAnswer: {"promoter": ("A score and a comment",
                             {"score": 9, "comment": "Reliable, and they explain things"})},
    AlertmanagerWebhook: {
        "firing": ("One alert firing", {
            "version": "4", "status": "firing", "receiver": "tempodesk",
            "groupKey": "{}:{alertname=\"DiskFull\"}",
            "alerts": [{"status": "firing", "fingerprint": "c2f1a9e0b4d3",
                        "labels": {"alertname": "DiskFull", "severity": "critical",
                                   "instance": "fs01"},
                        "annotations": {"summary": "fs01: / is 98% full"},
                        "startsAt": "2026-12-07T09:00:00+11:00"}]}),
    },
    EventIn: {
        "trigger": ("Trigger", {
            "event_action": "trigger", "dedup_key": "fs01-backup",
            "payload": {"summary": "Backup of fs01 failed", "source": "fs01",
                        "severity": "error"}}),
        "resolve": ("Resolve", {"event_action": "resolve", "dedup_key": "fs01-backup"}),
    },
}


_CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_ONBOARDING = "urn:tempodesk:params:scim:schemas:extension:onboarding:2.0:User"
_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_HIRE = {"schemas": [_CORE, _ENTERPRISE, _ONBOARDING], "userName": "sam.lee@harbourside.example",
         "active": True, "name": {"givenName": "Sam", "familyName": "Lee"},
         "displayName": "Sam Lee", "title": "Associate",
         "emails": [{"value": "sam.lee@harbourside.example", "type": "work", "primary": True}],
         _ENTERPRISE: {"department": "Litigation"},
         _ONBOARDING: {"startDate": "2027-02-01"}}
# Bodies the app reads itself (SCIM's own format, mail, files): what to send, by route,
# for docs/api.md; SCIM's are also declared in /openapi.json (the others are there already,
# as files and raw mail).
RAW_BODIES: dict[str, tuple[str, Any]] = {
    "POST /scim/v2/Users": ("a SCIM 2.0 User (RFC 7643), `application/scim+json`; with a "
                            "start date it opens an onboarding", _HIRE),
    "PUT /scim/v2/Users/{user_id}": ("the whole SCIM User; `\"active\": false` opens the "
                                     "user exit", {**_HIRE, "active": False}),
    "PATCH /scim/v2/Users/{user_id}": ("a SCIM PatchOp (Okta's or Entra's dialect)",
                                       {"schemas": [_PATCH], "Operations": [
                                           {"op": "replace", "value": {"active": False}}]}),
    "POST /scim/v2/Users/.search": ("a SCIM SearchRequest", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "sam.lee@harbourside.example"', "count": 10}),
    "POST /scim/v2/.search": ("a SCIM SearchRequest", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "sam.lee@harbourside.example"'}),
    "POST /v1/email/inbound": ("the raw message, `message/rfc822` (up to 10 MiB)",
                               "From: Jo Tran <jo.tran@harbourside.example>\n"
                               "To: support@msp.example\nSubject: Printer offline\n\n"
                               "The printer on level 3 is offline again.\n"),
    "POST /v1/tickets/{ticket_id}/attachments": (
        "one file: `multipart/form-data` with the part `file`, or the raw bytes as "
        "`application/octet-stream` named by `?name=`",
        "curl -F file=@screenshot.png .../v1/tickets/BEL-000123/attachments"),
    "POST /v1/attachments": (
        "one file, as for a ticket's attachments; name the answer's `upload` in the new "
        "ticket's `uploads`", "curl -F file=@screenshot.png .../v1/attachments"),
    "POST /v1/quotes/{quote_id}/review": (
        "the approval page's form, `application/x-www-form-urlencoded`: `token`, "
        "`decision` (approve or decline) and `reason`", "token=...&decision=approve"),
}


def examples_for(model: type[BaseModel]) -> dict[str, tuple[str, dict[str, Any]]]:
    """``model``'s examples by name: from this module, or those its body carries."""
    if model in EXAMPLES:
        return EXAMPLES[model]
    carried = getattr(model, "examples", None) or []
    return {f"example{n + 1}": (_gist(body), body) for n, body in enumerate(carried)}


def _gist(body: dict[str, Any]) -> str:
    """A summary of a small example: its values, short."""
    text = ", ".join(f"{k}: {v}" for k, v in body.items())
    return (text[:77] + "...") if len(text) > 80 else (text or "no fields: {}")


def api_routes(routes: Any) -> Iterator[Any]:
    """The app's API routes (each with its path, methods and body_field)."""
    return (route for route in every_route(routes) if hasattr(route, "body_field"))


def body_model_of(route: Any) -> type[BaseModel] | None:
    field = getattr(route, "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) \
        else None


def document(app: FastAPI) -> None:
    """Put each route's body examples in the OpenAPI document (its request body's media
    type ``examples``). Runs after problems.document's wrapper, on the same document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for route in api_routes(app.routes):
            model = body_model_of(route)
            if model is None:
                continue
            examples = examples_for(model)
            for method in getattr(route, "methods", ()):
                operation = schema["paths"].get(route.path, {}).get(method.lower(), {})
                media = operation.get("requestBody", {}).get("content", {}).get(
                    "application/json")
                if media is not None and examples:
                    media["examples"] = {name: {"summary": summary, "value": body}
                                         for name, (summary, body) in examples.items()}
        for key, (what, example) in RAW_BODIES.items():
            method, path = key.split(" ", 1)
            operation = schema["paths"].get(path, {}).get(method.lower())
            if operation is not None and path.startswith("/scim/"):
                # SCIM routes read their body themselves (SCIM's own format and errors).
                operation["requestBody"] = {"required": True, "description": what, "content": {
                    "application/scim+json": {"schema": {"type": "object"},
                                              "examples": {"example": {"value": example}}}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
