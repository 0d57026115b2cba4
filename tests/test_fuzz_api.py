"""No input produces a 500, and every answer is what the OpenAPI document says (status
code, content type, body schema; errors documented as problem+json): schemathesis drives
every route against a real `tempodesk dev` (fixed seed here; `make fuzz` runs random seeds
with more examples). The suite's run fuzzes 5 examples a route: schemathesis's coverage
phase (every boundary and wrong type the schema implies, the most of its time) runs in
full whatever the number; more random examples are `make fuzz`'s."""

from __future__ import annotations

import os
import subprocess

import httpx
import pytest
import yaml

from tests.conftest import DEMO_CONFIG
from tests.devrun import BIN, DevRun

# The agent's key reaches most routes; these answer an agent 403 before reading the body,
# so each is fuzzed again with a credential that may use it.
BY_ROLE = [("td_belton_integration_demo", "^/(scim/|v1/(alerts|events|email))"),
           ("td_belton_hr_demo", "^/v1/(onboarding|offboarding)$"),
           ("td_belton_director_demo", "^/v1/quotes/[^/]+/decision$")]


def fuzz(run: DevRun, key: str, *only: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "schemathesis"), "run", f"{run.base}/openapi.json",
         "-H", f"Authorization: Bearer {key}", *only,
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
         "response_schema_conformance",
         "--max-examples", os.environ.get("TEMPODESK_FUZZ_EXAMPLES", "15"),
         *(["--seed", "20261122"] if not os.environ.get("TEMPODESK_FUZZ_RANDOM") else [])],
        capture_output=True, text=True, timeout=300)


# `make fuzz` (200 random examples a route) takes ~4 minutes here: past the suite's 240 s.
@pytest.mark.timeout(1200)
def test_no_generated_input_gets_a_server_error(tmp_path):
    run = DevRun(tmp_path / "data")
    # The fuzzer sends thousands of requests with one key: lift its rate limit (the limits
    # have their own tests), or 429s would leave routes untested.
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    for client in config["clients"]:
        client["rate_limits"] = {role: "1000000/min"
                                 for role in ("agent", "integration", "hr", "director")}
        client.setdefault("alerts", {})["new_incidents_per_minute"] = 10_000
    config["signed_link_rate"] = "1000000/min"
    (tmp_path / "tempodesk.yaml").write_text(yaml.safe_dump(config))
    run.env["TEMPODESK_CONFIG_PATH"] = str(tmp_path / "tempodesk.yaml")
    run.start()
    try:
        schema = httpx.get(f"{run.base}/openapi.json", timeout=10).json()
        operations = sum(len(methods) for methods in schema["paths"].values())
        everything = fuzz(run, "td_belton_agent_demo")
        by_role = [(key, fuzz(run, key, "--include-path-regex", pattern))
                   for key, pattern in BY_ROLE]
    finally:
        run.stop()
    assert everything.returncode == 0, everything.stdout[-4000:]
    assert f"Tested: {operations}" in everything.stdout  # every operation was exercised
    for key, done in by_role:
        assert done.returncode == 0, (key, done.stdout[-4000:])
        assert "Tested: 0" not in done.stdout and "Tested:" in done.stdout, key
