"""What an MSP drives when someone joins: the account, licences and groups (Microsoft
Graph), the device (Datto RMM enrolment, the EDR and backup components, SentinelOne's
check-in) and the MFA check; and the undo of each, for HR's cancellation.

Every activity is safe to run twice: an account that exists is found, not created again;
a licence already held is not assigned again; group membership that exists is fine; a
device already tagged for this ticket does not get its jobs twice; undoing what is not
there is done. Each acts only on its client's own people (``own_people_only``), in the
client's Graph tenant, Datto site and SentinelOne sites.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.provider_clients import ProviderClients
from activities.providers import own_people_only
from activities.signed_webhook import or_by_webhook
from domain.onboarding import JoinerCall
from domain.provider_steps import ProviderResult
from domain.tenants import TempodeskConfig

# What counts as a second factor (Graph authentication method types).
_SECOND_FACTORS = ("microsoftAuthenticatorAuthenticationMethod", "phoneAuthenticationMethod",
                   "fido2AuthenticationMethod", "softwareOathAuthenticationMethod",
                   "windowsHelloForBusinessAuthenticationMethod")


def _already(exc: ApplicationError, *codes: str) -> bool:
    return any(code in str(exc) for code in codes)


class OnboardingActivities:
    """The joiner's steps, on the worker's shared provider clients."""

    def __init__(self, config: TempodeskConfig, clients: ProviderClients) -> None:
        self.config = config
        self.graph = clients.graph
        self.webhook = clients.webhook
        self.datto = clients.datto
        self.edr = clients.edr

    async def _user_id(self, call: JoinerCall) -> str:
        upn = quote(call.user_principal_name)
        found = await self.graph.call(call.client_id, "GET", f"/users/{upn}",
                                      params={"$select": "id,userPrincipalName"})
        return found.json()["id"]

    # ------------------------------------------------------------------ account

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def create_account(self, call: JoinerCall) -> ProviderResult:
        """A cloud account with a random password nobody sees: the user signs in first with
        a Temporary Access Pass at the MFA walk-through."""
        local = call.user_principal_name.split("@")[0]
        body = {"accountEnabled": True, "displayName": call.display_name,
                "mailNickname": "".join(c for c in local if c.isalnum() or c in "._-")[:64],
                "userPrincipalName": call.user_principal_name, "jobTitle": call.title or None,
                "department": call.department or None, "usageLocation": call.usage_location,
                "passwordProfile": {"forceChangePasswordNextSignIn": True,
                                    "password": secrets.token_urlsafe(24)}}
        try:
            created = await self.graph.call(call.client_id, "POST", "/users", body)
        except ApplicationError as exc:
            if not _already(exc, "ObjectConflict", "already exists"):
                raise
            return ProviderResult(detail=f"{call.user_principal_name} exists already",
                                  resource_id=await self._user_id(call))
        return ProviderResult(detail=f"account {call.user_principal_name} created",
                              resource_id=created.json()["id"])

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def delete_account(self, call: JoinerCall) -> ProviderResult:
        try:
            await self.graph.call(call.client_id, "DELETE",
                                  f"/users/{quote(call.user_principal_name)}")
        except ApplicationError as exc:
            if not _already(exc, "(404)"):
                raise
            return ProviderResult(detail="no account to delete")
        return ProviderResult(detail=f"account {call.user_principal_name} deleted (Entra "
                              "keeps it restorable for 30 days)")

    # ------------------------------------------------------------------ licences

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def assign_licences(self, call: JoinerCall) -> ProviderResult:
        """``usageLocation`` first (Graph refuses licences without it), then every licence
        the user lacks in one ``assignLicense``; a pool with no free seat is said plainly."""
        if not call.licences:
            return ProviderResult(detail="no licences asked for")
        upn = quote(call.user_principal_name)
        skus = (await self.graph.call(call.client_id, "GET", "/subscribedSkus")).json()["value"]
        by_part = {sku["skuPartNumber"]: sku for sku in skus}
        unknown = [name for name in call.licences if name not in by_part]
        if unknown:
            raise ApplicationError(f"the tenant has no subscription for {', '.join(unknown)}: "
                                   "buy it, or fix the role template", type="ProviderRefused",
                                   non_retryable=True)
        held = {item["skuId"] for item in (await self.graph.call(
            call.client_id, "GET", f"/users/{upn}/licenseDetails")).json()["value"]}
        wanted = [by_part[name] for name in call.licences if by_part[name]["skuId"] not in held]
        full = [f"{sku['skuPartNumber']} ({sku['consumedUnits']} of "
                f"{sku['prepaidUnits']['enabled']} in use)" for sku in wanted
                if sku["prepaidUnits"]["enabled"] - sku["consumedUnits"] <= 0]
        if full:
            raise ApplicationError(f"licence pool exhausted: {', '.join(full)}; buy more "
                                   "seats (or free one), then retry the steps",
                                   type="LicencePoolExhausted", non_retryable=True)
        await self.graph.call(call.client_id, "PATCH", f"/users/{upn}",
                              {"usageLocation": call.usage_location})
        if wanted:
            await self.graph.call(call.client_id, "POST", f"/users/{upn}/assignLicense", {
                "addLicenses": [{"skuId": sku["skuId"], "disabledPlans": []} for sku in wanted],
                "removeLicenses": []})
        return ProviderResult(detail=f"{len(call.licences)} licence(s): "
                              f"{', '.join(call.licences)} (usage location "
                              f"{call.usage_location})")

    # ------------------------------------------------------------------ groups

    async def _group_ids(self, call: JoinerCall) -> list[str]:
        """The groups asked for, plus the mail-enabled groups that open each shared mailbox."""
        ids = list(call.groups)
        for mailbox in call.mailboxes:
            found = (await self.graph.call(call.client_id, "GET", "/groups", params={
                "$filter": f"mail eq '{mailbox.replace(chr(39), chr(39) * 2)}'",
                "$select": "id"})).json()["value"]
            if not found:
                raise ApplicationError(f"no group gives access to the mailbox {mailbox}: "
                                       "grant it by hand", type="ProviderRefused",
                                       non_retryable=True)
            ids.append(found[0]["id"])
        return list(dict.fromkeys(ids))

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def add_groups(self, call: JoinerCall) -> ProviderResult:
        user_id = await self._user_id(call)
        groups = await self._group_ids(call)
        for group in groups:
            try:
                await self.graph.call(call.client_id, "POST",
                                      f"/groups/{quote(group)}/members/$ref",
                                      {"@odata.id": self.graph.object_url(user_id)})
            except ApplicationError as exc:
                if not _already(exc, "already exist"):
                    raise
        return ProviderResult(detail=f"member of {len(groups)} group(s)")

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def remove_groups(self, call: JoinerCall) -> ProviderResult:
        try:
            user_id = await self._user_id(call)
        except ApplicationError as exc:
            if _already(exc, "(404)"):
                return ProviderResult(detail="no account: no memberships")
            raise
        groups = await self._group_ids(call)
        for group in groups:
            try:
                await self.graph.call(call.client_id, "DELETE",
                                      f"/groups/{quote(group)}/members/{quote(user_id)}/$ref")
            except ApplicationError as exc:
                if not _already(exc, "(404)"):
                    raise
        return ProviderResult(detail=f"removed from {len(groups)} group(s)")

    # ------------------------------------------------------------------ devices

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def build_device(self, call: JoinerCall) -> ProviderResult:
        """The technician installs the site's RMM agent on the device; this finds it in the
        client's site, tags it for the user (UDF 1) and this ticket (UDF 2), runs the EDR
        and backup components once, and waits for SentinelOne to see the agent."""
        device = call.device
        if device is None:
            raise ApplicationError("no device given", type="ProviderRefused", non_retryable=True)
        client = self.config.client(call.client_id)
        site = self.datto.site(client)
        # No EDR console set up: the RMM's component install is the record. Set up: the
        # client's sites are checked before the device is touched.
        edr_scope = self.edr.scope(client) if self.edr.configured else None
        found = await self.datto.device(site, device.hostname)
        if found is None:  # retried until the technician enrols it
            raise ApplicationError(f"{device.hostname} is not in the client's RMM site yet: "
                                   "install the site's agent on it", type="DeviceNotEnrolled")
        uid = found["uid"]
        udf = found.get("udf") or {}
        if udf.get("udf2") != call.ticket_id:
            providers = client.providers if client else None
            for name, component in (("EDR agent", providers and providers.edr_component),
                                    ("backups", providers and providers.backup_component)):
                if component:
                    await self.datto.call("PUT", f"/v2/device/{quote(uid)}/quickjob", {
                        "jobName": f"{call.ticket_id}: {name} for {call.user_principal_name}",
                        "jobComponent": {"componentUid": component, "variables": []}})
            await self.datto.call("POST", f"/v2/device/{quote(uid)}/udf",
                                  {"udf1": call.user_principal_name, "udf2": call.ticket_id})
        if edr_scope is not None:
            await self._edr_reports(edr_scope, device.hostname)
        return ProviderResult(detail=f"{device.hostname} enrolled (RMM {uid}), EDR and "
                              "backups installed", resource_id=uid)

    async def _edr_reports(self, scope: dict[str, list[str]], hostname: str) -> None:
        """Done when SentinelOne sees the agent in the client's own sites (a host of that
        name in another client's site proves nothing about this one)."""
        if not await self.edr.agents(scope, computerName=hostname):
            raise ApplicationError(f"the EDR agent on {hostname} has not checked in yet",
                                   type="EdrNotReporting")

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def release_device(self, call: JoinerCall) -> ProviderResult:
        """Untag the device so it goes back to stock (its EDR and backups stay: harmless)."""
        device = call.device
        if device is None:
            return ProviderResult(detail="no device")
        site = self.datto.site(self.config.client(call.client_id))
        found = await self.datto.device(site, device.hostname)
        if found is None:
            return ProviderResult(detail=f"{device.hostname} is not in the RMM: nothing to undo")
        await self.datto.call("POST", f"/v2/device/{quote(found['uid'])}/udf",
                              {"udf1": "", "udf2": ""})
        return ProviderResult(detail=f"{device.hostname} released to stock")

    # ------------------------------------------------------------------ MFA

    @activity.defn
    @own_people_only
    @or_by_webhook
    async def check_mfa(self, call: JoinerCall) -> ProviderResult:
        upn = quote(call.user_principal_name)
        methods = (await self.graph.call(call.client_id, "GET",
                                         f"/users/{upn}/authentication/methods")).json()["value"]
        kinds = [m.get("@odata.type", "").rsplit(".", 1)[-1] for m in methods]
        second = [k for k in kinds if k in _SECOND_FACTORS]
        if second:
            return ProviderResult(detail=f"enrolled: {', '.join(second)}")
        return ProviderResult(detail="not enrolled yet")

    def all(self) -> list:
        return [self.create_account, self.delete_account, self.assign_licences,
                self.add_groups, self.remove_groups, self.build_device, self.release_device,
                self.check_mfa]
