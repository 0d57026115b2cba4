"""The app's routes as one flat list, through included routers (FastAPI >= 0.165 keeps
them as branches of effective routes): what the docs generator, the body examples and the
tests that walk the route table read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


def every_route(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from every_route(route.effective_candidates())
        else:
            yield route
