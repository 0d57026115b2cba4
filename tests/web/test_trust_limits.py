"""Limits on work, not only on requests (issue 18): a SCIM filter is refused by its length
before anything parses it and is parsed off the event loop; alerts count against a budget
of new incidents per integration key. Each test failed on the code before its fix."""

from __future__ import annotations

import asyncio

import httpx

from domain.scim import FILTER_MAX_CHARS, PATCH_PATH_MAX_CHARS
from tests.processes import api, child_env, drill_config

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
