"""Monitoring alerts through the real API on the dev server: Alertmanager v4 webhooks and
Events v2, one incident per alert episode.

The demo config is isolated and given alert rules: Belton maps critical to P2 and warning
to P4 (not the defaults) with a 60 s flap window; BetterWorld keeps the default mapping with
a 2 s flap window, so its episodes end within the test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from api.app import create_app
from domain.alerts import AlertRules, AlertSource
from domain.ids import alert_workflow_id
from domain.tenants import TempodeskConfig
from tests.conftest import Desk, isolated, make_settings, running_desk, served
from tests.web.helpers import assert_problem, eventually, incident_body

AM = "/v1/alerts/alertmanager"


def alert_config(config: TempodeskConfig) -> TempodeskConfig:
    base = isolated(config)
    rules = {
        "belton": AlertRules(severity_priority={"critical": "P2", "warning": "P4"},
                             default_priority="P3", flap_window="60s"),
        "betterworld": AlertRules(flap_window="2s"),
    }
    return base.model_copy(update={"clients": [
        c.model_copy(update={"alerts": rules.get(c.id.rsplit("-", 1)[0], AlertRules())})
        for c in base.clients]})


@contextlib.asynccontextmanager
async def api_replica(desk: Desk) -> AsyncIterator[Desk]:
    """A second API replica of ``desk`` (its own app: own number pool, own turns), served
    on loopback beside it; the worker stays ``desk``'s. What an HA pair of Alertmanagers
    behind a load balancer reaches."""
    app = create_app(desk.settings, desk.config, desk.client)
    async with served(app) as (base, http):
        yield Desk(desk.client, desk.settings, desk.config, base, http)


@pytest.fixture
async def desk(dev_client, config, task_queue) -> AsyncIterator[Desk]:
    async with running_desk(dev_client, alert_config(config),
                            make_settings(task_queue=task_queue)) as one:
        yield one


def am_alert(fingerprint: str, starts_at: datetime, status: str = "firing",
             severity: str | None = "critical", alertname: str = "NodeFilesystemFull",
             ends_at: datetime | None = None) -> dict:
    labels = {"alertname": alertname, "instance": "fs01.harbourside.lan:9100", "job": "node",
              "mountpoint": "/srv"}
    if severity is not None:
        labels["severity"] = severity
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": "Filesystem /srv on fs01 is 97% full",
                        "description": "Only 3% space left on /srv.",
                        "runbook_url": "https://runbooks.example/node-fs-full"},
        "startsAt": starts_at.isoformat().replace("+00:00", "Z"),
        "endsAt": (ends_at.isoformat().replace("+00:00", "Z") if ends_at
                   else "0001-01-01T00:00:00Z"),
        "generatorURL": "http://prometheus.harbourside.lan:9090/graph?g0.expr=node_fs",
        "fingerprint": fingerprint,
    }


def am_webhook(*alerts: dict) -> dict:
    """As Alertmanager's webhook notifier sends it (version 4)."""
    name = alerts[0]["labels"]["alertname"]
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": "tempodesk",
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts),
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "job": "node"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.harbourside.lan:9093",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
    }


def integration(desk: Desk, client: str) -> dict[str, str]:
    return desk.as_(client, "integration")


async def post(desk: Desk, path: str, body: dict, client: str):
    return await desk.http.post(path, json=body, headers=integration(desk, client))


async def ticket(desk: Desk, ticket_id: str, client: str) -> dict:
    response = await desk.http.get(f"/v1/tickets/{ticket_id}", headers=desk.as_(client, "agent"))
    assert response.status_code == 200, response.text
    return response.json()


async def children_started(desk: Desk, workflow_id: str) -> int:
    """Incidents the episode workflow started (all its runs), from its histories."""
    count = 0
    async for execution in desk.client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        history = await desk.client.get_workflow_handle(
            workflow_id, run_id=execution.run_id).fetch_history()
        count += sum(1 for e in history.events if e.event_type
                     == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)
    return count


async def incidents_of(desk: Desk, client: str) -> int:
    query = (f"TicketKind = 'incident' AND ClientId = '{desk.client_id(client)}' "
             "AND ExecutionStatus != 'ContinuedAsNew'")  # one row per ticket
    return (await desk.client.count_workflows(query)).count


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# ------------------------------------------------------------------ Alertmanager


async def test_the_same_alert_posted_20_times_at_once_opens_one_incident(desk):
    """20 concurrent copies across two API replicas (an HA pair of Alertmanagers); then
    the resolve resolves it; once the episode is over, a new firing opens a new one."""
    a = desk
    async with api_replica(desk) as b:
        starts = now() - timedelta(minutes=5)
        body = am_webhook(am_alert("7f3c2a9e1b0d4c5e", starts))
        responses = await asyncio.gather(*(post(a if i % 2 else b, AM, body, "betterworld")
                                           for i in range(20)))
        for response in responses:
            assert response.status_code == 200, response.text
        results = [r.json()["alerts"][0] for r in responses]
        tickets = {r["ticket_id"] for r in results}
        assert len(tickets) == 1 and None not in tickets, results
        first = tickets.pop()
        assert sorted(r["action"] for r in results) == ["opened"] + ["repeat"] * 19

        episode = alert_workflow_id(a.client_id("betterworld"), "alertmanager",
                                    "7f3c2a9e1b0d4c5e")
        assert await children_started(a, episode) == 1
        await eventually(lambda: incidents_of(a, "betterworld"), lambda n: n >= 1)
        await asyncio.sleep(1)  # visibility settles: still exactly one
        assert await incidents_of(a, "betterworld") == 1

        shown = await ticket(a, first, "betterworld")
        assert (shown["kind"], shown["channel"], shown["status"]) == (
            "incident", "monitoring", "new")
        assert shown["priority"] == "P1"  # BetterWorld keeps the default: critical -> P1
        assert shown["subject"].startswith("NodeFilesystemFull on fs01.harbourside.lan:9100")

        # The resolve resolves it, with the alert's note.
        ended = now()
        resolved = await post(b, AM, am_webhook(am_alert(
            "7f3c2a9e1b0d4c5e", starts, status="resolved", ends_at=ended)), "betterworld")
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["alerts"][0] == {
            "fingerprint": "7f3c2a9e1b0d4c5e", "status": "resolved", "ticket_id": first,
            "action": "resolved", "detail": ""}
        shown = await ticket(a, first, "betterworld")
        assert shown["status"] == "resolved"
        note = next(e for e in shown["events"] if e["kind"] == "status:resolved")
        assert note["detail"].startswith("Alert NodeFilesystemFull resolved at "
                                         f"{ended.isoformat()}")
        assert note["by"] == "integration:betterworld-integration"

        # 2 s later the episode is over and its workflow has ended ...
        handle = a.client.get_workflow_handle(episode)

        async def status():
            return (await handle.describe()).status

        await eventually(status, lambda s: s == WorkflowExecutionStatus.COMPLETED, timeout=20)
        # ... so the alert's next firing is a new episode: a new incident.
        again = await post(a, AM, am_webhook(am_alert("7f3c2a9e1b0d4c5e", now())),
                           "betterworld")
        assert again.status_code == 200, again.text
        second = again.json()["alerts"][0]
        assert second["action"] == "opened" and second["ticket_id"] != first
        assert (await ticket(a, first, "betterworld"))["status"] == "resolved"
        assert await children_started(a, episode) == 2


async def test_flapping_within_the_window_reopens_the_same_incident(desk):
    starts = now() - timedelta(minutes=2)
    opened = await post(desk, AM, am_webhook(am_alert("00aa11bb22cc33dd", starts)), "belton")
    first = opened.json()["alerts"][0]
    assert first["action"] == "opened", first
    incident = first["ticket_id"]
    resolved = await post(desk, AM, am_webhook(am_alert(
        "00aa11bb22cc33dd", starts, status="resolved", ends_at=now())), "belton")
    assert resolved.json()["alerts"][0]["action"] == "resolved"

    # It fires again a moment later (a new startsAt): the same incident, reopened.
    restarts = now()
    flapped = await post(desk, AM, am_webhook(am_alert("00aa11bb22cc33dd", restarts)), "belton")
    assert flapped.json()["alerts"][0] == {
        "fingerprint": "00aa11bb22cc33dd", "status": "firing", "ticket_id": incident,
        "action": "reopened", "detail": ""}
    shown = await ticket(desk, incident, "belton")
    assert shown["status"] == "in_progress" and shown["reopen_count"] == 1
    reopen = [e for e in shown["events"] if e["kind"] == "status:in_progress"][-1]
    assert "fired again" in reopen["detail"] and "flap window 60 s" in reopen["detail"]

    # An HA peer's late copy of the first episode's firing changes nothing.
    late = await post(desk, AM, am_webhook(am_alert("00aa11bb22cc33dd", starts)), "belton")
    assert late.json()["alerts"][0]["action"] == "stale"
    assert (await ticket(desk, incident, "belton"))["status"] == "in_progress"

    # Resolved again, and the second resolve (the HA copy) is only a repeat.
    for expected in ("resolved", "repeat"):
        again = await post(desk, AM, am_webhook(am_alert(
            "00aa11bb22cc33dd", restarts, status="resolved", ends_at=now())), "belton")
        assert again.json()["alerts"][0]["action"] == expected
    shown = await ticket(desk, incident, "belton")
    assert shown["status"] == "resolved" and shown["reopen_count"] == 1

    # The numbers the reopen and the stale copy took went back: no gap before the next ticket.
    raised = await desk.http.post("/v1/incidents", json=incident_body(),
                                  headers=desk.as_("belton", "requester"))
    assert incident == f"{desk.prefix('belton')}-000001"
    assert raised.json()["ticket_id"] == f"{desk.prefix('belton')}-000002"


async def test_severity_maps_to_the_clients_priority(desk):
    starts = now()
    alerts = [am_alert("c0ffee01", starts, severity="critical"),
              am_alert("c0ffee02", starts, severity="WARNING"),
              am_alert("c0ffee03", starts, severity="info"),
              am_alert("c0ffee04", starts, severity=None)]
    response = await post(desk, AM, am_webhook(*alerts), "belton")
    assert response.status_code == 200, response.text
    results = {r["fingerprint"]: r for r in response.json()["alerts"]}
    assert {r["action"] for r in results.values()} == {"opened"}
    assert len({r["ticket_id"] for r in results.values()}) == 4
    expected = {"c0ffee01": ("P2", "alert severity=critical"),     # Belton's override
                "c0ffee02": ("P4", "alert severity=warning"),      # override, any case
                "c0ffee03": ("P4", "alert severity=info"),         # the default table
                "c0ffee04": ("P3", "alert severity=(none): unmapped, the client's default")}
    for fingerprint, (priority, rule) in expected.items():
        shown = await ticket(desk, results[fingerprint]["ticket_id"], "belton")
        assert (shown["priority"], shown["priority_rule"]) == (priority, rule), fingerprint


# ------------------------------------------------------------------ Events v2


def event(action: str, dedup_key: str | None = None, **payload) -> dict:
    body: dict = {"routing_key": "R0UT1NGK3Y0000000000000000000000", "event_action": action}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    if payload or action == "trigger":
        body["payload"] = {"summary": "PING 10.0.0.5 timed out", "source": "gw01.hudson.lan",
                           "severity": "error", "component": "vpn", "group": "network",
                           "class": "ping", "custom_details": {"loss": "100%"}, **payload}
    return body


async def test_events_v2_trigger_acknowledge_resolve_by_dedup_key(desk):
    trigger = await post(desk, "/v1/events", event("trigger", "vpn-gw01"), "betterworld")
    assert trigger.status_code == 202, trigger.text
    opened = trigger.json()
    assert (opened["status"], opened["message"], opened["dedup_key"], opened["action"]) == (
        "success", "Event processed", "vpn-gw01", "opened")
    incident = opened["ticket_id"]
    shown = await ticket(desk, incident, "betterworld")
    assert (shown["priority"], shown["channel"], shown["subject"]) == (
        "P2", "monitoring", "PING 10.0.0.5 timed out")  # error -> P2 by default

    again = await post(desk, "/v1/events", event("trigger", "vpn-gw01"), "betterworld")
    assert (again.json()["action"], again.json()["ticket_id"]) == ("repeat", incident)

    ack = await post(desk, "/v1/events", event("acknowledge", "vpn-gw01"), "betterworld")
    assert ack.status_code == 202 and ack.json()["action"] == "acknowledged"
    shown = await ticket(desk, incident, "betterworld")
    assert shown["status"] == "acknowledged" and shown["first_response_at"] is not None

    resolve = await post(desk, "/v1/events", event("resolve", "vpn-gw01"), "betterworld")
    assert (resolve.json()["action"], resolve.json()["ticket_id"]) == ("resolved", incident)
    shown = await ticket(desk, incident, "betterworld")
    assert shown["status"] == "resolved"
    note = next(e for e in shown["events"] if e["kind"] == "status:resolved")
    assert note["detail"] == "Alert resolved at the source (Events v2, dedup_key vpn-gw01)"

    # Resolving an alert nobody triggered touches no incident.
    unknown = await post(desk, "/v1/events", event("resolve", "never-seen"), "betterworld")
    assert (unknown.json()["action"], unknown.json()["ticket_id"]) == ("no_incident", None)


async def test_events_trigger_without_dedup_key_is_deduplicated_by_content(desk):
    first = await post(desk, "/v1/events", event("trigger"), "plexacet")
    second = await post(desk, "/v1/events", event("trigger"), "plexacet")
    assert first.status_code == second.status_code == 202
    assert first.json()["dedup_key"] == second.json()["dedup_key"]
    assert first.json()["dedup_key"].startswith("td-")
    assert [first.json()["action"], second.json()["action"]] == ["opened", "repeat"]
    other = await post(desk, "/v1/events", event("trigger", summary="Disk latency high"),
                       "plexacet")
    assert other.json()["action"] == "opened"
    assert other.json()["ticket_id"] != first.json()["ticket_id"]


async def test_a_ticket_number_already_taken_is_503_and_never_used_again(desk):
    """Numbers are unique by construction; if one were taken anyway the sender is told to
    retry (503), and the retry gets the next number: a gap, never a loop or a duplicate."""
    taken = f"{desk.prefix('plexacet')}-000001"
    await desk.client.start_workflow("Placeholder", id=f"incident:{taken}",
                                     task_queue=f"nowhere-{desk.settings.task_queue}")
    body = am_webhook(am_alert("0badc0de", now()))
    refused = await post(desk, AM, body, "plexacet")
    problem = assert_problem(refused, 503)
    assert refused.headers["retry-after"] == "5" and taken in problem["detail"]
    retried = await post(desk, AM, body, "plexacet")
    assert retried.status_code == 200, retried.text
    assert retried.json()["alerts"][0]["ticket_id"] == f"{desk.prefix('plexacet')}-000002"
    await desk.client.get_workflow_handle(f"incident:{taken}").terminate("test over")


# ------------------------------------------------------------------ refusals


async def test_only_the_clients_integration_key_posts_alerts(desk):
    body = am_webhook(am_alert("deadbeef", now()))
    for headers in (desk.as_("belton", "requester"), desk.as_("belton", "agent"),
                    {"Authorization": "Bearer td_msp_agent_demo"}):
        for path, payload in ((AM, body), ("/v1/events", event("trigger", "x"))):
            response = await desk.http.post(path, json=payload, headers=headers)
            assert_problem(response, 403)
    response = await desk.http.post(AM, json=body)
    assert_problem(response, 401)
    assert await incidents_of(desk, "belton") == 0


@pytest.mark.parametrize(("path", "change", "field"), [
    (AM, lambda b: b.update(version="3"), "version"),
    (AM, lambda b: b.update(alerts=[]), "alerts"),
    (AM, lambda b: b.update(alerts=b["alerts"] * 101), "alerts"),
    (AM, lambda b: b["alerts"][0].pop("fingerprint"), "alerts[0].fingerprint"),
    (AM, lambda b: b["alerts"][0].update(status="pending"), "alerts[0].status"),
    (AM, lambda b: b["alerts"][0].update(startsAt="2026-03-02T09:00:00"), "alerts[0].startsAt"),
    (AM, lambda b: b["alerts"][0]["labels"].update({f"l{i}": "x" for i in range(64)}),
     "alerts[0].labels"),
    (AM, lambda b: b["alerts"][0]["labels"].update(instance="x" * 1025),
     "alerts[0].labels.instance"),
    (AM, lambda b: b["alerts"][0]["annotations"].update(description="x" * 4097),
     "alerts[0].annotations.description"),
    ("/v1/events", lambda b: b.update(event_action="snooze"), "event_action"),
    ("/v1/events", lambda b: b.pop("payload"), "payload"),
    ("/v1/events", lambda b: b["payload"].update(severity="fatal"), "payload.severity"),
    ("/v1/events", lambda b: b["payload"].pop("source"), "payload.source"),
    ("/v1/events", lambda b: b["payload"].update(custom_details={"x": "y" * 9000}),
     "payload.custom_details"),
    ("/v1/events", lambda b: b.update(event_action="resolve", dedup_key=None), "dedup_key"),
])
async def test_bad_payloads_are_refused_naming_the_field(desk, path, change, field):
    body = am_webhook(am_alert("feedface", now())) if path == AM else event("trigger", "k1")
    change(body)
    if body.get("dedup_key", "") is None:
        del body["dedup_key"]
    response = await post(desk, path, body, "belton")
    problem = assert_problem(response, 422)
    assert field in [e["field"] for e in problem["errors"]], problem
    assert all(e["fix"] for e in problem["errors"])


async def test_a_body_that_is_not_json_is_400(desk):
    response = await desk.http.post(AM, content=b"{not json", headers={
        **integration(desk, "belton"), "Content-Type": "application/json"})
    assert_problem(response, 400)


def test_alert_sources_have_separate_episodes():
    """The same key from Alertmanager and from Events v2 are two alerts."""
    ids = {alert_workflow_id("belton", source.value, "abc") for source in AlertSource}
    assert len(ids) == 2 and all(i.startswith("alert:belton:") for i in ids)


@pytest.mark.parametrize(("rules", "message"), [
    ({"flap_window": "1bd"}, "the flap window runs 24x7"),
    ({"flap_window": "8d"}, "at most '7d'"),
    ({"severity_priority": {"critical": "P0"}}, "Input should be 'P1'"),
    ({"severity": "critical"}, "Extra inputs are not permitted"),
])
def test_alert_rules_in_the_config_are_checked(rules, message):
    with pytest.raises(ValueError, match=message):
        AlertRules.model_validate(rules)
