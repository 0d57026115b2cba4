"""The business key of the provider step an activity is carrying out (domain.ids.step_key),
for every request it makes: the generic provider's ``webhook-id`` and Graph's
``client-request-id``. It comes in the activity's input (``call.step_key``), built by the
workflow from the ticket, the step, the saga's pass and the item, so it is the same on
every retry and in every run of the ticket - never Temporal's per-run activity id.

A context variable, set by :func:`activities.signed_webhook.or_by_webhook` around each
step, so the adapters' many calls need not pass it along; each activity runs in its own
asyncio task, so one step never sees another's key.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from temporalio import activity

_current: ContextVar[str | None] = ContextVar("tempodesk_step_key", default=None)


@contextlib.contextmanager
def acting_for(key: str | None) -> Iterator[None]:
    """Run a step under its key; a call from a run that predates step keys (its input has
    none) keeps that run's own ``workflow id:activity id``, as before."""
    if not key:
        info = activity.info()
        key = f"{info.workflow_id}:{info.activity_id}"
    token = _current.set(key)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> str:
    """The running step's key. Only a step under :func:`acting_for` (``or_by_webhook``)
    has one: a provider call outside it is a mistake, never a per-run id in disguise."""
    key = _current.get()
    if key is None:
        raise RuntimeError("a provider call outside a provider step: put the activity "
                           "under @or_by_webhook, which sets its step key")
    return key
