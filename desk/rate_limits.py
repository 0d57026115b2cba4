"""Requests per credential: a token bucket each, refilled at the configured rate.

Shared across API replicas without a database: each replica enforces its share of the
limit (``TEMPODESK_API_REPLICAS``), which a load balancer spreading requests evenly turns
into the configured total. Over the limit: 429 with ``Retry-After``.

Signed links (quote review pages, survey answers) carry no credential: they are limited
per client address instead (the config's ``signed_link_rate``), so nobody can hammer them
to guess or to load the desk.

Work, not only requests: one webhook may carry 100 alerts, each able to open a P1 incident
and mail the desk. Each integration key also has a budget of *new incidents* a minute
(:meth:`RateLimiter.take_new_incident`), spent per alert that opens one, given back by an
alert that turned out to be a repeat.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from desk.principal import Principal
from domain.rates import parse_rate
from domain.tenants import TempodeskConfig

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
        return self.wait_for_key("address", address, self.config.signed_link_rate, now)

    def wait_for_key(self, scope: str, key: str, rate: str,
                     now: float | None = None) -> float:
        """The same for anything else counted at ``rate`` (e.g. ``"10/min"``): ``key``'s
        bucket within ``scope`` (the SMTP listener's connecting addresses, senders)."""
        count, per = parse_rate(rate)
        return self._take((scope, "", key), count, per, now)

    # ------------------------------------------------------------ new incidents

    def take_new_incident(self, principal: Principal, per_minute: int,
                          now: float | None = None) -> float:
        """0 if ``principal`` may open one more incident now (and takes it from its
        budget of ``per_minute``), else the seconds until it may."""
        return self._take(_new_incidents(principal), per_minute, 60, now)

    def charge_new_incident(self, principal: Principal, per_minute: int,
                            now: float | None = None) -> None:
        """An incident opened without a token (forecast as a repeat, it was not): spent
        all the same, into debt if need be, so the budget holds over time."""
        self._take(_new_incidents(principal), per_minute, 60, now, force=True)

    def new_incident_wait(self, principal: Principal, per_minute: int,
                          now: float | None = None) -> float:
        """Seconds until ``principal`` may open another incident (nothing taken)."""
        bucket, rate = self._refilled(_new_incidents(principal), per_minute, 60, now)
        return max(0.0, (1 - bucket.tokens) / rate)

    def give_back_new_incident(self, principal: Principal, per_minute: int) -> None:
        """A token taken for an alert that opened nothing (a repeat, a refusal)."""
        bucket = self._buckets.get(_new_incidents(principal))
        if bucket is not None:
            bucket.tokens = min(self._capacity(per_minute), bucket.tokens + 1)

    # ------------------------------------------------------------ buckets

    def _capacity(self, count: int) -> float:
        return max(count / self.replicas, 1.0)

    def _take(self, key: tuple[str, str, str], count: int, per: int,
              now: float | None, force: bool = False) -> float:
        bucket, rate = self._refilled(key, count, per, now)
        if bucket.tokens >= 1 or force:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate

    def _refilled(self, key: tuple[str, str, str], count: int, per: int,
                  now: float | None) -> tuple[_Bucket, float]:
        """The bucket of ``key``, refilled up to now, and its rate (tokens a second)."""
        capacity = self._capacity(count)
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
        return bucket, rate


def _new_incidents(principal: Principal) -> tuple[str, str, str]:
    return (f"new-incidents:{principal.method}", principal.scope, principal.subject)
