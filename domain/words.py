"""Instants as people read them: in the client's zone, with the zone's abbreviation.

"We will respond by 2026-12-07T06:30:00+00:00" tells a Melbourne firm nothing at a glance;
"Mon 7 Dec 2026, 5:30 pm AEDT" does. Every e-mail and document writes an instant through
:func:`local_time_text` (the zone is the client's calendar zone), and adds the reader's own
zone through :func:`time_for_reader` where the desk knows it.

Day and month names are written here, not by ``strftime``, so the host's locale never
changes what a client reads (nor the bytes of a document).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

DAYS_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_SHORT = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec")


def zone_abbreviation(local: datetime) -> str:
    """The zone's abbreviation at that instant ("AEDT", "EST"); zones that have none in the
    tz database ("+04") are written as an offset from UTC ("UTC+04", "UTC+05:30")."""
    name = local.tzname() or ""
    if name and name[0] not in "+-":
        return name
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}" + (f":{rest:02d}" if rest else "")


def clock_text(local: datetime) -> str:
    """"5:30 pm", "12 noon" is not used: "12:00 pm"; midnight "12:00 am"."""
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}"


def day_text(day: date) -> str:
    """"Mon 7 Dec 2026"."""
    return f"{DAYS_SHORT[day.weekday()]} {day.day} {MONTHS_SHORT[day.month - 1]} {day.year}"


def local_time_text(at: datetime, zone: str) -> str:
    """``at`` in ``zone`` (IANA): "Mon 7 Dec 2026, 5:30 pm AEDT". ``at`` must be aware."""
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no instant: pass an aware one")
    local = at.astimezone(ZoneInfo(zone))
    return f"{day_text(local.date())}, {clock_text(local)} {zone_abbreviation(local)}"


def time_for_reader(at: datetime, zone: str, reader_zone: str | None = None) -> str:
    """``at`` in the client's ``zone``, and in the reader's own zone too when the desk knows
    it and it differs: "Mon 7 Dec 2026, 5:30 pm AEDT (2:30 pm AWST your time)"."""
    text = local_time_text(at, zone)
    if reader_zone is None or reader_zone == zone:
        return text
    theirs = at.astimezone(ZoneInfo(reader_zone))
    ours = at.astimezone(ZoneInfo(zone))
    if theirs.utcoffset() == ours.utcoffset() and zone_abbreviation(theirs) == \
            zone_abbreviation(ours):
        return text
    when = clock_text(theirs) + f" {zone_abbreviation(theirs)}"
    if theirs.date() != ours.date():
        when = f"{day_text(theirs.date())}, {when}"
    return f"{text} ({when} your time)"


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 instant with an offset, as notices carry them; None for anything else."""
    if len(text) < 16 or text[4:5] != "-" or "T" not in text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None
