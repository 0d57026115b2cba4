"""The provider clients every provider activity shares, built once per worker.

One ``Graph`` means one token cache: a client tenant's sign-in is fetched once and reused
by the joiner and leaver steps alike (two instances fetched two tokens per tenant and kept
two caches). The worker builds the bundle (``ProviderClients.build``) and hands it to
``ProviderActivities`` and ``OnboardingActivities``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from activities.graph import Datto, Graph, SentinelOne
from activities.signed_webhook import WebhookProvider
from domain.settings import Settings
from domain.tenants import TempodeskConfig


@dataclass(frozen=True)
class ProviderClients:
    graph: Graph
    datto: Datto
    edr: SentinelOne
    webhook: WebhookProvider

    @classmethod
    def build(cls, settings: Settings, config: TempodeskConfig,
              http: httpx.AsyncClient) -> ProviderClients:
        return cls(graph=Graph(settings, config, http), datto=Datto(settings, http),
                   edr=SentinelOne(settings, http),
                   webhook=WebhookProvider(settings, config, http))
