"""The clients-and-contracts file: bad files fail with the file, the path and the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from domain.tenants import ConfigError, hash_api_key, load_config
from tests.conftest import DEMO_CONFIG

GOOD_CLIENT = f"""\
clients:
  - id: acme
    name: Acme
    ticket_prefix: ACM
    sla: {{preset: belton}}
    api_keys:
      - {{id: acme-agent, role: agent, sha256: {hash_api_key("k1")}}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tempodesk.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems


def test_demo_config_has_three_clients_on_the_three_presets():
    config = load_config(DEMO_CONFIG)
    assert [(c.id, c.sla.calendar.timezone) for c in config.clients] == [
        ("belton", "Australia/Melbourne"), ("betterworld", "America/New_York"),
        ("plexacet", "Australia/Sydney")]
    assert all({k.role.value for k in c.api_keys} == {"requester", "hr", "director", "agent",
                                                      "admin", "integration"}
               for c in config.clients)


def test_override_merges_into_preset(tmp_path):
    config = load_config(write(tmp_path, GOOD_CLIENT.replace(
        "sla: {preset: belton}",
        "sla: {preset: belton, targets: {P2: {resolution: 8h}}, warnings: [80]}")))
    policy = config.clients[0].sla
    assert policy.targets["P2"].resolution.duration == "8h"
    assert policy.targets["P2"].response.duration == "1h"  # untouched preset value
    assert policy.warnings == (80,)


@pytest.mark.parametrize(("sla", "path", "fragment"), [
    ("{preset: beltn}", "clients[0]",
     "sla.preset 'beltn' is unknown: choose one of belton, betterworld, plexacet"),
    ("{preset: belton, calendar: {timezone: Mars/Olympus}}", "clients[0].sla.calendar.timezone",
     "unknown time zone 'Mars/Olympus': use an IANA name"),
    ("{preset: belton, calendar: {hours: {mon-fri: '17:30-08:30'}}}",
     "clients[0].sla.calendar.hours", "'17:30-08:30' ends before it starts"),
    ("{preset: belton, targets: {P1: {response: '15 minutes'}}}",
     "clients[0].sla.targets.P1.response", "'15 minutes' is not a target: write e.g. '4h 24x7'"),
    ("{preset: belton, calendar: {holidays: {country: XX}}}",
     "clients[0].sla.calendar.holidays", "unknown country 'XX'"),
])
def test_each_problem_names_its_path_and_fix(tmp_path, sla, path, fragment):
    problems = problems_of(tmp_path, GOOD_CLIENT.replace("sla: {preset: belton}", f"sla: {sla}"))
    assert any(p.startswith(path + ":") and fragment in p for p in problems), problems


def test_bad_prefix_names_the_pattern(tmp_path):
    problems = problems_of(tmp_path, GOOD_CLIENT.replace("ticket_prefix: ACM", "ticket_prefix: a"))
    assert problems == ["clients[0].ticket_prefix: String should match pattern "
                        "'^[A-Z][A-Z0-9]{1,7}$'"]


def test_plain_key_instead_of_hash_is_refused_with_the_fix(tmp_path):
    problems = problems_of(tmp_path, GOOD_CLIENT.replace(hash_api_key("k1"), "td_secret"))
    assert problems == ["clients[0].api_keys[0].sha256: not a SHA-256: store 64 hex characters "
                        "from `tempodesk config hash-key KEY`, never the key itself"]


def test_duplicate_prefix_and_key_reuse(tmp_path):
    second = GOOD_CLIENT.split("clients:\n", 1)[1].replace("id: acme", "id: acme2").replace(
        "acme-agent", "acme2-agent")
    problems = problems_of(tmp_path, GOOD_CLIENT + second)
    assert problems == ["(top level): two clients have ticket_prefix 'ACM': each must be unique"]


def test_yaml_syntax_error_gives_line(tmp_path):
    problems = problems_of(tmp_path, "clients:\n  - id: [unclosed\n")
    assert problems[0].startswith("line 3, column 1: not valid YAML")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "no such file" in info.value.problems[0]


def test_cli_config_check(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["config", "check", str(DEMO_CONFIG)])
    assert ok.exit_code == 0 and "3 clients" in ok.output
    bad = runner.invoke(app, ["config", "check", str(write(tmp_path, GOOD_CLIENT.replace(
        "role: agent", "role: janitor")))])
    assert bad.exit_code == 2
    assert "clients[0].api_keys[0].role" in bad.output and "'requester'" in bad.output


@pytest.mark.parametrize("value", ["0", "1001", "eight", "2.5"])
def test_uploads_in_flight_out_of_range_is_refused_naming_it(tmp_path, value):
    problems = problems_of(tmp_path, GOOD_CLIENT + f"uploads_in_flight: {value}\n")
    assert len(problems) == 1 and "uploads_in_flight" in problems[0], problems


@pytest.mark.parametrize("client_id", ["staging", "refs"])
def test_a_client_id_naming_a_folder_of_the_bucket_is_refused(tmp_path, client_id):
    """Its files would fall under the staged uploads' lifecycle rule, or among the marks
    (outside review)."""
    problems = problems_of(tmp_path, GOOD_CLIENT.replace("id: acme\n", f"id: {client_id}\n"))
    assert len(problems) == 1 and "folder of the file store" in problems[0], problems
