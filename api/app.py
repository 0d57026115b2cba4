"""The FastAPI application. It performs no side effect itself: it starts, queries and
messages workflows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from temporalio.client import Client

import log_hygiene
from api import body_examples, problems, scim_errors
from api.auth import Authenticator
from api.limits import RequestDeadline, RequestLimits
from api.pages import PageHeaders
from api.routes import (
    alerts,
    attachments,
    brand,
    docs,
    email,
    health,
    incidents,
    offboarding,
    onboarding,
    quotes,
    reviews,
    scim,
    scim_discovery,
    service_requests,
    sla,
    survey_pages,
    surveys,
    ticket_actions,
    tickets,
)
from api.state import AppState
from domain.settings import Settings
from domain.tenants import TempodeskConfig, load_config
from temporal_client import connect

DESCRIPTION = """Service-desk processes as durable Temporal workflows.

Every route except `/healthz` needs `Authorization: Bearer <API key>`; the demo keys are
listed in docs/access.md (e.g. `td_belton_agent_demo`). Errors are RFC 9457 problem+json."""


def build_state(settings: Settings, config: TempodeskConfig, client: Client) -> AppState:
    """What every surface works with (routes, the SMTP listener): one per process."""
    return AppState.build(settings, config, client, auth=Authenticator(settings, config))


def create_app(settings: Settings | None = None, config: TempodeskConfig | None = None,
               temporal: Client | None = None) -> FastAPI:
    log_hygiene.install()
    settings = settings or Settings()
    config = config or load_config(settings.config_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.tempodesk = build_state(settings, config, temporal or await connect(settings))
        yield
        if app.state.tempodesk.files is not None:  # its connections to the store
            await app.state.tempodesk.files.close()

    # The docs pages load Swagger UI / ReDoc from the app, not a CDN (offline machines):
    # fastapi-offline serves the bundles, api/routes/docs.py the pages (no inline script).
    app = FastAPIOffline(title="Tempodesk", version="0.1.0", description=DESCRIPTION,
                         lifespan=lifespan, docs_url=None, redoc_url=None,
                         static_url=docs.STATIC_URL)
    problems.install(app)
    problems.document(app)
    body_examples.document(app)
    scim_errors.install(app)
    # The deadline runs inside the limits: it starts once the body has been read.
    app.add_middleware(RequestDeadline, seconds=settings.api_request_seconds)
    app.add_middleware(RequestLimits)
    # Outermost: every answer, refusals included, gets nosniff; every HTML one the page
    # headers (CSP, no framing, no referrer, no caching).
    app.add_middleware(PageHeaders, docs_paths=docs.DOCS_PAGES,
                       img_origins=tuple(config.msp.image_origins()))
    for module in (health, docs, incidents, service_requests, quotes, onboarding, offboarding,
                   tickets, ticket_actions, attachments, sla, surveys, email, alerts, reviews,
                   scim_discovery, scim, survey_pages):
        app.include_router(module.router)
    if config.msp.logo_file is not None:  # the MSP's logo, served only when there is one
        app.include_router(brand.router)
    return app
