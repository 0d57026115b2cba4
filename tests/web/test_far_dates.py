"""Dates far from today on the HR forms are refused at once, naming the field, before any
business calendar is built for them (one is built for every year up to the day: a start in
9998 answered 500 after ten seconds, the API frozen meanwhile). A last working day more
than 30 days past is taken for a typo in the year unless the exit says 'immediate': it
would cut the person off at once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.web.helpers import assert_problem
from tests.web.test_offboarding import exit_form
from tests.web.test_onboarding import new_user

FAR = ["9999-12-31", "9998-01-01", "0001-01-01", "1900-01-01"]


@pytest.mark.parametrize("day", FAR)
async def test_a_start_far_from_today_is_refused_naming_the_field(desk, day):
    made = await desk.http.post("/v1/onboarding", json=new_user(day, expedite=True),
                                headers=desk.as_("belton", "hr"))
    problem = assert_problem(made, 422)
    assert [e["field"] for e in problem["errors"]] == ["start_date"], problem


@pytest.mark.parametrize("day", FAR)
async def test_a_last_day_far_from_today_is_refused_naming_the_field(desk, day):
    made = await desk.http.post("/v1/offboarding", json=exit_form(
        last_working_day=day, immediate=False), headers=desk.as_("belton", "hr"))
    problem = assert_problem(made, 422)
    assert [e["field"] for e in problem["errors"]] == ["last_working_day"], problem


async def test_an_immediate_exit_may_name_a_day_long_past(desk):
    """Access ends now either way; the day is what HR knows of it."""
    long_ago = (date.today() - timedelta(days=90)).isoformat()
    made = await desk.http.post("/v1/offboarding", json=exit_form(
        last_working_day=long_ago, immediate=True), headers=desk.as_("belton", "hr"))
    assert made.status_code == 201, made.text
