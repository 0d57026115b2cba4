"""Business calendars: an IANA zone, weekly working hours and public holidays.

A :class:`CalendarSpec` is what a client's contract says; :func:`business_timeline`
compiles it into a :class:`~domain.sla.timeline.Timeline` of UTC working windows. Holidays
come from the ``holidays`` package (country + subdivision) plus the client's own extra
closed dates, minus dates the client works anyway.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.sla.durations import parse_duration
from domain.sla.timeline import Timeline, to_us

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SHIFT = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class Shift(BaseModel):
    """One working window in local wall-clock time; ``end`` may be 24:00."""

    model_config = ConfigDict(frozen=True)
    start_minute: int = Field(ge=0, lt=24 * 60)
    end_minute: int = Field(gt=0, le=24 * 60)

    @classmethod
    def parse(cls, text: str) -> Shift:
        match = _SHIFT.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a shift: write 'HH:MM-HH:MM', e.g. '08:30-17:30'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or start >= 24 * 60 or end > 24 * 60:
            raise ValueError(
                f"{text!r} has an impossible time: hours 00-23 (24:00 as an end)")
        if end <= start:
            raise ValueError(
                f"{text!r} ends before it starts: split an overnight shift into "
                "'22:00-24:00' on one day and '00:00-06:00' on the next"
            )
        return cls(start_minute=start, end_minute=end)

    def __str__(self) -> str:
        return (f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}-"
                f"{self.end_minute // 60:02d}:{self.end_minute % 60:02d}")


class HolidaySpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    country: str | None = Field(None, description="ISO 3166-1 alpha-2, e.g. 'AU'")
    subdivision: str | None = Field(None, description="e.g. 'VIC', 'NSW', 'NY'")
    extra_closed: tuple[date, ...] = Field((), description="client closures, e.g. a shutdown")
    removed: tuple[date, ...] = Field((), description="public holidays the client works")

    @model_validator(mode="after")
    def _known_country(self) -> HolidaySpec:
        if self.country is None:
            if self.subdivision:
                raise ValueError("subdivision needs a country, e.g. country: AU")
            return self
        try:
            holidays_lib.country_holidays(self.country, subdiv=self.subdivision, years=2026)
        except NotImplementedError as exc:
            raise ValueError(
                f"unknown country {self.country!r}: use ISO codes like AU, US") from exc
        except Exception as exc:  # the holidays package raises plain errors for bad subdivisions
            raise ValueError(
                f"unknown subdivision {self.subdivision!r} for {self.country}: {exc}"
            ) from exc
        return self


class CalendarSpec(BaseModel):
    """A client's business calendar, as written in the config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    timezone: str = Field(description="IANA zone, e.g. 'Australia/Melbourne'")
    hours: dict[str, tuple[Shift, ...]] = Field(
        description="weekday -> shifts; keys mon..sun or ranges like 'mon-fri'"
    )
    holidays: HolidaySpec = HolidaySpec()
    business_day: str | None = Field(
        None, description="length of 1bd; default: the calendar's most common working day"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}: use an IANA name like "
                             "'Australia/Melbourne' or 'America/New_York'") from exc
        return value

    @field_validator("hours", mode="before")
    @classmethod
    def _expand_hours(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        expanded: dict[str, list[object]] = {day: [] for day in WEEKDAYS}
        for key, shifts in value.items():
            for day in _expand_days(str(key)):
                items = [shifts] if isinstance(shifts, str | Shift | dict) else list(shifts or [])
                expanded[day].extend(Shift.parse(s) if isinstance(s, str) else s for s in items)
        return expanded

    @model_validator(mode="after")
    def _sane(self) -> CalendarSpec:
        if not any(self.hours.values()):
            raise ValueError("hours has no working time: add e.g. 'mon-fri: 08:30-17:30'")
        for day, shifts in self.hours.items():
            ordered = sorted(shifts, key=lambda s: s.start_minute)
            for a, b in pairwise(ordered):
                if b.start_minute < a.end_minute:
                    raise ValueError(f"{day}: shifts {a} and {b} overlap")
        if self.business_day is not None:
            parse_duration(self.business_day)
        return self

    def shifts_on(self, weekday: int) -> tuple[Shift, ...]:
        return tuple(sorted(self.hours.get(WEEKDAYS[weekday], ()), key=lambda s: s.start_minute))

    @property
    def business_day_seconds(self) -> int:
        """1 BD: explicit ``business_day`` or the most common daily working length."""
        if self.business_day is not None:
            return int(parse_duration(self.business_day).seconds)
        totals = [sum(s.end_minute - s.start_minute for s in self.shifts_on(d)) for d in range(7)]
        counts = Counter(t for t in totals if t)
        length, _ = max(counts.items(), key=lambda item: (item[1], item[0]))
        return length * 60

    def cache_key(self) -> str:
        return self.model_dump_json()


def _expand_days(key: str) -> list[str]:
    key = key.strip().lower()
    if key in WEEKDAYS:
        return [key]
    if "-" in key:
        first, last = (part.strip() for part in key.split("-", 1))
        if first in WEEKDAYS and last in WEEKDAYS:
            i, j = WEEKDAYS.index(first), WEEKDAYS.index(last)
            if i <= j:
                return list(WEEKDAYS[i : j + 1])
    raise ValueError(f"{key!r} is not a weekday: use mon..sun or a range like 'mon-fri'")


@lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays_lib.country_holidays(country, subdiv=subdivision, years=year))


def closed_dates(spec: HolidaySpec, first: date, last: date) -> set[date]:
    """Dates between ``first`` and ``last`` (inclusive) on which no working hours apply."""
    closed: set[date] = set()
    if spec.country:
        for year in range(first.year, last.year + 1):
            closed |= _public_holidays(spec.country, spec.subdivision, year)
    closed |= set(spec.extra_closed)
    closed -= set(spec.removed)
    return {d for d in closed if first <= d <= last}


def build_timeline(spec: CalendarSpec, first: date, last: date) -> Timeline:
    """Working windows for local dates ``first``..``last`` (inclusive).

    Wall-clock shift times become real instants through the zone, so a window spanning a
    DST change counts the real time it contains.
    """
    zone = ZoneInfo(spec.timezone)
    closed = closed_dates(spec.holidays, first, last)
    windows: list[tuple[int, int]] = []
    day = first
    while day <= last:
        if day not in closed:
            midnight = datetime.combine(day, time(0), tzinfo=zone)
            for shift in spec.shifts_on(day.weekday()):
                start = _local_instant(midnight, day, shift.start_minute, zone)
                end = _local_instant(midnight, day, shift.end_minute, zone)
                if windows and windows[-1][1] == start:  # 24:00 joined to next day's 00:00
                    windows[-1] = (windows[-1][0], end)
                else:
                    windows.append((start, end))
        day += timedelta(days=1)
    valid_from = to_us(datetime.combine(first, time(0), tzinfo=zone))
    valid_until = to_us(datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone))
    return Timeline(windows, valid_from=valid_from, valid_until=valid_until)


def _local_instant(midnight: datetime, day: date, minute: int, zone: ZoneInfo) -> int:
    if minute == 24 * 60:
        return to_us(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone))
    return to_us(datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone))


class BusinessClock:
    """A compiled calendar that grows its timeline on demand (years at a time)."""

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self.business_day_seconds = spec.business_day_seconds
        self._first_year = 0
        self._last_year = -1
        self.timeline = Timeline([], valid_from=0, valid_until=0)

    def cover(self, first_year: int, last_year: int) -> Timeline:
        if first_year < self._first_year or last_year > self._last_year or self._last_year < 0:
            lo = min(first_year, self._first_year) if self._last_year >= 0 else first_year
            hi = max(last_year, self._last_year)
            self.timeline = build_timeline(self.spec, date(lo - 1, 12, 25), date(hi, 12, 31))
            self._first_year, self._last_year = lo, hi
        return self.timeline


_CLOCKS: dict[str, BusinessClock] = {}


def business_clock(spec: CalendarSpec) -> BusinessClock:
    """The shared compiled clock for ``spec`` (compiled once per distinct calendar)."""
    key = spec.cache_key()
    clock = _CLOCKS.get(key)
    if clock is None:
        clock = _CLOCKS[key] = BusinessClock(spec)
    return clock
