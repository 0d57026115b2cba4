"""The reviews block of the config: defaults, refusals, and the instants and periods the
schedules work with."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from domain import review_plan, reviews
from domain.reviews import Job, ReviewConfig, fire_times, previous_quarter


def client(config, name):
    return next(c for c in config.clients if c.id == name)


def test_demo_config_defaults_and_seed_values(config):
    belton, betterworld, plexacet = (client(config, n)
                                     for n in ("belton", "betterworld", "plexacet"))
    assert review_plan.account_manager(belton) == ["account.manager@belton.example"]  # ladder
    assert review_plan.account_manager(betterworld) == ["dana.brooks@betterworld.example"]
    assert review_plan.account_manager(plexacet) == ["support@plexacet.example"]      # desk
    assert [p.email for p in review_plan.nps_contacts(belton)] == [
        "mia.chen@harbourside.example", "tom.walsh@harbourside.example"]          # directors
    assert belton.reviews.nps_months == [3, 9] and belton.reviews.send_at == "09:00"
    register = belton.reviews.risk_register
    assert [(r.risk, r.likelihood.label, r.impact.label) for r in register][1] == (
        "Ransomware", "Med", "Critical")
    assert len(register) == 6 and betterworld.reviews.risk_register == register
    assert [(t.name, t.within, t.average) for t in betterworld.reviews.answer_targets] == [
        ("E-mail", "24h", None), ("Voicemail", None, "1h"), ("Chat", None, "5m")]


@pytest.mark.parametrize("block, fix", [
    ({"nps_months": [3, 5]}, "one NPS survey per half-year"),
    ({"nps_months": [13]}, "months are 1"),
    ({"send_at": "9am"}, "HH:MM"),
    ({"nps_open_for": "10bd"}, "elapsed days"),
    ({"answer_targets": [{"channel": "email", "within": "1h", "average": "1h"}]}, "one of"),
    ({"answer_targets": [{"channel": "fax", "within": "1h"}]}, "channel"),
    ({"risk_register": [{"risk": "x", "likelihood": "sometimes", "impact": "high"}]},
     "likelihood"),
    ({"nps_contacts": [{"name": "A", "email": "not-an-address"}]}, "e-mail"),
])
def test_refused_with_the_fix(block, fix):
    with pytest.raises(ValidationError) as caught:
        ReviewConfig.model_validate(block)
    assert fix in str(caught.value)


def test_fire_times_in_the_clients_zone_across_daylight_saving():
    cal = ReviewConfig().calendar(Job.NPS)  # 1 March and 1 September, 09:00
    after = datetime(2027, 1, 1, tzinfo=UTC)
    until = datetime(2028, 1, 1, tzinfo=UTC)
    # Melbourne: daylight time (+11) on 1 March, standard (+10) on 1 September.
    assert fire_times(cal, "Australia/Melbourne", after, until) == [
        datetime(2027, 2, 28, 22, tzinfo=UTC), datetime(2027, 8, 31, 23, tzinfo=UTC)]
    qbr = ReviewConfig().calendar(Job.QBR)
    assert fire_times(qbr, "America/New_York", after, until) == [
        datetime(2027, 1, 1, 14, tzinfo=UTC), datetime(2027, 4, 1, 13, tzinfo=UTC),
        datetime(2027, 7, 1, 13, tzinfo=UTC), datetime(2027, 10, 1, 13, tzinfo=UTC)]


def test_periods():
    # 1 April 09:00 in Melbourne is still 31 March in UTC: the local date decides.
    fired = datetime(2027, 3, 31, 22, tzinfo=UTC)
    q = previous_quarter(fired, "Australia/Melbourne")
    assert q.label == "2027-Q1"
    assert q.start == datetime(2026, 12, 31, 13, tzinfo=UTC)  # midnight +11
    assert q.end == datetime(2027, 3, 31, 13, tzinfo=UTC)
    assert previous_quarter(datetime(2027, 1, 1, 14, tzinfo=UTC), "America/New_York"
                            ).label == "2026-Q4"
    assert reviews.current_half(fired, "Australia/Melbourne").label == "2027-H1"
    assert reviews.previous_half("2027-H1") == "2026-H2"
    assert reviews.previous_half("2027-H2") == "2027-H1"
    with pytest.raises(ValueError, match="2027-Q1"):
        reviews.quarter("2027-Q5", "UTC")
