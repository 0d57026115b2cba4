"""Taking alerts (the desk operations behind api/routes/alerts.py, which parses, calls and maps):
Prometheus Alertmanager's webhook (version 4) and PagerDuty-style Events v2.

Both are posted with the client's integration key; every alert in them becomes one message
to that alert's episode workflow (workflows/alert_episode.py), sent by update-with-start:
the workflow decides whether it opens, repeats, reopens or resolves an incident, so
repeats and HA duplicates never open a second one. A firing takes a ticket number from the
client's sequence and prepares the incident; if the episode does not use it, the number
goes back to the pool. Requests about one alert take turns in this replica (fewer numbers
in flight, and Temporal's limit of 10 in-flight updates per workflow is not approached);
across replicas the workflow alone keeps the count at one.

Each integration key may open only so many new incidents a minute (the client's
``alerts.new_incidents_per_minute``, :class:`NewIncidents`). An alert about an episode
already open is always taken; one that would open an incident past the budget is not sent
(``deferred``) and :class:`OverBudget` says what was done with each alert. Alertmanager
does not retry a 429 at once: it sends the whole group again at its next
``group_interval``, when the alerts taken now are repeats and the budget has refilled.

Refusals are :class:`desk.errors.DeskError` (:class:`NotAClientKey` 403,
:class:`OverBudget` 429, :class:`TryAgain` 503; a role that may not post alerts 403): every
door maps them as it maps any other.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from desk.access import may
from desk.errors import DeskError
from desk.intake import incident_start, incident_summary
from desk.principal import Principal
from desk.state import Desk
from domain.alerts import (
    ALERT_KEY_MAX,
    AlertEnding,
    AlertFiring,
    AlertmanagerWebhook,
    AlertSource,
    AmAlert,
    EpisodeAction,
    EpisodeAnswer,
    EpisodeStart,
    EpisodeState,
    EventAction,
    EventIn,
    alertmanager_report,
    event_report,
    levels_for,
    one_line,
    opens_incident,
)
from domain.ids import alert_workflow_id
from domain.incidents import IncidentReport
from domain.roles import Action
from domain.sla.priority import PriorityDecision
from domain.tenants import ClientConfig
from domain.ticket_details import incident_details
from domain.tickets import Contact
from workflows.alert_episode import RETRY, TICKET_TAKEN, AlertEpisodeWorkflow

PARALLEL = 8  # alerts of one webhook sent at once


class AlertResult(BaseModel):
    fingerprint: str
    status: str
    ticket_id: str | None
    action: EpisodeAction
    detail: str = ""


class NotAClientKey(DeskError):
    """Alerts were posted with a key that names no client (an MSP key): 403."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, "Forbidden", detail)


class OverBudget(DeskError):
    """Alerts that would open new incidents past the key's budget were not taken: 429,
    with when to send them again and what was done with each."""

    def __init__(self, detail: str, retry_after: int, extensions: dict[str, Any]) -> None:
        super().__init__(429, "Too many new incidents", detail,
                         slug="too-many-new-incidents", retry_after=retry_after,
                         extensions=extensions)


class TryAgain(DeskError):
    """The episode asked for the message again later (it was busy, or a number was
    taken): 503, retry in a few seconds."""

    def __init__(self, detail: str) -> None:
        super().__init__(503, "Try again", detail, retry_after=5)


async def take_alertmanager(state: Desk, principal: Principal,
                            hook: AlertmanagerWebhook) -> list[AlertResult]:
    """Every alert of an Alertmanager webhook sent to its episode; what each did."""
    may(principal, Action.POST_ALERTS)
    client = alert_client(principal, state)
    budget = NewIncidents(state, principal, client)

    async def one(alert: AmAlert) -> AlertResult:
        if alert.status == "firing":
            labels = {**hook.commonLabels, **alert.labels}
            decision = client.alerts.priority_for(labels.get(client.alerts.severity_label))
            report = alertmanager_report(hook, alert, alert_contact(client),
                                         levels_for(client.priority_matrix, decision.priority))
            answer = await fire(state, principal, client, AlertSource.ALERTMANAGER,
                                alert.fingerprint, alert.startsAt, report, decision, budget)
        else:
            answer = await end(state, principal, client, AlertSource.ALERTMANAGER,
                               alert.fingerprint, alert.startsAt, AlertEpisodeWorkflow.resolve,
                               resolve_note(hook, alert))
        return AlertResult(fingerprint=alert.fingerprint, status=alert.status,
                           ticket_id=answer.ticket_id, action=answer.action,
                           detail=answer.detail)

    results = await bounded([lambda a=alert: one(a) for alert in hook.alerts])
    deferred = sum(r.action is EpisodeAction.DEFERRED for r in results)
    if deferred:
        raise budget.exceeded(f"{deferred} of {len(results)} alerts would open new incidents "
                              "and were not taken (the others were)", {"alerts": [
                                  r.model_dump(mode="json") for r in results]})
    return results


async def take_event(state: Desk, principal: Principal, event: EventIn) -> EpisodeAnswer:
    """An Events v2 event (trigger, acknowledge, resolve) sent to its episode."""
    may(principal, Action.POST_ALERTS)
    client = alert_client(principal, state)
    key = event.key()
    if event.event_action is EventAction.TRIGGER:
        assert event.payload is not None
        decision = client.alerts.priority_for(event.payload.severity.value)
        report = event_report(event, alert_contact(client),
                              levels_for(client.priority_matrix, decision.priority))
        budget = NewIncidents(state, principal, client)
        answer = await fire(state, principal, client, AlertSource.EVENTS, key, None, report,
                            decision, budget)
        if answer.action is EpisodeAction.DEFERRED:
            raise budget.exceeded("this trigger would open a new incident and was not taken",
                                  {"dedup_key": key})
        return answer
    handler = (AlertEpisodeWorkflow.resolve if event.event_action is EventAction.RESOLVE
               else AlertEpisodeWorkflow.acknowledge)
    what = "resolved" if event.event_action is EventAction.RESOLVE else "acknowledged"
    note = f"Alert {what} at the source (Events v2, dedup_key {one_line(key, 80)})"
    if event.payload is not None:
        note += f": {one_line(event.payload.summary, 500)}"
    return await end(state, principal, client, AlertSource.EVENTS, key, None, handler, note)


def alert_client(principal: Principal, state: Desk) -> ClientConfig:
    """Alerts are the client's own: its integration key says which client they are for."""
    if principal.client_id is None:
        raise NotAClientKey("alerts are posted with the client's own integration key (the "
                            "key names the client), not an MSP key")
    return state.client_config(principal.client_id)


def alert_contact(client: ClientConfig) -> Contact:
    if client.alerts.contact is not None:
        return client.alerts.contact
    mailbox = (client.notifications.email or [f"monitoring@{client.id}.invalid"])[0]
    return Contact(name="Monitoring", email=mailbox)


def resolve_note(hook: AlertmanagerWebhook, alert: AmAlert) -> str:
    labels = {**hook.commonLabels, **alert.labels}
    summary = {**hook.commonAnnotations, **alert.annotations}.get("summary", "")
    ended = alert.endsAt.isoformat() if alert.endsAt else "now"
    note = (f"Alert {labels.get('alertname', alert.fingerprint)} resolved at {ended} "
            f"(firing since {alert.startsAt.isoformat()}), per Alertmanager")
    return one_line(note + (f": {summary}" if summary else ""), 1000)


class NewIncidents:
    """One request's share in its integration key's budget of new incidents a minute
    (desk/rate_limits.py). A firing takes a token before it is sent and gives it back if it
    opened nothing; without a token it is sent only if its episode is open already (a
    repeat costs nothing), and an incident it opens after all is charged."""

    def __init__(self, state: Desk, principal: Principal, client: ClientConfig) -> None:
        self.limiter = state.limiter
        self.principal = principal
        self.per_minute = client.alerts.new_incidents_per_minute
        self._held = 0
        self._settled = asyncio.Event()
        self._settled.set()

    def reserve(self) -> bool:
        if self.limiter.take_new_incident(self.principal, self.per_minute):
            return False
        self._held += 1
        self._settled.clear()
        return True

    async def reserve_when_settled(self) -> bool:
        """Another try once this request's other alerts have settled: tokens they hold
        for what turns out to be repeats come back first."""
        await self._settled.wait()
        return self.reserve()

    def settle(self, reserved: bool, opened: bool) -> None:
        if reserved:
            if not opened:
                self.limiter.give_back_new_incident(self.principal, self.per_minute)
            self._held -= 1
            if self._held == 0:
                self._settled.set()
        elif opened:
            self.limiter.charge_new_incident(self.principal, self.per_minute)

    def exceeded(self, what: str, extensions: dict[str, Any]) -> OverBudget:
        wait = max(1, math.ceil(self.limiter.new_incident_wait(self.principal,
                                                                self.per_minute)))
        return OverBudget(f"{what}: this integration key may open {self.per_minute} new "
                          f"incidents a minute; send them again in {wait} s", wait, extensions)


async def _would_open(state: Desk, client: ClientConfig, source: AlertSource, key: str,
                      starts_at: datetime | None) -> bool:
    """Whether firing ``key`` now would open an incident (its episode read ahead of the
    message; an episode that cannot be read counts as new)."""
    handle = state.temporal.get_workflow_handle_for(
        AlertEpisodeWorkflow.run, alert_workflow_id(client.id, source.value, key))
    try:
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return True  # the next message starts a new run: a new episode
        episode = await handle.query(AlertEpisodeWorkflow.view)
    except (RPCError, WorkflowQueryFailedError):
        return True  # none yet (not found), or unreadable: count it as new
    return opens_incident(episode, starts_at, datetime.now(UTC),
                          client.alerts.flap_window_seconds())


async def fire(state: Desk, principal: Principal, client: ClientConfig,
               source: AlertSource, key: str, starts_at: datetime | None,
               report: IncidentReport, decision: PriorityDecision,
               budget: NewIncidents) -> EpisodeAnswer:
    """Tell the episode the alert fires, with an incident prepared in case it opens one;
    within the key's budget of new incidents (else ``deferred``, nothing sent)."""
    reserved = budget.reserve()
    if not reserved and await _would_open(state, client, source, key, starts_at):
        reserved = await budget.reserve_when_settled()
        if not reserved:
            return EpisodeAnswer(action=EpisodeAction.DEFERRED, detail="over the integration "
                                 "key's budget of new incidents: send it again later")
    opened = False
    try:
        answer = await _fire(state, principal, client, source, key, starts_at, report,
                             decision)
        opened = answer.action is EpisodeAction.OPENED
        return answer
    except (WorkflowUpdateFailedError, TryAgain):
        raise  # refused or to retry: nothing opened
    except BaseException:
        opened = reserved  # unknown outcome: a reserved token stays spent
        raise
    finally:
        budget.settle(reserved, opened)


async def _fire(state: Desk, principal: Principal, client: ClientConfig,
                source: AlertSource, key: str, starts_at: datetime | None,
                report: IncidentReport, decision: PriorityDecision) -> EpisodeAnswer:
    workflow_key = alert_workflow_id(client.id, source.value, key)
    async with state.alert_turns.hold(workflow_key):
        ticket = await state.numbers.next(client.ticket_prefix)
        start = incident_start(client, ticket, report, decision, principal.actor)
        firing = AlertFiring(
            client_id=client.id, source=source, starts_at=starts_at,
            flap_window_seconds=client.alerts.flap_window_seconds(), by=principal.actor,
            incident=start, summary=incident_summary(start),
            details=incident_details(start, client))
        try:
            answer = await _send(state, client, source, key, AlertEpisodeWorkflow.fire, firing)
        except (WorkflowUpdateFailedError, TryAgain) as exc:
            if _cause_type(exc) != TICKET_TAKEN:  # refused by the workflow: number unused
                state.numbers.give_back(ticket)
            raise
        # Any other failure leaves the number unknown: a gap, never a duplicate.
        if answer.ticket_id != ticket:
            state.numbers.give_back(ticket)
    return answer


async def end(state: Desk, principal: Principal, client: ClientConfig,
              source: AlertSource, key: str, starts_at: datetime | None,
              handler: Callable[..., Any], note: str) -> EpisodeAnswer:
    ending = AlertEnding(client_id=client.id, source=source, starts_at=starts_at,
                         flap_window_seconds=client.alerts.flap_window_seconds(),
                         by=principal.actor, note=note)
    async with state.alert_turns.hold(alert_workflow_id(client.id, source.value, key)):
        return await _send(state, client, source, key, handler, ending)


async def _send(state: Desk, client: ClientConfig, source: AlertSource, key: str,
                handler: Callable[..., Any], message: BaseModel) -> EpisodeAnswer:
    start = WithStartWorkflowOperation(
        AlertEpisodeWorkflow.run,
        EpisodeStart(state=EpisodeState(
            client_id=client.id, source=source, key=key[:ALERT_KEY_MAX],
            flap_window_seconds=client.alerts.flap_window_seconds())),
        id=alert_workflow_id(client.id, source.value, key), task_queue=state.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"{source.value} alert {one_line(key, 80)} of {client.id}")
    try:
        return await state.temporal.execute_update_with_start_workflow(
            handler, message, start_workflow_operation=start, result_type=EpisodeAnswer)
    except WorkflowUpdateFailedError as exc:
        if _cause_type(exc) in (RETRY, TICKET_TAKEN):
            raise TryAgain(str(getattr(exc.cause, "message", exc.cause))) from exc
        raise


def _cause_type(exc: BaseException) -> str | None:
    """The workflow's ApplicationError type behind a failed update (or a TryAgain from one)."""
    if isinstance(exc, TryAgain):
        exc = exc.__cause__ or exc
    cause = getattr(exc, "cause", None)
    return cause.type if isinstance(cause, ApplicationError) else None


async def bounded(calls: list[Callable[[], Awaitable[AlertResult]]]) -> list[AlertResult]:
    """Run ``calls`` at most :data:`PARALLEL` at a time, all to the end; then raise the
    first failure (the sender retries the whole webhook; what was done repeats harmlessly)."""
    gate = asyncio.Semaphore(PARALLEL)

    async def run(call: Callable[[], Awaitable[AlertResult]]) -> AlertResult:
        async with gate:
            return await call()

    outcomes = await asyncio.gather(*(run(c) for c in calls), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return [o for o in outcomes if isinstance(o, AlertResult)]
