"""Requests per credential: a token bucket each, refilled at the configured rate.

Shared across API replicas without a database: each replica enforces its share of the
limit (``TEMPODESK_API_REPLICAS``), which a load balancer spreading requests evenly turns
into the configured total. Over the limit: 429 with ``Retry-After``.

Signed links (quote review pages, survey answers) carry no credential: they are limited
per client address instead (the config's ``signed_link_rate``), so nobody can hammer them
to guess or to load the desk.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.tenants import TempodeskConfig, parse_rate

if TYPE_CHECKING:  # api.auth uses this module's rate
    from api.auth import Principal

_BUCKETS_MAX = 100_000  # OIDC subjects are not listed in the config: bound the memory


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, config: TempodeskConfig, replicas: int = 1) -> None:
        self.config = config
        self.replicas = max(replicas, 1)
        self._buckets: OrderedDict[tuple[str, str, str], _Bucket] = OrderedDict()

    def wait_for(self, principal: Principal, now: float | None = None) -> float:
        """0 if the request may go ahead (and takes its token), else seconds to wait."""
        count, per = self.config.rate_limit(principal.role, principal.client_id)
        return self._take((principal.scope, principal.method, principal.subject), count, per,
                          now)

    def wait_for_address(self, address: str, now: float | None = None) -> float:
        """The same for a request without a credential, by its client address."""
        count, per = parse_rate(self.config.signed_link_rate)
        return self._take(("address", "", address), count, per, now)

    def _take(self, key: tuple[str, str, str], count: int, per: int,
              now: float | None) -> float:
        capacity = max(count / self.replicas, 1.0)
        rate = capacity / per
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, now)
            if len(self._buckets) > _BUCKETS_MAX:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate
