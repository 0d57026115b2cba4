"""SCIM 2.0 at /scim/v2 over real HTTP on the dev server: scim2-tester's conformance checks,
Okta's and Entra's deactivations each opening exactly one user exit that revokes access
(against the local Graph of tests/provider_servers.py), a create opening an onboarding,
the integration role only, SCIM's error format, and `userName eq` filters."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from scim2_client import BaseSyncSCIMClient
from scim2_tester import Status, check_server

from domain.tenants import Providers
from tests.conftest import isolated, make_settings, running_desk
from tests.provider_servers import ProviderServer
from tests.web.helpers import eventually

SCIM = "/scim/v2"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ONBOARDING = "urn:tempodesk:params:scim:schemas:extension:onboarding:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
UPN = "jo.tran@harbourside.example"   # the provider server knows Jo's licences


class HttpxScimClient(BaseSyncSCIMClient):
    """scim2-client over httpx, the project's HTTP client (its own engine wants httpx2)."""

    def __init__(self, http: httpx.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = http

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, url, **kwargs)

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def _stays_under_base_url(self, endpoint: str) -> bool:
        url, base = self.client.build_request("GET", endpoint).url, self.client.base_url
        return url.netloc == base.netloc and url.raw_path.startswith(base.raw_path)


@pytest.fixture
async def scim(dev_client, config, task_queue):
    with ProviderServer() as providers:
        base = isolated(config)
        clients = [c.model_copy(update={"providers": Providers(graph_tenant="contoso-tenant")})
                   for c in base.clients]
        settings = make_settings(
            task_queue=task_queue, graph_url=f"{providers.base}/graph",
            graph_login_url=f"{providers.base}/login", graph_client_id="tempodesk-app",
            graph_client_secret="app-secret", sentinelone_url=f"{providers.base}/s1",
            sentinelone_token=ProviderServer.S1_TOKEN)
        async with running_desk(dev_client, base.model_copy(update={"clients": clients}),
                                settings) as desk:
            yield desk, providers


def hr_system(desk) -> dict[str, str]:
    return {**desk.as_("belton", "integration"), "Content-Type": "application/scim+json"}


def new_user(user_name: str = UPN, **changes) -> dict:
    user = {"schemas": [CORE, ENTERPRISE], "userName": user_name, "active": True,
            "name": {"givenName": "Jo", "familyName": "Tran"}, "displayName": "Jo Tran",
            "title": "Paralegal", "emails": [{"value": user_name, "type": "work",
                                              "primary": True}],
            ENTERPRISE: {"department": "Litigation"}}
    user.update(changes)
    return user


async def tickets(desk, kind: str) -> list[dict]:
    listed = await desk.http.get("/v1/tickets", params={"kind": kind},
                                 headers=desk.as_("belton", "agent"))
    assert listed.status_code == 200, listed.text
    return listed.json()["tickets"]


async def ticket(desk, ticket_id: str) -> dict:
    shown = await desk.http.get(f"/v1/tickets/{ticket_id}", headers=desk.as_("belton", "agent"))
    assert shown.status_code == 200, shown.text
    return shown.json()


def assert_scim_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"]
    return body


async def test_scim2_tester_finds_no_failing_check(scim):
    desk, _ = scim

    def run():
        with httpx.Client(base_url=f"{desk.base_url}{SCIM}", timeout=30,
                          headers=desk.as_("belton", "integration")) as http:
            return check_server(HttpxScimClient(http))

    results = await asyncio.to_thread(run)
    counts = Counter(result.status.name for result in results)
    print(f"\nscim2-tester: {len(results)} checks: "
          + ", ".join(f"{n} {name.lower()}" for name, n in sorted(counts.items())))
    for result in results:
        if result.status is not Status.SUCCESS:
            print(f"  {result.status.name} {result.title}: {result.reason}")
    failing = [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    assert not failing, "\n".join(f"{r.title}: {r.reason} {r.data!r}"[:600] for r in failing)
    assert counts["SUCCESS"] >= 50  # discovery, CRUD and PATCH were all exercised
