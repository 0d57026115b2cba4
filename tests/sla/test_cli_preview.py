"""`tempodesk sla preview` is a contract other tools use: run the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO_CONFIG

TEMPODESK = str(Path(sys.executable).parent / "tempodesk")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([TEMPODESK, "sla", "preview", "--config", str(DEMO_CONFIG), *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_flags_print_one_json_object():
    done = run("--policy", "belton", "--priority", "P3", "--opened-at",
               "2026-11-23T09:00:00+11:00",
               "--pause", "2026-11-23T10:00:00+11:00/2026-11-23T11:30:00+11:00")
    assert done.returncode == 0, done.stderr
    # 4 h business from 09:00 plus the 1.5 h pause -> 14:30; 3 BD = 27 h + 1.5 h -> Thu 10:30.
    assert json.loads(done.stdout) == {
        "policy": "belton", "priority": "P3", "timezone": "Australia/Melbourne",
        "response_due": "2026-11-23T14:30:00+11:00",
        "resolution_due": "2026-11-26T10:30:00+11:00"}


def test_client_id_names_the_clients_own_policy():
    """The demo client 'belton' closes on 24 Dec (extra_closed); the preset does not.
    P2 resolution 1 BD = 9 h from Wed 23 Dec 2026 16:30, Melbourne:
    - preset: 1 h on the 23rd, 8 h on Thu 24th -> 2026-12-24 16:30;
    - client: 1 h on the 23rd; 24th closed; 25th Christmas, 26th Boxing Day, 27th Sunday,
      28th Boxing Day (observed); 8 h on Tue 29th -> 2026-12-29 16:30."""
    opened = ["--priority", "P2", "--opened-at", "2026-12-23T16:30:00+11:00"]
    preset = subprocess.run([TEMPODESK, "sla", "preview", "--config", "/nonexistent.yaml",
                             "--policy", "belton", *opened], capture_output=True, text=True)
    client = run("--policy", "belton", *opened)
    assert json.loads(preset.stdout)["resolution_due"] == "2026-12-24T16:30:00+11:00"
    assert json.loads(client.stdout)["resolution_due"] == "2026-12-29T16:30:00+11:00"


def test_jsonl_one_line_per_input_in_order_with_errors_inline():
    lines = [
        {"policy": "plexacet", "priority": "P1", "opened_at": "2026-11-20T16:30:00+11:00"},
        {"policy": "nope", "priority": "P1", "opened_at": "2026-11-20T16:30:00+11:00"},
        {"policy": "betterworld", "priority": "P4", "opened_at": "2026-11-20T16:30:00-05:00",
         "first_response_at": "2026-11-23T10:00:00-05:00"},
        {"policy": "belton", "priority": "P1", "opened_at": "2026-11-20T16:30:00"},
    ]
    done = run("--jsonl", stdin="\n".join(json.dumps(x) for x in lines) + "\n")
    results = [json.loads(x) for x in done.stdout.splitlines()]
    assert done.returncode == 1  # some lines failed
    assert results[0]["resolution_due"] == "2026-11-24T12:30:00+11:00"
    assert results[1] == {"line": 2, "error": "no policy 'nope': use a preset (belton, "
                          f"betterworld, plexacet) or a client id from {DEMO_CONFIG}"}
    assert results[2]["resolution_due"] == "2026-12-03T10:00:00-05:00"
    assert results[3]["line"] == 4 and "opened_at" in results[3]["error"]


def test_missing_flags_exit_2():
    done = run("--policy", "belton")
    assert done.returncode == 2 and "--priority" in done.stderr
