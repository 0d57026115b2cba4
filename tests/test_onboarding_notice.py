"""The onboarding notice rule at its exact boundary, for both contracts: Belton's 3 business
days on its Melbourne calendar (across a weekend and Melbourne Cup Day) and BetterWorld's
48 wall-clock hours (across a weekend, and onto Thanksgiving). The rule is checked at
intake, so ``now`` is passed in; the route test shows the 422 over HTTP."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.errors import FieldError
from domain.onboarding import JoinerForm, induction_for, schedule
from domain.tenants import load_config

CONFIG = load_config(Path(__file__).parent.parent / "tempodesk.yaml")
MELBOURNE = ZoneInfo("Australia/Melbourne")
NEW_YORK = ZoneInfo("America/New_York")
SECOND = timedelta(seconds=1)


def form(start: date, **changes) -> JoinerForm:
    return JoinerForm.model_validate({
        "employee": {"name": "Sam Lee", "email": "sam.lee@personal.example"},
        "user_principal_name": "sam.lee@harbourside.example", "title": "Paralegal",
        "manager": {"name": "Mia Chen", "email": "mia.chen@harbourside.example"},
        "start_date": start.isoformat(), **changes})


def belton(start: date, now: datetime):
    return schedule(form(start), CONFIG.client("belton"), now)


def betterworld(start: date, now: datetime):
    return schedule(form(start), CONFIG.client("betterworld"), now)


def test_belton_counts_3_business_days_across_a_weekend_and_cup_day():
    # From Thursday 29 Oct 2026 08:30 (opening), 3 business days are Thu, Fri and Mon 2 Nov;
    # Tue 3 is Melbourne Cup Day, so a Wednesday 08:30 start has exactly 3 BD of notice.
    opening = datetime(2026, 10, 29, 8, 30, tzinfo=MELBOURNE)
    exact = belton(date(2026, 11, 4), opening)
    assert exact.starts_at == datetime(2026, 11, 4, 8, 30, tzinfo=MELBOURNE)
    assert exact.notice_until == datetime(2026, 11, 2, 17, 30, tzinfo=MELBOURNE)
    assert not exact.short_notice
    # One second later the third business day ends at Wednesday 08:30:01: too late for a
    # Wednesday start; the earliest is Thursday's opening.
    late = belton(date(2026, 11, 4), opening + SECOND)
    assert late.notice_until == datetime(2026, 11, 4, 8, 30, 1, tzinfo=MELBOURNE)
    assert late.short_notice
    assert late.earliest_start == datetime(2026, 11, 5, 8, 30, tzinfo=MELBOURNE)
    assert not belton(date(2026, 11, 5), opening + SECOND).short_notice


def test_belton_refusal_names_the_earliest_start_and_the_way_out():
    late = belton(date(2026, 11, 3), datetime(2026, 10, 29, 10, tzinfo=MELBOURNE))
    error = late.refusal("3bd", "Australia/Melbourne")
    assert isinstance(error, FieldError) and error.field == "start_date"
    assert "Thursday 2026-11-05 08:30 Australia/Melbourne" in error.message
    assert "expedite" in error.fix


def test_betterworld_counts_48_wall_clock_hours_weekend_included():
    # Saturday 09:00 + 48 h = Monday 09:00, the opening: exactly enough.
    saturday = datetime(2026, 11, 14, 9, tzinfo=NEW_YORK)
    exact = betterworld(date(2026, 11, 16), saturday)
    assert exact.starts_at == datetime(2026, 11, 16, 9, tzinfo=NEW_YORK)
    assert exact.notice_until == exact.starts_at and not exact.short_notice
    late = betterworld(date(2026, 11, 16), saturday + SECOND)
    assert late.short_notice
    assert late.earliest_start == datetime(2026, 11, 17, 9, tzinfo=NEW_YORK)


def test_betterworld_earliest_start_skips_thanksgiving():
    # Tuesday 24 Nov 10:00 + 48 h = Thursday 26 Nov 10:00, Thanksgiving: Friday is offered.
    short = betterworld(date(2026, 11, 25), datetime(2026, 11, 24, 10, tzinfo=NEW_YORK))
    assert short.short_notice
    assert short.earliest_start == datetime(2026, 11, 27, 9, tzinfo=NEW_YORK)


def test_a_start_time_and_zone_of_the_users_own():
    # A remote starter in Perth at 09:00 Perth time = 12:00 Melbourne (daylight saving).
    perth = form(date(2026, 11, 5), start_time="09:00", time_zone="Australia/Perth")
    planned = schedule(perth, CONFIG.client("belton"),
                       datetime(2026, 10, 29, 8, 30, tzinfo=MELBOURNE))
    assert planned.starts_at == datetime(2026, 11, 5, 12, tzinfo=MELBOURNE)


def test_a_start_more_than_a_year_ahead_is_refused():
    with pytest.raises(FieldError, match="year"):
        belton(date(2028, 1, 10), datetime(2026, 10, 29, 10, tzinfo=MELBOURNE))


def test_the_induction_is_two_hours_in_and_inside_working_hours():
    policy = CONFIG.client("belton").sla
    monday = datetime(2026, 11, 9, 8, 30, tzinfo=MELBOURNE)
    assert induction_for(policy, monday) == monday + timedelta(hours=2)
    # Starting at 16:00: no 30 minutes left that day after 18:00, so next morning's opening.
    late = datetime(2026, 11, 9, 16, tzinfo=MELBOURNE)
    assert induction_for(policy, late) == datetime(2026, 11, 10, 8, 30, tzinfo=MELBOURNE)
