"""The generic provider: a client whose systems are not Microsoft 365 / Datto / SentinelOne
(on-premises AD, Google Workspace, a homegrown HR script) receives every provider step as
a signed webhook (Standard Webhooks) and does it itself.

The webhook-id is the step's business key (``onboarding:BEL-000003:undo:create_account``,
see domain.ids.step_key), the same on every retry and in every run of the ticket, so the
receiver can de-duplicate; its answer follows the same rules as the other providers (2xx done,
optionally ``{"detail": ...}``; 429 with Retry-After; 5xx retried; 4xx refused: an agent
takes over). ``check_mfa`` answers ``{"detail": "enrolled: <method>"}`` once the user has
a second factor.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel
from temporalio import activity

from activities import outbound, step_keys, webhooks
from activities.graph import raise_for
from domain.provider_steps import ProviderResult
from domain.settings import Settings
from domain.tenants import TempodeskConfig


def or_by_webhook(step: Callable[[Any, Any], Awaitable[ProviderResult]]):
    """A provider step a client with ``providers.webhook`` has its own script do: put it
    under ``@activity.defn`` (the owner has a ``webhook: WebhookProvider``)."""

    @functools.wraps(step)
    async def delegated(self: Any, call: Any) -> ProviderResult:
        with step_keys.acting_for(getattr(call, "step_key", None)):
            done = await self.webhook.perform(call.client_id, call)
            return done if done is not None else await step(self, call)

    return delegated


class WebhookProvider:
    def __init__(self, settings: Settings, config: TempodeskConfig,
                 http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.config = config
        self.http = http

    async def perform(self, client_id: str, call: BaseModel) -> ProviderResult | None:
        """Send this activity's step to the client's webhook, if it has one (else None:
        the built-in adapters do it)."""
        client = self.config.client(client_id)
        hook = client.providers.webhook if client else None
        if hook is None:
            return None
        info = activity.info()
        step = info.activity_type
        body = json.dumps({"type": f"provider.{step}",
                           "timestamp": datetime.now(UTC).isoformat(),
                           "data": call.model_dump(mode="json")},
                          separators=(",", ":")).encode()
        message_id = step_keys.current()
        await outbound.guard(hook.url, self.settings, f"{step} webhook")
        response = await self.http.post(
            hook.url, content=body, timeout=30,
            headers=webhooks.headers(hook.secret, message_id, int(time.time()), body))
        raise_for(response, f"{step} webhook")
        detail = ""
        if response.headers.get("content-type", "").startswith("application/json"):
            answer = response.json()
            detail = str(answer.get("detail", ""))[:300] if isinstance(answer, dict) else ""
        return ProviderResult(detail=detail or f"{step}: done by the client's webhook")
