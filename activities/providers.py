"""What an MSP drives when someone leaves: Microsoft Graph (Entra ID accounts, licences,
Intune devices) and the EDR (SentinelOne), over their real HTTP APIs.

Each step is an activity, safe to run twice (disabling a disabled account, revoking
revoked sessions or wiping a wiping device changes nothing). Retries are Temporal's (see
``activities.graph.raise_for``). Each acts only on its client's own people
(``own_people_only``) and only through that client's tenant, sites and groups.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.provider_clients import ProviderClients
from activities.signed_webhook import or_by_webhook
from domain.offboarding import ProviderCall
from domain.people import NOT_THE_CLIENTS_PERSON, outsider
from domain.provider_steps import ProviderResult
from domain.tenants import TempodeskConfig


def own_people_only(step: Callable[[Any, Any], Awaitable[ProviderResult]]):
    """A provider step (under ``@activity.defn``, above ``@or_by_webhook``) for the call's
    client's own people only: an address outside the client's domains is refused before
    any provider, built in or the client's webhook, sees it; non-retryable, so the step
    goes to an agent. The doors refuse such addresses already: this holds for tickets
    opened before the rule and for any door added later. The owner has a ``config``."""

    @functools.wraps(step)
    async def checked(self: Any, call: Any) -> ProviderResult:
        client = self.config.client(call.client_id)
        for field, address in call.people():
            if refusal := outsider(client, field, address):
                raise ApplicationError(f"{field}: {refusal.message}: nothing was sent to any "
                                       f"provider ({refusal.fix})",
                                       type=NOT_THE_CLIENTS_PERSON, non_retryable=True)
        return await step(self, call)

    return checked


class ProviderActivities:
    """The leaver's steps, on the worker's shared provider clients."""

    def __init__(self, config: TempodeskConfig, clients: ProviderClients) -> None:
        self.config = config
        self.graph = clients.graph
        self.edr = clients.edr
        self.webhook = clients.webhook

    async def _graph(self, call: ProviderCall, method: str, path: str,
                     json: dict | None = None) -> httpx.Response:
        return await self.graph.call(call.client_id, method, path, json)

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def disable_account(self, call: ProviderCall) -> ProviderResult:
        upn = quote(call.user_principal_name)
        await self._graph(call, "PATCH", f"/users/{upn}", {"accountEnabled": False})
        return ProviderResult(detail=f"account {call.user_principal_name} disabled")

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def revoke_sessions(self, call: ProviderCall) -> ProviderResult:
        upn = quote(call.user_principal_name)
        await self._graph(call, "POST", f"/users/{upn}/revokeSignInSessions")
        return ProviderResult(detail="sign-in sessions and refresh tokens revoked")

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def remove_all_groups(self, call: ProviderCall) -> ProviderResult:
        """Out of every group (and so every shared mailbox, Teams team and app role given
        through one); dynamic groups follow the disabled account by themselves."""
        upn = quote(call.user_principal_name)
        user_id = (await self._graph(call, "GET", f"/users/{upn}?$select=id")).json()["id"]
        groups = (await self._graph(call, "GET", f"/users/{upn}/memberOf?$select=id,"
                                    "groupTypes")).json()["value"]
        removed = 0
        for group in groups:
            if (group.get("@odata.type") != "#microsoft.graph.group"
                    or "DynamicMembership" in group.get("groupTypes", [])):
                continue
            try:
                await self._graph(call, "DELETE", f"/groups/{quote(group['id'])}/members/"
                                  f"{quote(user_id)}/$ref")
            except ApplicationError as exc:
                if "(404)" not in str(exc):  # already out: safe to run twice
                    raise
            removed += 1
        return ProviderResult(detail=f"removed from {removed} group(s)")

    @activity.defn
    @own_people_only
    @or_by_webhook
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
    @own_people_only
    @or_by_webhook
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

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def confirm_wipe(self, call: ProviderCall) -> ProviderResult:
        """Done when Intune's ``deviceActionResults`` says the wipe is; retried until then."""
        device = call.device
        if device is None or not device.managed_device_id:
            raise ApplicationError("no Intune device to confirm: check it by hand",
                                   type="ProviderRefused", non_retryable=True)
        found = (await self._graph(
            call, "GET", f"/deviceManagement/managedDevices/{quote(device.managed_device_id)}"
            "?$select=id,deviceActionResults")).json()
        wipes = [r for r in found.get("deviceActionResults") or []
                 if r.get("actionName") == "wipe"]
        state = wipes[-1].get("actionState") if wipes else "none"
        if state == "done":
            return ProviderResult(detail=f"{device.serial}: wipe confirmed by Intune")
        if state == "failed":
            raise ApplicationError(f"{device.serial}: Intune reports the wipe failed: wipe it "
                                   "by hand", type="ProviderRefused", non_retryable=True)
        raise ApplicationError(f"{device.serial}: wipe {state} (the device has not checked "
                               "in yet)", type="WipePending")

    # ------------------------------------------------------------------ SentinelOne

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def disconnect_edr(self, call: ProviderCall) -> ProviderResult:
        """Network-quarantine the leaver's endpoints until their hardware comes back: those
        of the client's SentinelOne sites (and groups) only, never the whole console."""
        scope = self.edr.scope(self.config.client(call.client_id))
        agents = await self.edr.agents(scope, query=call.user_principal_name)
        ids = [agent["id"] for agent in agents]
        if not ids:
            return ProviderResult(detail="no SentinelOne agent for this user")
        affected = await self.edr.disconnect(scope, ids)
        return ProviderResult(detail=f"{affected} endpoint(s) disconnected from the network")

    # ------------------------------------------------------------------ data

    @activity.defn
    @own_people_only
    @or_by_webhook
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
        return [self.disable_account, self.revoke_sessions, self.remove_all_groups,
                self.remove_licences, self.disconnect_edr, self.wipe_device,
                self.confirm_wipe, self.purge_mailbox]
