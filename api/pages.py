"""Pages: what every HTML response of the API carries, whatever route made it.

Some pages carry a credential in their URL (a quote's review page holds the director's
signed link), so each HTML response is sent with headers that keep it from being framed
(clickjacking), cached, leaked in a Referer, or made to run script it did not bring:

* ``Content-Security-Policy``: no script but files this origin serves (pinned assets, no
  inline script), no plugin, no base URL, forms only to this origin, no framing
  (``frame-ancestors 'none'``); images from this origin, or the MSP's logo host when its
  logo is a URL (``msp.logo_url``, :func:`page_policy`). The API docs (Swagger UI, ReDoc)
  run the app's own copies of their bundles, so their policy allows scripts from this
  origin (:data:`DOCS_POLICY`).
* ``X-Frame-Options: DENY`` (browsers without ``frame-ancestors``),
  ``Referrer-Policy: no-referrer``, ``Cache-Control: no-store``.

Every response, HTML or not, carries ``X-Content-Type-Options: nosniff``: a JSON answer
holding caller text is never sniffed into a script or a page.

One ASGI middleware (:class:`PageHeaders`) sets them on the response's first message, so a
page added later (a portal, an agent console) gets them without asking.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import MutableHeaders

Scope = dict[str, Any]

# Every page's templates (api/templates), escaped: one environment for the app.
TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(enabled_extensions=("html", "j2")))
TEMPLATES.filters["money"] = lambda value: f"{Decimal(value):,.2f}"
TEMPLATES.filters["number"] = lambda value: f"{Decimal(value).normalize():f}"
TEMPLATES.filters["capitalize_first"] = lambda text: str(text)[:1].upper() + str(text)[1:]

# Scripts only as files of this origin: a file a requester uploads is never one (it is
# served as a download, nosniff, sandboxed), and no inline script runs.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' "
               "'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
               "frame-ancestors 'none'; base-uri 'none'")
# Swagger UI and ReDoc: their bundles from this origin, fetches of /openapi.json and "try it
# out" to this origin, inline styles (both set style attributes), ReDoc's search worker.
DOCS_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
               "worker-src 'self' blob:; form-action 'self'; frame-ancestors 'none'; "
               "base-uri 'none'")


def page_policy(img_origins: tuple[str, ...] = ()) -> str:
    """:data:`PAGE_POLICY`, with images also from ``img_origins`` (the MSP's logo host, if
    its logo is a URL: ``msp.logo_url``); nothing else is widened."""
    if not img_origins:
        return PAGE_POLICY
    return PAGE_POLICY.replace("img-src 'self' data:",
                               "img-src 'self' data: " + " ".join(img_origins))


def page_headers(policy: str) -> dict[str, str]:
    """The headers of an HTML response under ``policy``."""
    return {"Content-Security-Policy": policy, "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class PageHeaders:
    """ASGI middleware: nosniff on every response; the page headers on every HTML one.
    ``docs_paths``: the pages served under :data:`DOCS_POLICY`."""

    def __init__(self, app, docs_paths: frozenset[str] = frozenset(),
                 img_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.docs_paths = docs_paths
        self.page_policy = page_policy(img_origins)

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "") in self.docs_paths

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if headers.get("content-type", "").lower().startswith("text/html"):
                    policy = DOCS_POLICY if docs else self.page_policy
                    for name, value in page_headers(policy).items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
