"""What an alert episode asks of its incident: a workflow can only signal another one, and
the incident's lifecycle is a set of updates with validators, so these activities send
the update and bring back whether the incident took it (and why not).

The incident is reached by its update and query names (``acknowledge``, ``transition``,
``view``: the ticket core's), never by importing its workflow class: activities sit below
workflows and import none of them."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from domain.alerts import IncidentMove, IncidentRef, MoveOutcome
from domain.ids import TicketKind, workflow_id
from domain.incidents import IncidentView
from domain.tickets import Status, TicketView, Transition


class AlertActivities:
    def __init__(self, client: Client) -> None:
        self.client = client

    def all(self) -> list:
        return [self.move_incident, self.incident_status]

    def _handle(self, ticket_id: str):
        return self.client.get_workflow_handle(workflow_id(TicketKind.INCIDENT, ticket_id))

    @activity.defn(name="alerts.move_incident")
    async def move_incident(self, move: IncidentMove) -> MoveOutcome:
        handle = self._handle(move.ticket_id)
        to = Status(move.to)
        update = "acknowledge" if to is Status.ACKNOWLEDGED else "transition"
        try:
            view = await handle.execute_update(
                update, Transition(to=to, reason=move.reason, by=move.by),
                result_type=TicketView)
        except WorkflowUpdateFailedError as exc:
            reason = str(getattr(exc.cause, "message", exc.cause))
            status = await self.incident_status(IncidentRef(ticket_id=move.ticket_id))
            return MoveOutcome(applied=False, status=status.status, refused=reason)
        except RPCError as exc:
            if _ended(exc):
                return MoveOutcome(applied=False, refused="the incident's workflow has ended")
            raise
        return MoveOutcome(applied=True, status=view.status.value)

    @activity.defn(name="alerts.incident_status")
    async def incident_status(self, ref: IncidentRef) -> MoveOutcome:
        """The incident's status (``status`` None once its workflow has ended)."""
        try:
            view = await self._handle(ref.ticket_id).query("view", result_type=IncidentView)
        except RPCError as exc:
            if _ended(exc):
                return MoveOutcome(applied=False)
            raise
        return MoveOutcome(applied=False, status=view.status.value)


def _ended(exc: RPCError) -> bool:
    return "already completed" in exc.message or exc.status == RPCStatusCode.NOT_FOUND
