"""A day of idempotency keys at every credential's rate limit stays far below Temporal's
limits: the keys of a client spread over 4,096 shards, each remembering 24 hours."""

from __future__ import annotations

import math
import secrets
from collections import Counter

from domain.idempotency import FINGERPRINT_HEX, KEY_HEX, REMEMBER_SECONDS, SHARD_HEX, ShardState
from domain.ids import idempotency_workflow_id
from domain.tenants import load_config
from tests.conftest import DEMO_CONFIG

PAYLOAD_LIMIT = 2 * 1024 * 1024  # Temporal refuses larger payloads
HISTORY_EVENTS_WARN = 10_240     # Temporal warns at this many events in one run


def test_a_day_of_keys_at_the_rate_limit_stays_far_below_temporals_limits():
    config = load_config(DEMO_CONFIG)
    worst = 0
    for client in config.clients:
        keys = [(k.role, client.id) for k in client.api_keys] + [
            (k.role, None) for k in config.staff if k.clients is None or client.id in k.clients]
        per_day = sum(count * REMEMBER_SECONDS / per
                      for count, per in (config.rate_limit(role, owner) for role, owner in keys))
        worst = max(worst, per_day)
    shards = 16 ** SHARD_HEX
    # Hashes spread evenly: the fullest shard holds the mean plus a generous 6 sigma.
    mean = worst / shards
    fullest = math.ceil(mean + 6 * math.sqrt(mean))
    state = ShardState(entries={
        secrets.token_hex(KEY_HEX // 2): (10**8 + i, secrets.token_hex(FINGERPRINT_HEX // 2),
                                          1_800_000_000)
        for i in range(fullest)})
    size = len(state.model_dump_json())
    print(f"\n{worst:,.0f} keys a day at the rate limits -> fullest shard {fullest:,} keys, "
          f"{size:,} bytes of state")
    assert size < PAYLOAD_LIMIT / 10
    # Each claim adds an update's few events: continue-as-new keeps a run far below the
    # warning, and a day of claims on the fullest shard is a handful of runs.
    assert fullest * 5 < HISTORY_EVENTS_WARN * 10


def test_keys_spread_over_the_shards():
    prefix = "BEL"
    counts = Counter(idempotency_workflow_id(prefix, secrets.token_hex(16))
                     for _ in range(40_000))
    assert len(counts) > 4000 and max(counts.values()) < 40
