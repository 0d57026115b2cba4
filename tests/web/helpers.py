from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def incident_body(**overrides) -> dict:
    body = {
        "subject": "Whole office cannot send e-mail",
        "doing": "Sending a quote to a customer",
        "expected": "The e-mail to be delivered",
        "actual": "Bounce: 550 5.7.1 relay denied",
        "tried": "Restarted Outlook and the PC",
        "technical_contact": {"name": "Jo Tran", "email": "Jo.Tran@harbourside.example"},
        "impact": "high",
        "urgency": "high",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def eventually(probe: Callable[[], Awaitable[T] | T], check: Callable[[T], bool],
                     timeout: float = 15.0) -> T:
    """Poll ``probe`` (a coroutine function, or a plain one reading local state) until
    ``check`` holds (visibility and activities are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if check(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition never held; last value: {value!r}")
        await asyncio.sleep(0.1)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:tempodesk:problem:")
    assert body["title"] and body["detail"] and body["instance"]
    return body
