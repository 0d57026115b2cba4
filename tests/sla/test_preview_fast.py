"""`sla preview --jsonl`'s fast path answers exactly what the reference path answers.

Lines are drawn around openings, closings, holidays and DST days, written in several UTC
offsets (``Z`` or not, with microseconds or not), with overlapping, touching and
out-of-order pauses, plus lines the fast path must leave to the reference (errors, naive
or unusual timestamps, extra keys). Whenever the fast path answers, its text is the
reference's ``json.dumps`` byte for byte.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from commands.sla import error_text, preview_line
from domain.sla.preview_fast import FastPreview
from tests.conftest import DEMO_CONFIG
from tests.sla.strategies import instants, presets

OFFSETS = [timezone(timedelta(minutes=m)) for m in (0, 600, 660, -300, -240, 330, 345, -570)]
CONFIGS = [DEMO_CONFIG, Path("/nonexistent.yaml")]  # client policies, then the presets
POLICIES: dict[Path, dict] = {path: {} for path in CONFIGS}


def reference(line: str, config: Path) -> str:
    try:
        return json.dumps(preview_line(json.loads(line), config, POLICIES[config]))
    except (ValueError, ValidationError) as exc:  # as the CLI words them
        return json.dumps({"line": 1, "error": error_text(exc)})


@st.composite
def stamps(draw, moment: datetime) -> str:
    if draw(st.booleans()):
        moment = moment.replace(microsecond=draw(st.sampled_from([0, 1, 500_000, 999_999])))
    text = moment.astimezone(draw(st.sampled_from(OFFSETS))).isoformat()
    style = draw(st.sampled_from(["plain"] * 30 + ["z"] * 8 + ["millis"] * 4
                                       + ["naive", "space"]))
    if style == "z":
        return text.replace("+00:00", "Z")
    if style == "millis" and "." in text:
        return text[:23] + text[26:]
    if style == "naive":
        return text[:-6]
    if style == "space":
        return text.replace("T", " ")
    return text


@st.composite
def lines(draw) -> str:
    preset = draw(presets)
    opened = draw(instants(preset))
    request: dict = {"policy": draw(st.sampled_from([preset] * 12 + ["nope"])),
                     "priority": draw(st.sampled_from(["P1", "P2", "P3", "P4"] * 3 + ["P5"])),
                     "opened_at": draw(stamps(opened))}
    if draw(st.booleans()):
        first = opened + timedelta(seconds=draw(st.integers(-600, 3 * 86_400)))
        request["first_response_at"] = draw(st.one_of(st.none(), stamps(first)))
    if draw(st.booleans()):
        pauses = []
        for _ in range(draw(st.integers(0, 4))):
            start = opened + timedelta(seconds=draw(st.integers(-3600, 6 * 86_400)))
            end = start + timedelta(seconds=draw(st.integers(-60, 3 * 86_400)))
            pauses.append([draw(stamps(start)), draw(stamps(end))])
        request["pauses"] = pauses
    if draw(st.integers(0, 20)) == 0:
        request["extra"] = 1
    if draw(st.integers(0, 20)) == 0:
        request["opened_at"] = draw(st.sampled_from(
            ["1999-12-31T23:00:00Z", "2100-01-01T00:00:00Z", "2026-02-30T09:00:00Z", 17]))
    return json.dumps(request)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=lines(), config=st.sampled_from(CONFIGS))
def test_fast_path_answers_exactly_what_the_reference_answers(line, config):
    expected = reference(line, config)
    answered = FastPreview(POLICIES[config]).answer(line)
    assert answered is None or answered == expected


def test_fast_path_answers_the_common_line():
    policies: dict = {}
    fast = FastPreview(policies)
    opened = datetime(2026, 11, 23, 9, tzinfo=timezone(timedelta(hours=11)))
    line = json.dumps({"policy": "belton", "priority": "P3", "opened_at": opened.isoformat(),
                       "pauses": [[(opened + timedelta(hours=1)).isoformat(),
                                   (opened + timedelta(hours=2.5)).astimezone(UTC).isoformat()]]})
    assert fast.answer(line) is None  # policy not resolved yet: the reference path does it
    expected = json.dumps(preview_line(json.loads(line), DEMO_CONFIG, policies))
    assert fast.answer(line) == expected
    assert json.loads(expected)["response_due"] == "2026-11-23T14:30:00+11:00"


WELL_FORMED = [  # the shapes the fast path exists for: each must be answered, not declined
    {"policy": "belton", "priority": "P1", "opened_at": "2026-11-23T09:00:00+11:00"},
    {"policy": "betterworld", "priority": "P2", "opened_at": "2026-11-26T14:30:00Z"},
    {"policy": "plexacet", "priority": "P4", "opened_at": "2026-11-23T22:15:00.250000+00:00",
     "first_response_at": "2026-11-24T01:00:00Z"},
    {"policy": "belton", "priority": "P3", "opened_at": "2026-11-23T09:00:00+11:00",
     "pauses": [["2026-11-23T10:00:00+11:00", "2026-11-23T11:30:00+11:00"],
                ["2026-11-24T02:00:00Z", "2026-11-24T03:00:00Z"]]},
]


def test_the_fast_path_answers_the_shapes_it_exists_for():
    """Without this, a fast path that declined every line would pass the property above."""
    policies: dict = {}
    fast = FastPreview(policies)
    for request in WELL_FORMED:
        line = json.dumps(request)
        fast.answer(line)  # the first line of a policy resolves it (the reference path)
        expected = json.dumps(preview_line(json.loads(line), Path("/nonexistent.yaml"),
                                           policies))
        assert fast.answer(line) == expected, request
