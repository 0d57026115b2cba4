"""The API's documentation pages: /docs (Swagger UI) and /redoc (ReDoc).

They load fastapi-offline's copies of the two bundles from the app itself (no CDN: the
desk runs offline) and, unlike the pages FastAPI makes, hold no inline script: Swagger UI
is started by a small script file of ours. So they run under a Content-Security-Policy that
allows scripts from this origin only (api/pages.py, ``DOCS_POLICY``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.pages import TEMPLATES

STATIC_URL = "/static-offline-docs"   # where fastapi-offline mounts the bundles
SWAGGER_URL = "/docs"
SWAGGER_INIT_URL = "/docs/swagger-init.js"
REDOC_URL = "/redoc"
DOCS_PAGES = frozenset({SWAGGER_URL, REDOC_URL})

router = APIRouter(include_in_schema=False)


def _context(request: Request) -> dict[str, str]:
    root = request.scope.get("root_path", "")
    return {"title": request.app.title, "static": f"{root}{STATIC_URL}",
            "openapi_url": f"{root}{request.app.openapi_url}",
            "init_url": f"{root}{SWAGGER_INIT_URL}"}


@router.get(SWAGGER_URL, response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template("docs_swagger.html.j2").render(
        _context(request)))


@router.get(SWAGGER_INIT_URL)
async def swagger_ui_init() -> Response:
    return Response(TEMPLATES.get_template("swagger_init.js.j2").render(),
                    media_type="text/javascript")


@router.get(REDOC_URL, response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template("docs_redoc.html.j2").render(
        _context(request)))
