"""Seed presets, each priority, with expected values worked out by hand.

Reference instant: Friday 2026-11-20 16:30 local (one hour before Belton's 17:30 close)
and, where a holiday matters, the days around it.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from domain.sla import Priority, compute_deadlines, policy_from_preset

MEL = ZoneInfo("Australia/Melbourne")
NY = ZoneInfo("America/New_York")
SYD = ZoneInfo("Australia/Sydney")


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


# Belton: Mon-Fri 08:30-17:30 Melbourne, 1 BD = 9 h. Opened Fri 2026-11-20 16:30.
BELTON = [
    # P1: 15 min 24x7 -> 16:45 Fri; 4 h 24x7 -> 20:30 Fri (nights count on 24x7).
    (Priority.P1, at(MEL, 2026, 11, 20, 16, 45), at(MEL, 2026, 11, 20, 20, 30)),
    # P2: 1 h business = the last hour of Friday -> 17:30 Fri (the close itself);
    #     1 BD = 9 h: 1 h Fri + 8 h Mon from 08:30 -> 16:30 Mon 23rd.
    (Priority.P2, at(MEL, 2026, 11, 20, 17, 30), at(MEL, 2026, 11, 23, 16, 30)),
    # P3: 4 h: 1 h Fri + 3 h Mon -> 11:30 Mon; 3 BD = 27 h: 1 + 9 (Mon) + 9 (Tue) + 8 -> 16:30 Wed.
    (Priority.P3, at(MEL, 2026, 11, 23, 11, 30), at(MEL, 2026, 11, 25, 16, 30)),
    # P4: 1 BD = 9 h: 1 h Fri + 8 h Mon -> 16:30 Mon; resolution best effort.
    (Priority.P4, at(MEL, 2026, 11, 23, 16, 30), None),
]

# BetterWorld: Mon-Fri 09:00-17:00 New York, 1 BD = 8 h. Opened Fri 2026-11-20 16:30,
# first response Mon 2026-11-23 10:00 (resolution runs from it).
BETTERWORLD = [
    # P1: 1 h 24x7 -> 17:30 Fri; 24 h 24x7 from first response -> Tue 10:00.
    (Priority.P1, at(NY, 2026, 11, 20, 17, 30), at(NY, 2026, 11, 24, 10, 0)),
    # P2: 2 h 24x7 -> 18:30 Fri; 36 h 24x7 from Mon 10:00 -> Tue 22:00.
    (Priority.P2, at(NY, 2026, 11, 20, 18, 30), at(NY, 2026, 11, 24, 22, 0)),
    # P3: 6 h business: 0.5 h Fri + 5.5 h Mon -> 14:30 Mon;
    #     5 BD = 40 h from Mon 10:00: Mon 7 (7), Tue 8 (15), Wed 8 (23), Thu 26 Nov is
    #     Thanksgiving (closed), Fri 27 8 (31), Mon 30 8 (39), Tue 1 Dec 1 h -> 10:00 Tue 1 Dec.
    (Priority.P3, at(NY, 2026, 11, 23, 14, 30), at(NY, 2026, 12, 1, 10, 0)),
    # P4: 8 h: 0.5 h Fri + 7.5 h Mon -> 16:30 Mon; 7 BD = 56 h from Mon 10:00: 31 h by Fri 27
    #     (as above), Mon 30 8 (39), Tue 1 8 (47), Wed 2 8 (55), Thu 3 1 h -> 10:00 Thu 3 Dec.
    (Priority.P4, at(NY, 2026, 11, 23, 16, 30), at(NY, 2026, 12, 3, 10, 0)),
]

# Plexacet: Mon-Fri 09:00-17:00 Sydney, 1 BD = 8 h, resolution only. Opened Fri 16:30.
PLEXACET = [
    # P1: 12 business hours: 0.5 h Fri + 8 h Mon + 3.5 h Tue -> 12:30 Tue.
    (Priority.P1, None, at(SYD, 2026, 11, 24, 12, 30)),
    # P2: 1 BD = 8 h: 0.5 + 7.5 Mon -> 16:30 Mon.
    (Priority.P2, None, at(SYD, 2026, 11, 23, 16, 30)),
    # P3: 3 BD = 24 h: 0.5 + 8 + 8 + 7.5 -> 16:30 Wed.
    (Priority.P3, None, at(SYD, 2026, 11, 25, 16, 30)),
    # P4: 5 BD = 40 h -> 16:30 the following Friday.
    (Priority.P4, None, at(SYD, 2026, 11, 27, 16, 30)),
]


@pytest.mark.parametrize(("priority", "response", "resolution"), BELTON)
def test_belton(priority, response, resolution):
    got = compute_deadlines(policy_from_preset("belton"), priority, at(MEL, 2026, 11, 20, 16, 30))
    assert (got.response_due, got.resolution_due) == (response, resolution)


@pytest.mark.parametrize(("priority", "response", "resolution"), BETTERWORLD)
def test_betterworld(priority, response, resolution):
    got = compute_deadlines(policy_from_preset("betterworld"), priority,
                            at(NY, 2026, 11, 20, 16, 30),
                            first_response_at=at(NY, 2026, 11, 23, 10))
    assert (got.response_due, got.resolution_due) == (response, resolution)


@pytest.mark.parametrize(("priority", "response", "resolution"), PLEXACET)
def test_plexacet(priority, response, resolution):
    got = compute_deadlines(policy_from_preset("plexacet"), priority, at(SYD, 2026, 11, 20, 16, 30))
    assert (got.response_due, got.resolution_due) == (response, resolution)


def test_resolution_from_first_response_waits_for_it():
    got = compute_deadlines(policy_from_preset("betterworld"), Priority.P1, at(NY, 2026, 11, 20, 9))
    assert got.response_due == at(NY, 2026, 11, 20, 10)
    assert got.resolution_due is None


def test_saturday_ticket_starts_counting_monday_opening():
    # Opened Sat 21 Nov 10:00; Belton P3 response 4 h business -> Mon 08:30 + 4 h = 12:30.
    got = compute_deadlines(policy_from_preset("belton"), Priority.P3, at(MEL, 2026, 11, 21, 10))
    assert got.response_due == at(MEL, 2026, 11, 23, 12, 30)


def test_melbourne_cup_day_is_closed():
    # Tue 3 Nov 2026 is Melbourne Cup Day (VIC). Opened Mon 2 Nov 16:30, P2 1 BD:
    # 1 h Mon, Tue closed, 8 h Wed -> Wed 4 Nov 16:30.
    got = compute_deadlines(policy_from_preset("belton"), Priority.P2, at(MEL, 2026, 11, 2, 16, 30))
    assert got.resolution_due == at(MEL, 2026, 11, 4, 16, 30)


def test_pause_moves_deadline_by_paused_working_time():
    # Belton P3 from Mon 23 Nov 09:00, response 4 h -> 13:00. Pending 10:00-11:30 (1.5 h
    # of working time) -> 14:30.
    opened = at(MEL, 2026, 11, 23, 9)
    got = compute_deadlines(policy_from_preset("belton"), Priority.P3, opened,
                            pauses=[(at(MEL, 2026, 11, 23, 10), at(MEL, 2026, 11, 23, 11, 30))])
    assert got.response_due == at(MEL, 2026, 11, 23, 14, 30)


def test_pause_over_the_weekend_costs_only_its_working_time():
    # Same ticket paused Fri 27 17:00 -> Mon 30 09:00: covers 17:00-17:30 Fri and 08:30-09:00
    # Mon = 1 h. P3 resolution 3 BD from Mon 23 09:00 -> Thu 26 09:00 without the pause; the
    # pause starts after that, so it changes nothing.
    opened = at(MEL, 2026, 11, 23, 9)
    policy = policy_from_preset("belton")
    plain = compute_deadlines(policy, Priority.P3, opened)
    paused = compute_deadlines(policy, Priority.P3, opened,
                               pauses=[(at(MEL, 2026, 11, 27, 17), at(MEL, 2026, 11, 30, 9))])
    assert plain.resolution_due == paused.resolution_due == at(MEL, 2026, 11, 26, 9)


def test_open_pause_stops_the_clock():
    opened = at(MEL, 2026, 11, 23, 9)
    got = compute_deadlines(policy_from_preset("belton"), Priority.P3, opened,
                            pauses=[(at(MEL, 2026, 11, 23, 10), None)])
    assert got.response_due is None and got.resolution_due is None


def test_p1_at_3am_sunday_on_24x7_clock():
    got = compute_deadlines(policy_from_preset("belton"), Priority.P1, at(MEL, 2026, 11, 22, 3))
    assert got.response_due == at(MEL, 2026, 11, 22, 3, 15)
    assert got.resolution_due == at(MEL, 2026, 11, 22, 7)


def test_24x7_target_across_dst_is_real_hours():
    # Melbourne springs forward at 02:00 on Sun 4 Oct 2026 (to 03:00). A P1 opened at 00:30
    # local: 4 real hours later the wall clock reads 05:30.
    got = compute_deadlines(policy_from_preset("belton"), Priority.P1, at(MEL, 2026, 10, 4, 0, 30))
    assert got.resolution_due == at(MEL, 2026, 10, 4, 5, 30)
    real = got.resolution_due.timestamp() - at(MEL, 2026, 10, 4, 0, 30).timestamp()
    assert real == 4 * 3600
