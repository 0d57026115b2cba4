"""Whether a form POST comes from one of this desk's own pages: a page on another site
may not submit a form to the desk in a visitor's browser (cross-site request forgery).
Pure: the API passes the request's headers and the desk's own origins.

Browsers say where a form was submitted from in ``Origin``. The desk's pages are sent with
``Referrer-Policy: no-referrer``, and under that policy the Fetch standard has browsers send
``Origin: null`` on the pages' own form POSTs; so a ``null`` or missing ``Origin`` is judged
by ``Sec-Fetch-Site`` instead (sent by every current browser, and not settable by a page).
A request with neither comes from an old browser or a program: it is let through, since the
form is worth nothing without the signed token it carries (whoever holds that needs no
browser to use it).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# A user's own action in the browser (e.g. resubmitting the form on reload), or this site.
_OWN_FETCH_SITES = {"same-origin", "none"}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower case, without a default port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    shown_port = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{host}{shown_port}"


def form_refusal(origin: str | None, fetch_site: str | None,
                 own_origins: Iterable[str]) -> str | None:
    """None if a form POST with these headers may go ahead; else why it may not."""
    own = {origin_of(o) for o in own_origins}
    if origin is not None and origin.strip().lower() != "null":
        if origin_of(origin) in own:
            return None
        return f"the form was sent from another site ({origin[:100]})"
    if fetch_site is None:
        return None
    if fetch_site.strip().lower() in _OWN_FETCH_SITES:
        return None
    return f"the form was sent from another site (Sec-Fetch-Site: {fetch_site[:40]})"
