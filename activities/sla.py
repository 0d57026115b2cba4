"""SLA calendar extension for tickets that outlive their frozen windows."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.sla.deadlines import windows_between
from domain.sla.timeline import TimelineSnapshot, from_us
from domain.tenants import TempodeskConfig


class CalendarExtension(BaseModel):
    client_id: str
    valid_until: int  # where the ticket's windows end now (UTC microseconds)
    days: int


class SlaActivities:
    def __init__(self, config: TempodeskConfig) -> None:
        self.config = config

    @activity.defn
    async def extend_calendar(self, request: CalendarExtension) -> TimelineSnapshot:
        """The next ``days`` of working windows on the client's calendar as it is now (a
        config edit applies to dates no ticket has frozen yet)."""
        client = self.config.client(request.client_id)
        if client is None:
            raise ApplicationError(f"unknown client {request.client_id!r}", non_retryable=True)
        start = from_us(request.valid_until)
        return windows_between(client.sla, start, start + timedelta(days=request.days))
