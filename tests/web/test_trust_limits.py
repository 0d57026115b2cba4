"""Limits on work, not only on requests (issue 18): a SCIM filter is refused by its length
before anything parses it and is parsed off the event loop; alerts count against a budget
of new incidents per integration key. Each test failed on the code before its fix."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from desk.principal import Principal
from desk.rate_limits import RateLimiter
from domain.alerts import AlertRules, AlertSource, EpisodeState, EpisodeStatus, opens_incident
from domain.ids import alert_workflow_id
from domain.roles import Role
from domain.scim import FILTER_MAX_CHARS, PATCH_PATH_MAX_CHARS
from domain.tenants import TempodeskConfig
from tests.conftest import Desk, isolated, make_settings, running_desk
from tests.processes import api, child_env, drill_config
from tests.web.helpers import assert_problem, eventually
from tests.web.test_alerts import AM, am_alert, am_webhook, event, incidents_of, now

SCIM = "/scim/v2"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# About a megabyte of filter that parses (a long chain of comparisons): 3.5 s of pure
# Python on the event loop before its length was checked.
MEGABYTE_FILTER = " and ".join(['userName eq "a"'] * 40_000)
# The most a filter within the limit can ask: value filters, each parsed and matched.
COMPLEX_FILTER = ('emails[type eq "work" and value co "@"] and ' * 40)[:FILTER_MAX_CHARS - 12] \
    .rsplit(" and ", 1)[0] + " and title pr"


def scim_error(response: httpx.Response, status: int, scim_type: str | None = None) -> str:
    """The SCIM error's detail, after checking its shape (RFC 7644 §3.12)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status), body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body["detail"]


def hr_system(client: str = "belton") -> dict[str, str]:
    return {"Authorization": f"Bearer td_{client}_integration_demo",
            "Content-Type": "application/scim+json"}


async def test_a_long_filter_is_refused_by_its_length_before_it_is_parsed(desk):
    """Too long is said before anything parses: a filter that does not even parse is
    refused for its length (the old answer, 'invalid syntax at column 1000000', came
    after the parse), and so are attribute lists, sort keys and PATCH paths."""
    headers = hr_system()
    assert len(COMPLEX_FILTER) <= FILTER_MAX_CHARS
    unparsable = "(" * 50_000
    searched = await desk.http.post(f"{SCIM}/.search", headers=headers,
                                    json={"schemas": [SEARCH], "filter": unparsable})
    assert f"at most {FILTER_MAX_CHARS} characters" in scim_error(searched, 400,
                                                                  "invalidFilter")
    listed = await desk.http.get(f"{SCIM}/Users", headers=headers,
                                 params={"filter": "(" * 20_000})
    assert f"at most {FILTER_MAX_CHARS} characters" in scim_error(listed, 400, "invalidFilter")
    # A megabyte is over what any SCIM request needs (a stored user is at most 16 KiB).
    huge = await desk.http.post(f"{SCIM}/.search", headers=headers,
                                json={"schemas": [SEARCH], "filter": MEGABYTE_FILTER})
    assert "bytes" in scim_error(huge, 413)
    attributes = ",".join(["userName"] * 300)
    for sent in ({"attributes": attributes}, {"excludedAttributes": attributes}):
        wide = await desk.http.get(f"{SCIM}/Users", headers=headers, params=sent)
        assert "characters" in scim_error(wide, 400, "invalidValue")
    sorted_by = await desk.http.post(f"{SCIM}/Users/.search", headers=headers,
                                     json={"schemas": [SEARCH], "sortBy": "a" * 5000})
    assert "sortBy" in scim_error(sorted_by, 400, "invalidValue")
    long_path = 'emails[' + " and ".join(['type eq "work"'] * 300) + '].value'
    patched = await desk.http.patch(f"{SCIM}/Users/no-such-user", headers=headers, json={
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": long_path,
                                               "value": "x"}]})
    assert f"at most {PATCH_PATH_MAX_CHARS} characters" in scim_error(patched, 400,
                                                                     "invalidPath")
    # Within the limits, the most complex filter is answered (the client has no users).
    complex_search = await desk.http.post(f"{SCIM}/.search", headers=headers,
                                          json={"schemas": [SEARCH], "filter": COMPLEX_FILTER})
    assert complex_search.status_code == 200, complex_search.text
    assert complex_search.json()["totalResults"] == 0


async def test_filters_are_read_and_matched_off_the_event_loop(desk, monkeypatch):
    """What a filter costs grows with the filter (pure Python, ~7 us a character): the
    parse, the match against the users and the page's serialising run in a thread, never
    on the event loop that answers every other request (the health test below cannot tell:
    within the length limit a filter costs milliseconds)."""
    import threading

    from api.routes import scim as routes

    loop_thread = threading.get_ident()
    ran_in: dict[str, int] = {}

    def recorded(name: str, real):
        def run(*args, **kwargs):
            ran_in[name] = threading.get_ident()
            return real(*args, **kwargs)
        return run

    for name in ("validated", "_matching", "_listing"):
        monkeypatch.setattr(routes, name, recorded(name, getattr(routes, name)))
    answer = await desk.http.post(f"{SCIM}/.search", headers=hr_system(),
                                  json={"schemas": [SEARCH], "filter": COMPLEX_FILTER})
    assert answer.status_code == 200, answer.text
    assert set(ran_in) == {"validated", "_matching", "_listing"}
    assert loop_thread not in ran_in.values(), ran_in


async def test_health_answers_while_oversize_and_complex_filters_are_in_flight(dev_client,
                                                                              tmp_path):
    """`tempodesk api` as deployed (its own process and event loop): while megabyte
    filters, long query filters and the most complex filters within the limit are being
    answered, /healthz answers 200 every time. Before, three megabyte filters held the
    event loop for seconds each and /healthz answered 503."""
    address = dev_client.service_client.config.target_host
    config, _, _ = drill_config(tmp_path / "tempodesk.yaml")
    child = api(child_env(address, f"tq-{tmp_path.name[-12:]}", config), tmp_path / "api.log")
    try:
        await asyncio.to_thread(child.wait_healthy)
        headers = hr_system()
        async with httpx.AsyncClient(base_url=child.base, timeout=120) as http:
            flood = [
                *(http.post(f"{SCIM}/.search", headers=headers,
                            json={"schemas": [SEARCH], "filter": MEGABYTE_FILTER})
                  for _ in range(4)),
                *(http.get(f"{SCIM}/Users", headers=headers,
                           params={"filter": " and ".join(['userName eq "a"'] * 1500)})
                  for _ in range(4)),
                *(http.post(f"{SCIM}/.search", headers=headers,
                            json={"schemas": [SEARCH], "filter": COMPLEX_FILTER})
                  for _ in range(8)),
            ]
            in_flight = [asyncio.create_task(request) for request in flood]
            health: list[int] = []
            while not health or not all(task.done() for task in in_flight):
                health.append((await http.get("/healthz")).status_code)
            answers = [task.result().status_code for task in in_flight]
        assert health and set(health) == {200}, health
        assert answers == [413] * 4 + [400] * 4 + [200] * 8, answers
        assert child.process.poll() is None, child.log_tail()
    finally:
        child.stop()


# ------------------------------------------------------------------ alerts: new incidents

def budgeted(config: TempodeskConfig, per_minute: int) -> TempodeskConfig:
    """The demo config, isolated, every client's integration key allowed ``per_minute``
    new incidents a minute (refilled one every 60/n s: slower than any test here)."""
    base = isolated(config)
    return base.model_copy(update={"clients": [
        c.model_copy(update={"alerts": AlertRules(new_incidents_per_minute=per_minute)})
        for c in base.clients]})


@pytest.fixture
async def alert_desk(dev_client, config, task_queue):
    async with running_desk(dev_client, budgeted(config, 3),
                            make_settings(task_queue=task_queue)) as desk:
        yield desk


async def episode_exists(desk: Desk, client: str, source: str, key: str) -> bool:
    handle = desk.client.get_workflow_handle(alert_workflow_id(desk.client_id(client), source,
                                                               key))
    try:
        await handle.describe()
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND, exc
        return False
    return True


async def test_one_webhook_opens_no_more_incidents_than_the_keys_budget(alert_desk):
    """Ten distinct critical alerts in one webhook, three new incidents a minute: three
    open, seven are not even sent (429, Retry-After, each alert's outcome listed). The
    group sent again, as Alertmanager does, opens nothing more, and the alerts of the open
    episodes are still taken: repeats, and a resolve that resolves its incident."""
    desk = alert_desk
    headers = desk.as_("belton", "integration")
    starts = now() - timedelta(minutes=1)
    fingerprints = [f"{n:016x}" for n in range(0xa1, 0xa1 + 10)]
    storm = am_webhook(*(am_alert(f, starts) for f in fingerprints))
    first = await desk.http.post(AM, json=storm, headers=headers)
    problem = assert_problem(first, 429)
    assert int(first.headers["Retry-After"]) >= 1
    assert "3 new incidents a minute" in problem["detail"]
    actions = {a["fingerprint"]: a["action"] for a in problem["alerts"]}
    assert sorted(actions.values()) == ["deferred"] * 7 + ["opened"] * 3, problem
    opened = [f for f, action in actions.items() if action == "opened"]
    # At once (the budget refills one every 20 s), the group again, as Alertmanager sends it.
    again = await desk.http.post(AM, json=storm, headers=headers)
    again_actions = {a["fingerprint"]: a["action"]
                     for a in assert_problem(again, 429)["alerts"]}
    assert {again_actions[f] for f in opened} == {"repeat"}, again_actions
    assert sorted(again_actions.values()) == ["deferred"] * 7 + ["repeat"] * 3
    for fingerprint, action in actions.items():  # nothing sent for a deferred alert
        assert await episode_exists(desk, "belton", "alertmanager", fingerprint) == (
            action == "opened")
    await eventually(lambda: incidents_of(desk, "belton"), lambda n: n == 3)

    ended = await desk.http.post(AM, headers=headers, json=am_webhook(
        am_alert(opened[0], starts, status="resolved", ends_at=now()),
        *(am_alert(f, starts) for f in opened[1:])))
    assert ended.status_code == 200, ended.text
    assert [a["action"] for a in ended.json()["alerts"]] == ["resolved", "repeat", "repeat"]
    assert await incidents_of(desk, "belton") == 3


async def test_events_count_against_the_same_budget(dev_client, config, task_queue):
    """Events v2: one new incident a minute; a second new dedup_key is 429 with
    Retry-After and never sent; the first one triggered again is still taken."""
    async with running_desk(dev_client, budgeted(config, 1),
                            make_settings(task_queue=task_queue)) as desk:
        headers = desk.as_("betterworld", "integration")
        first = await desk.http.post("/v1/events", json=event("trigger", "vpn-gw01"),
                                     headers=headers)
        assert first.status_code == 202 and first.json()["action"] == "opened", first.text
        second = await desk.http.post("/v1/events", json=event("trigger", "vpn-gw02"),
                                      headers=headers)
        problem = assert_problem(second, 429)
        assert problem["dedup_key"] == "vpn-gw02" and int(second.headers["Retry-After"]) >= 1
        assert not await episode_exists(desk, "betterworld", "events", "vpn-gw02")
        repeat = await desk.http.post("/v1/events", json=event("trigger", "vpn-gw01"),
                                      headers=headers)
        assert repeat.status_code == 202 and repeat.json()["action"] == "repeat", repeat.text
        # Another key of the same client has its own budget.
        other = await desk.http.post("/v1/events", json=event("trigger", "vpn-gw03"),
                                     headers=desk.as_("belton", "integration"))
        assert other.status_code == 202 and other.json()["action"] == "opened", other.text


async def test_a_webhook_carries_at_most_max_alerts(alert_desk):
    """A webhook is work in proportion to its alerts: more than 100 is refused before any
    is read, and the fix names Alertmanager's own setting."""
    alerts = [am_alert(f"{n:016x}", now()) for n in range(101)]
    response = await alert_desk.http.post(AM, json=am_webhook(*alerts),
                                          headers=alert_desk.as_("belton", "integration"))
    [error] = assert_problem(response, 422)["errors"]
    assert error["field"] == "alerts" and "max_alerts: 100" in error["fix"], error
    assert await incidents_of(alert_desk, "belton") == 0


def test_a_firing_is_forecast_as_the_episode_will_decide():
    """The forecast the budget relies on, case by case as AlertEpisodeWorkflow._fire
    decides: only a firing that would open an incident needs a token."""
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    window = 1800
    quiet = EpisodeState(client_id="c", source=AlertSource.ALERTMANAGER, key="k")
    firing = quiet.model_copy(update={"status": EpisodeStatus.FIRING, "ticket_id": "BEL-000001",
                                      "starts_at": at})
    resolved = firing.model_copy(update={"status": EpisodeStatus.RESOLVED,
                                         "resolved_at": at + timedelta(minutes=10)})
    later = at + timedelta(minutes=20)
    assert opens_incident(None, at, later, window)                   # no episode yet
    assert opens_incident(quiet, at, later, window)                  # nothing fired yet
    assert not opens_incident(firing, at, later, window)             # a repeat
    assert not opens_incident(firing, None, later, window)           # Events v2 repeat
    assert not opens_incident(resolved, at + timedelta(minutes=15), later, window)  # reopen
    assert not opens_incident(resolved, at, later, window)           # the resolved one, late
    assert not opens_incident(resolved, at - timedelta(hours=1), later, window)  # stale
    assert opens_incident(resolved, at + timedelta(hours=1), at + timedelta(hours=1),
                          window)                                    # after the window


def test_the_new_incident_budget_is_given_back_by_repeats_and_charged_for_surprises():
    limiter = RateLimiter(TempodeskConfig(clients=[]), replicas=2)
    key = Principal.of_client("belton", Role.INTEGRATION, "belton-integration", "api_key")
    other = Principal.of_client("belton", Role.INTEGRATION, "belton-other", "api_key")
    t = 1000.0
    assert [limiter.take_new_incident(key, 4, now=t) for _ in range(2)] == [0, 0]  # 4/2 each
    assert limiter.take_new_incident(key, 4, now=t) == pytest.approx(30)  # 2 a minute here
    assert limiter.take_new_incident(other, 4, now=t) == 0               # per key
    limiter.give_back_new_incident(key, 4)                               # it was a repeat
    assert limiter.take_new_incident(key, 4, now=t) == 0
    limiter.charge_new_incident(key, 4, now=t)                           # opened unforeseen
    assert limiter.new_incident_wait(key, 4, now=t) == pytest.approx(60)  # a debt of one
