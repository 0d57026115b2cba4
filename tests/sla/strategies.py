"""Hypothesis strategies biased toward where SLA maths goes wrong: openings and closings,
weekends, public holidays and DST-change days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from hypothesis import strategies as st

from domain.sla import PRESETS, policy_from_preset

PRESET_NAMES = sorted(PRESETS)
YEARS = range(2025, 2028)


@cache
def dst_days(zone_name: str) -> tuple[date, ...]:
    zone = ZoneInfo(zone_name)
    days = []
    day = date(YEARS[0], 1, 1)
    while day.year < YEARS[-1] + 1:
        today = datetime.combine(day, time(0), tzinfo=zone).utcoffset()
        tomorrow = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).utcoffset()
        if today != tomorrow:
            days.append(day)
        day += timedelta(days=1)
    return tuple(days)


@cache
def holiday_days(preset: str) -> tuple[date, ...]:
    spec = PRESETS[preset]["calendar"]["holidays"]
    found = holidays.country_holidays(spec["country"], subdiv=spec["subdivision"], years=YEARS)
    return tuple(sorted(found))


def zone_of(preset: str) -> str:
    return PRESETS[preset]["calendar"]["timezone"]


def local_days(preset: str) -> st.SearchStrategy[date]:
    any_day = st.dates(date(YEARS[0], 1, 1), date(YEARS[-1], 12, 31))
    near = st.sampled_from(dst_days(zone_of(preset)) + holiday_days(preset))
    shifted = st.builds(lambda d, k: d + timedelta(days=k), near, st.integers(-2, 2))
    return st.one_of(any_day, shifted)


EDGE_MINUTES = [0, 2 * 60, 2 * 60 + 30, 3 * 60, 8 * 60 + 30, 9 * 60, 17 * 60, 17 * 60 + 30,
                23 * 60 + 59]


def local_times() -> st.SearchStrategy[time]:
    edge = st.builds(
        lambda m, d: (datetime.combine(date(2000, 1, 1), time(0))
                      + timedelta(minutes=m, seconds=d)).time(),
        st.sampled_from(EDGE_MINUTES), st.integers(-90, 90),
    )
    return st.one_of(edge, st.times())


@st.composite
def instants(draw, preset: str, days: st.SearchStrategy[date] | None = None) -> datetime:
    """An aware instant in the preset's zone (the zone resolves gaps and folds)."""
    day = draw(days if days is not None else local_days(preset))
    moment = datetime.combine(day, draw(local_times()), tzinfo=ZoneInfo(zone_of(preset)))
    return moment.astimezone(ZoneInfo(zone_of(preset)))


@cache
def preset_policy(preset: str):
    return policy_from_preset(preset)


presets = st.sampled_from(PRESET_NAMES)
target_seconds = st.one_of(
    st.sampled_from([60, 15 * 60, 3600, 4 * 3600, 8 * 3600, 9 * 3600, 12 * 3600, 27 * 3600]),
    st.integers(1, 60 * 3600),
)
