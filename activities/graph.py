"""HTTP clients for the providers an MSP drives, shared by the provider activities:
Microsoft Graph (OAuth 2.0 client credentials of the MSP's multi-tenant app, per client
tenant), Datto RMM (its OAuth password grant with the API key and secret) and SentinelOne
(the MSP's console token). Each call is scoped to one client: its Graph tenant, its Datto
site, its SentinelOne sites and groups; never the MSP's whole estate.

``raise_for`` turns a provider's answer into Temporal's retry semantics: 429 asks for the
next attempt after ``Retry-After``; 5xx and 408 are retried with backoff; any other 4xx ends
the step with a note for an agent (no retry mends a missing user or a refused permission).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import httpx
from temporalio.exceptions import ApplicationError

from activities import step_keys
from domain.ids import step_request_id
from domain.provider_steps import refused_status
from domain.settings import Settings
from domain.tenants import ClientConfig, TempodeskConfig


@dataclass
class _Token:
    value: str
    expires: float


def raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code < 400:
        return
    if response.status_code == 429:
        after = response.headers.get("Retry-After", "")
        delay = timedelta(seconds=int(after)) if after.isdigit() else None
        raise ApplicationError(f"{what}: throttled (429), retry after {after or '?'} s",
                               type="ProviderThrottled", next_retry_delay=delay)
    text = response.text[:300]
    if refused_status(response.status_code):
        raise ApplicationError(f"{what}: refused ({response.status_code}): {text}",
                               type="ProviderRefused", non_retryable=True)
    raise ApplicationError(f"{what}: provider error ({response.status_code}): {text}",
                           type="ProviderUnavailable")


class _Tokens:
    def __init__(self) -> None:
        self._tokens: dict[str, _Token] = {}

    def get(self, key: str) -> str | None:
        cached = self._tokens.get(key)
        return cached.value if cached and cached.expires > time.monotonic() + 60 else None

    def put(self, key: str, body: dict) -> str:
        token = _Token(body["access_token"],
                       time.monotonic() + int(body.get("expires_in", 3599)))
        self._tokens[key] = token
        return token.value


class Graph:
    """Microsoft Graph v1.0 for one MSP app, any client tenant."""

    def __init__(self, settings: Settings, config: TempodeskConfig,
                 http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.config = config
        self.http = http
        self._tokens = _Tokens()

    def tenant(self, client_id: str) -> str:
        client = self.config.client(client_id)
        tenant = client.providers.graph_tenant if client else None
        if not tenant or not self.settings.graph_client_id:
            raise ApplicationError(
                f"Microsoft Graph is not set up for {client_id}: set the client's "
                "providers.graph_tenant and TEMPODESK_GRAPH_CLIENT_ID/_SECRET",
                type="ProviderNotConfigured", non_retryable=True)
        return tenant

    async def _token(self, tenant: str) -> str:
        cached = self._tokens.get(tenant)
        if cached:
            return cached
        secret = self.settings.graph_client_secret
        response = await self.http.post(
            f"{self.settings.graph_login_url}/{quote(tenant)}/oauth2/v2.0/token",
            data={"client_id": self.settings.graph_client_id,
                  "client_secret": secret.get_secret_value() if secret else "",
                  "scope": f"{self.settings.graph_url}/.default",
                  "grant_type": "client_credentials"}, timeout=30)
        raise_for(response, "Graph sign-in")
        return self._tokens.put(tenant, response.json())

    async def call(self, client_id: str, method: str, path: str, json: dict | None = None,
                   params: dict | None = None) -> httpx.Response:
        token = await self._token(self.tenant(client_id))
        response = await self.http.request(
            method, f"{self.settings.graph_url}/v1.0{path}", json=json, params=params,
            timeout=30, headers={"Authorization": f"Bearer {token}",
                                 "client-request-id": step_request_id(step_keys.current())})
        raise_for(response, f"Graph {method} {path.split('?')[0]}")
        return response

    def object_url(self, object_id: str) -> str:
        return f"{self.settings.graph_url}/v1.0/directoryObjects/{object_id}"


class Datto:
    """Datto RMM API v2: the client's site, its devices, user-defined fields, quick jobs."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._tokens = _Tokens()

    def site(self, client: ClientConfig | None) -> str:
        site = client.providers.datto_site_uid if client else None
        if not site or not self.settings.datto_url or self.settings.datto_api_secret is None:
            raise ApplicationError(
                "Datto RMM is not set up: set the client's providers.datto_site_uid and "
                "TEMPODESK_DATTO_URL/_API_KEY/_API_SECRET", type="ProviderNotConfigured",
                non_retryable=True)
        return site

    async def _token(self) -> str:
        cached = self._tokens.get("datto")
        if cached:
            return cached
        secret = self.settings.datto_api_secret
        response = await self.http.post(
            f"{self.settings.datto_url}/auth/oauth/token", auth=("public-client", "public"),
            data={"grant_type": "password", "username": self.settings.datto_api_key or "",
                  "password": secret.get_secret_value() if secret else ""}, timeout=30)
        raise_for(response, "Datto RMM sign-in")
        return self._tokens.put("datto", response.json())

    async def call(self, method: str, path: str, json: dict | None = None,
                   params: dict | None = None) -> httpx.Response:
        token = await self._token()
        response = await self.http.request(
            method, f"{self.settings.datto_url}/api{path}", json=json, params=params,
            timeout=30, headers={"Authorization": f"Bearer {token}"})
        raise_for(response, f"Datto RMM {method} {path}")
        return response

    async def device(self, site: str, hostname: str) -> dict | None:
        """The site's device called ``hostname`` (pages through the site's devices)."""
        page = 0
        while True:
            body = (await self.call("GET", f"/v2/site/{quote(site)}/devices",
                                    params={"page": page, "max": 250})).json()
            for device in body.get("devices", []):
                if str(device.get("hostname", "")).lower() == hostname.lower():
                    return device
            if not body.get("pageDetails", {}).get("nextPageUrl"):
                return None
            page += 1


class SentinelOne:
    """SentinelOne's management API v2.1 with the MSP's one console token, which sees every
    client's endpoints: so every agent search and action carries the client's ``siteIds``
    (and ``groupIds`` when given). A client without sites is not searched at all."""

    AGENTS = "/web/api/v2.1/agents"

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    @property
    def configured(self) -> bool:
        return bool(self.settings.sentinelone_url) and self.settings.sentinelone_token is not None

    def scope(self, client: ClientConfig | None) -> dict[str, list[str]]:
        """The client's sites (and groups): the filter of every call made for it."""
        providers = client.providers if client else None
        if not self.configured:
            raise ApplicationError("SentinelOne is not set up: set TEMPODESK_SENTINELONE_URL "
                                   "and _TOKEN", type="ProviderNotConfigured",
                                   non_retryable=True)
        if providers is None or not providers.sentinelone_site_ids:
            raise ApplicationError(
                f"SentinelOne is not scoped for {client.id if client else 'this client'}: set "
                "the client's providers.sentinelone_site_ids (its sites in the console); the "
                "desk never searches the MSP's whole console", type="ProviderNotConfigured",
                non_retryable=True)
        scope = {"siteIds": list(providers.sentinelone_site_ids)}
        if providers.sentinelone_group_ids:
            scope["groupIds"] = list(providers.sentinelone_group_ids)
        return scope

    def _headers(self) -> dict[str, str]:
        token = self.settings.sentinelone_token
        return {"Authorization": f"ApiToken {token.get_secret_value() if token else ''}"}

    async def agents(self, scope: dict[str, list[str]], **search: str) -> list[dict]:
        """The agents matching ``search`` (e.g. ``query``, ``computerName``) in ``scope``;
        list filters go as comma-separated values, as the API takes them."""
        params = {**search, **{name: ",".join(ids) for name, ids in scope.items()}}
        found = await self.http.get(f"{self.settings.sentinelone_url}{self.AGENTS}",
                                    params=params, headers=self._headers(), timeout=30)
        raise_for(found, "SentinelOne agents")
        return list(found.json().get("data") or [])

    async def disconnect(self, scope: dict[str, list[str]], ids: list[str]) -> int:
        """Network-quarantine the agents ``ids``; the action's filter carries the scope
        too, so a wrong id outside the client's sites matches nothing."""
        done = await self.http.post(f"{self.settings.sentinelone_url}{self.AGENTS}"
                                    "/actions/disconnect", headers=self._headers(),
                                    json={"filter": {"ids": ids, **scope}}, timeout=30)
        raise_for(done, "SentinelOne disconnect")
        return int(done.json().get("data", {}).get("affected", len(ids)))
