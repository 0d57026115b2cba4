"""A demo config whose Belton P1 runs on seconds, for tests that watch real SLA timers on
the dev server: response 8 s and resolution 16 s (24x7), a three-rung ladder 0 s / 3 s / 6 s
after the breach, and notices retried at least every second while a peer is down."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import DEMO_CONFIG

RUNGS = [("Service Desk Team Lead", 0), ("Senior IT Operations Manager", 3),
         ("IT Operations Director", 6)]


def fast_config_dict(response: str = "8s", resolution: str = "16s", tag: str = "") -> dict:
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    for client in raw["clients"]:
        client["id"] += tag.lower() and f"-{tag.lower()}"
        client["ticket_prefix"] += tag.upper()
        if client["ticket_prefix"].startswith("BEL"):
            client["sla"]["targets"] = {"P1": {"response": f"{response} 24x7",
                                               "resolution": f"{resolution} 24x7"}}
            client["sla"]["ladder"] = [
                {"role": role, "contact": f"rung{i}@belton.example", "after": f"{s}s"}
                for i, (role, s) in enumerate(RUNGS)]
            client["incidents"] = {"notice_retry_max": "1s"}
    raw["rate_limits"] = {"requester": "5000/s", "agent": "5000/s"}  # tests fire fast
    for key in raw.get("staff", []):
        if key.get("clients"):
            key["clients"] = [c + (tag.lower() and f"-{tag.lower()}") for c in key["clients"]]
    return raw


def write_fast_config(path: Path, **kwargs) -> Path:
    path.write_text(yaml.safe_dump(fast_config_dict(**kwargs)))
    return path
