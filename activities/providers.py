"""What an MSP drives when someone leaves: Microsoft Graph (Entra ID accounts, licences,
Intune devices) and the EDR (SentinelOne), over their real HTTP APIs.

Each step is an activity, safe to run twice (disabling a disabled account, revoking
revoked sessions or wiping a wiping device changes nothing). Retries are Temporal's:
a 429 asks for the next attempt after its ``Retry-After``; 5xx and network errors are
retried with backoff; 400/401/403/404 end the step with a note for an agent (no retry
mends a missing user or a refused permission).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.offboarding import ProviderCall, ProviderResult
from domain.settings import Settings
from domain.tenants import TempodeskConfig

_REFUSED = (400, 401, 403, 404, 405, 409, 410, 422)


@dataclass
class _Token:
    value: str
    expires: float


def raise_for(response: httpx.Response, what: str) -> None:
    """Turn a provider's answer into Temporal's retry semantics."""
    if response.status_code < 400:
        return
    if response.status_code == 429:
        after = response.headers.get("Retry-After", "")
        delay = timedelta(seconds=int(after)) if after.isdigit() else None
        raise ApplicationError(f"{what}: throttled (429), retry after {after or '?'} s",
                               type="ProviderThrottled", next_retry_delay=delay)
    text = response.text[:300]
    if response.status_code in _REFUSED:
        raise ApplicationError(f"{what}: refused ({response.status_code}): {text}",
                               type="ProviderRefused", non_retryable=True)
    raise ApplicationError(f"{what}: provider error ({response.status_code}): {text}",
                           type="ProviderUnavailable")


class ProviderActivities:
    def __init__(self, settings: Settings, config: TempodeskConfig,
                 http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.config = config
        self.http = http
        self._tokens: dict[str, _Token] = {}

    # ------------------------------------------------------------------ Microsoft Graph

    def _tenant(self, client_id: str) -> str:
        client = self.config.client(client_id)
        tenant = client.providers.graph_tenant if client else None
        if not tenant or not self.settings.graph_client_id:
            raise ApplicationError(
                f"Microsoft Graph is not set up for {client_id}: set the client's "
                "providers.graph_tenant and TEMPODESK_GRAPH_CLIENT_ID/_SECRET",
                type="ProviderNotConfigured", non_retryable=True)
        return tenant

    async def _graph_token(self, tenant: str) -> str:
        """OAuth 2.0 client credentials for the MSP's multi-tenant app, per client tenant."""
        cached = self._tokens.get(tenant)
        if cached and cached.expires > time.monotonic() + 60:
            return cached.value
        secret = self.settings.graph_client_secret
        response = await self.http.post(
            f"{self.settings.graph_login_url}/{quote(tenant)}/oauth2/v2.0/token",
            data={"client_id": self.settings.graph_client_id,
                  "client_secret": secret.get_secret_value() if secret else "",
                  "scope": f"{self.settings.graph_url}/.default",
                  "grant_type": "client_credentials"}, timeout=30)
        raise_for(response, "Graph sign-in")
        body = response.json()
        token = _Token(body["access_token"], time.monotonic() + int(body.get("expires_in", 3599)))
        self._tokens[tenant] = token
        return token.value

    async def _graph(self, call: ProviderCall, method: str, path: str,
                     json: dict | None = None) -> httpx.Response:
        tenant = self._tenant(call.client_id)
        token = await self._graph_token(tenant)
        response = await self.http.request(
            method, f"{self.settings.graph_url}/v1.0{path}", json=json, timeout=30,
            headers={"Authorization": f"Bearer {token}",
                     "client-request-id": activity.info().activity_id})
        raise_for(response, f"Graph {method} {path.split('?')[0]}")
        return response

    @activity.defn
    async def disable_account(self, call: ProviderCall) -> ProviderResult:
        upn = quote(call.user_principal_name)
        await self._graph(call, "PATCH", f"/users/{upn}", {"accountEnabled": False})
        return ProviderResult(detail=f"account {call.user_principal_name} disabled")

    @activity.defn
    async def revoke_sessions(self, call: ProviderCall) -> ProviderResult:
        upn = quote(call.user_principal_name)
        await self._graph(call, "POST", f"/users/{upn}/revokeSignInSessions")
        return ProviderResult(detail="sign-in sessions and refresh tokens revoked")

    @activity.defn
    async def remove_licences(self, call: ProviderCall) -> ProviderResult:
        """Licences back to the pool: what the user holds now, removed in one call."""
        upn = quote(call.user_principal_name)
        held = (await self._graph(call, "GET", f"/users/{upn}/licenseDetails")).json()["value"]
        skus = [item["skuId"] for item in held]
        if skus:
            await self._graph(call, "POST", f"/users/{upn}/assignLicense",
                              {"addLicenses": [], "removeLicenses": skus})
        return ProviderResult(detail=f"{len(skus)} licence(s) returned to the pool")

    @activity.defn
    async def wipe_device(self, call: ProviderCall) -> ProviderResult:
        device = call.device
        if device is None or not device.managed_device_id:
            raise ApplicationError(f"device {device.serial if device else '?'} has no Intune "
                                   "id: wipe it by hand", type="ProviderRefused",
                                   non_retryable=True)
        await self._graph(call, "POST",
                          f"/deviceManagement/managedDevices/{quote(device.managed_device_id)}"
                          "/wipe", {"keepEnrollmentData": False, "keepUserData": False})
        return ProviderResult(detail=f"wipe sent to {device.serial}")

    # ------------------------------------------------------------------ SentinelOne

    @activity.defn
    async def disconnect_edr(self, call: ProviderCall) -> ProviderResult:
        """Network-quarantine the leaver's endpoints until their hardware comes back."""
        base, token = self.settings.sentinelone_url, self.settings.sentinelone_token
        if not base or token is None:
            raise ApplicationError("SentinelOne is not set up: set TEMPODESK_SENTINELONE_URL "
                                   "and _TOKEN", type="ProviderNotConfigured",
                                   non_retryable=True)
        headers = {"Authorization": f"ApiToken {token.get_secret_value()}"}
        found = await self.http.get(f"{base}/web/api/v2.1/agents", headers=headers,
                                    params={"query": call.user_principal_name}, timeout=30)
        raise_for(found, "SentinelOne agents")
        ids = [agent["id"] for agent in found.json().get("data", [])]
        if not ids:
            return ProviderResult(detail="no SentinelOne agent for this user")
        done = await self.http.post(f"{base}/web/api/v2.1/agents/actions/disconnect",
                                    headers=headers, json={"filter": {"ids": ids}}, timeout=30)
        raise_for(done, "SentinelOne disconnect")
        affected = done.json().get("data", {}).get("affected", len(ids))
        return ProviderResult(detail=f"{affected} endpoint(s) disconnected from the network")

    # ------------------------------------------------------------------ data

    @activity.defn
    async def purge_mailbox(self, call: ProviderCall) -> ProviderResult:
        """After the 30-day archive: delete the (disabled) user; Entra keeps it recoverable
        for 30 more days, which is the MSP's last safety net."""
        upn = quote(call.user_principal_name)
        try:
            await self._graph(call, "DELETE", f"/users/{upn}")
        except ApplicationError as exc:
            if "(404)" in str(exc):  # already gone: safe to run twice
                return ProviderResult(detail="already purged")
            raise
        return ProviderResult(detail=f"{call.user_principal_name} and its mailbox purged")

    def all(self) -> list:
        return [self.disable_account, self.revoke_sessions, self.remove_licences,
                self.disconnect_edr, self.wipe_device, self.purge_mailbox]
