"""Meeting invitations as iCalendar (RFC 5545) for e-mail (RFC 6047 iMIP): the same UID on
every retry, so a calendar updates the meeting instead of adding it twice."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr

from icalendar import Calendar, Event, vCalAddress

from domain.notifications import Invite


def invite_ics(invite: Invite, organiser: str, stamp) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Tempodesk//Service desk//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", invite.uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", invite.starts_at)
    event.add("dtend", invite.starts_at + timedelta(minutes=invite.minutes))
    event.add("summary", invite.summary)
    event.add("organizer", vCalAddress(f"mailto:{parseaddr(organiser)[1]}"))
    for attendee in invite.attendees:
        address = vCalAddress(f"mailto:{attendee}")
        address.params["RSVP"] = "TRUE"
        event.add("attendee", address, encode=0)
    calendar.add_component(event)
    return calendar.to_ical()
