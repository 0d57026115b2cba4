"""Properties of the SLA engine that must hold for any ticket on any preset."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domain.sla import Priority, compute_deadlines, policy_from_preset
from domain.sla.calendar import business_clock
from domain.sla.timeline import US, from_us, merge_pauses, to_us
from tests.sla.strategies import (
    PRESETS,
    dst_days,
    instants,
    local_days,
    preset_policy,
    presets,
    target_seconds,
    zone_of,
)

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def business_timeline(preset: str, start_year: int):
    return business_clock(preset_policy(preset).calendar).cover(start_year - 1, start_year + 3)


@st.composite
def case(draw):
    preset = draw(presets)
    start = draw(instants(preset))
    seconds = draw(target_seconds)
    return preset, start, seconds


@st.composite
def pauses_after(draw, preset: str, start):
    count = draw(st.integers(0, 3))
    result = []
    for _ in range(count):
        begin = start + timedelta(seconds=draw(st.integers(-3600, 10 * 86_400)))
        length = timedelta(seconds=draw(st.integers(1, 4 * 86_400)))
        result.append((to_us(begin), to_us(begin + length)))
    return merge_pauses(result)


@SETTINGS
@given(case())
def test_deadline_is_never_before_start(c):
    preset, start, seconds = c
    timeline = business_timeline(preset, start.year)
    assert timeline.deadline(to_us(start), seconds * US) >= to_us(start)


@SETTINGS
@given(case())
def test_business_deadline_falls_inside_a_working_window(c):
    preset, start, seconds = c
    timeline = business_timeline(preset, start.year)
    deadline = timeline.deadline(to_us(start), seconds * US)
    assert timeline.is_working(deadline), from_us(deadline)
    assert timeline.counted_between(to_us(start), deadline) == seconds * US


@SETTINGS
@given(st.data())
def test_a_pause_never_shortens_a_deadline(data):
    preset, start, seconds = data.draw(case())
    pauses = data.draw(pauses_after(preset, start))
    timeline = business_timeline(preset, start.year)
    plain = timeline.deadline(to_us(start), seconds * US)
    paused = timeline.deadline(to_us(start), seconds * US, pauses)
    assert paused >= plain
    # ...and it moves out by exactly the working time paused before the new deadline.
    assert timeline.elapsed(to_us(start), paused, pauses) == seconds * US


@SETTINGS
@given(st.data())
def test_adding_a_holiday_never_moves_a_deadline_earlier(data):
    preset, start, _ = data.draw(case())
    priority = data.draw(st.sampled_from(list(Priority)))
    extra = data.draw(local_days(preset))
    base = preset_policy(preset)
    closed = policy_from_preset(preset, {"calendar": {"holidays": {"extra_closed": [extra]}}})
    before = compute_deadlines(base, priority, start, first_response_at=start)
    after = compute_deadlines(closed, priority, start, first_response_at=start)
    for old, new in ((before.response_due, after.response_due),
                     (before.resolution_due, after.resolution_due)):
        assert (old is None) == (new is None)
        if old is not None:
            assert new >= old


@SETTINGS
@given(case(), st.integers(0, 7 * 86_400), st.integers(0, 20 * 3600))
def test_monotone_in_start_and_duration(c, later_by, longer_by):
    preset, start, seconds = c
    timeline = business_timeline(preset, start.year)
    s = to_us(start)
    base = timeline.deadline(s, seconds * US)
    assert timeline.deadline(s + later_by * US, seconds * US) >= base
    assert timeline.deadline(s, (seconds + longer_by) * US) >= base


@SETTINGS
@given(st.data())
def test_splitting_a_target_gives_the_same_deadline(data):
    preset, start, seconds = data.draw(case())
    assume(seconds > 1)
    first_part = data.draw(st.integers(1, seconds - 1))
    pauses = data.draw(pauses_after(preset, start))
    timeline = business_timeline(preset, start.year)
    s = to_us(start)
    whole = timeline.deadline(s, seconds * US, pauses)
    middle = timeline.deadline(s, first_part * US, pauses)
    assert timeline.deadline(middle, (seconds - first_part) * US, pauses) == whole


@SETTINGS
@given(case(), st.integers(-14 * 60, 14 * 60), st.sampled_from(list(Priority)))
def test_same_instant_in_any_offset_gives_the_same_deadline(c, offset_minutes, priority):
    preset, start, _ = c
    policy = preset_policy(preset)
    elsewhere = start.astimezone(timezone(timedelta(minutes=offset_minutes)))
    a = compute_deadlines(policy, priority, start, first_response_at=start)
    b = compute_deadlines(policy, priority, elsewhere, first_response_at=elsewhere.astimezone(UTC))
    assert a == b


@SETTINGS
@given(st.sampled_from(sorted(PRESETS)), st.data())
def test_dst_change_days(preset, data):
    """Around each DST change: 24x7 targets are real seconds, business targets stay inside
    windows and count exactly their length."""
    days = st.builds(lambda d, k: d + timedelta(days=k),
                     st.sampled_from(dst_days(zone_of(preset))), st.integers(-1, 1))
    start = data.draw(instants(preset, days))
    seconds = data.draw(target_seconds)
    timeline = business_timeline(preset, start.year)
    deadline = timeline.deadline(to_us(start), seconds * US)
    assert timeline.is_working(deadline)
    assert timeline.counted_between(to_us(start), deadline) == seconds * US
    p1 = compute_deadlines(policy_from_preset("belton"), Priority.P1, start)
    assert p1.resolution_due.timestamp() - start.timestamp() == 4 * 3600
