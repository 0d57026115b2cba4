"""The three seed contracts (SPEC.md's preset table), in config form so that a client's
overrides deep-merge into them before validation."""

from __future__ import annotations

import copy
from typing import Any

from domain.sla.policy import SlaPolicy

# Unmarked durations are business time (SPEC.md).
PRESETS: dict[str, dict[str, Any]] = {
    "belton": {
        "calendar": {
            "timezone": "Australia/Melbourne",
            "hours": {"mon-fri": "08:30-17:30"},
            "holidays": {"country": "AU", "subdivision": "VIC"},
        },
        "targets": {
            "P1": {"response": "15m 24x7", "resolution": "4h 24x7"},
            "P2": {"response": "1h", "resolution": "1bd"},
            "P3": {"response": "4h", "resolution": "3bd"},
            "P4": {"response": "1bd"},  # resolution: best effort
        },
    },
    "betterworld": {
        "calendar": {
            "timezone": "America/New_York",
            "hours": {"mon-fri": "09:00-17:00"},
            "holidays": {"country": "US", "subdivision": "NY"},
        },
        "targets": {
            "P1": {"response": "1h 24x7", "resolution": "24h 24x7 from first response"},
            "P2": {"response": "2h 24x7", "resolution": "36h 24x7 from first response"},
            "P3": {"response": "6h", "resolution": "5bd from first response"},
            "P4": {"response": "8h", "resolution": "7bd from first response"},
        },
    },
    "plexacet": {
        "calendar": {
            "timezone": "Australia/Sydney",
            "hours": {"mon-fri": "09:00-17:00"},
            "holidays": {"country": "AU", "subdivision": "NSW"},
        },
        "targets": {  # Plexacet states resolution targets only.
            "P1": {"resolution": "12h"},
            "P2": {"resolution": "1bd"},
            "P3": {"resolution": "3bd"},
            "P4": {"resolution": "5bd"},
        },
    },
}


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` wins; nested mappings merge key by key; ``None`` removes a key."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def policy_from_preset(preset: str, overrides: dict[str, Any] | None = None,
                       name: str | None = None) -> SlaPolicy:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(sorted(PRESETS))}")
    raw = deep_merge(PRESETS[preset], overrides or {})
    return SlaPolicy.model_validate({"name": name or preset, **raw})
