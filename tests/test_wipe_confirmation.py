"""The remote wipe and its confirmation, through the real Graph adapter against the
sandbox's Intune shapes: pending (retried) until the device reports the wipe done."""

from __future__ import annotations

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.provider_clients import ProviderClients
from activities.providers import ProviderActivities
from domain.offboarding import Device, ProviderCall
from domain.tenants import Providers
from provider_sandbox import ProviderServer
from tests.conftest import make_settings


async def test_a_wipe_is_pending_until_intune_reports_it_done(config):
    with ProviderServer() as sandbox:
        clients = [c.model_copy(update={"providers": Providers(graph_tenant="contoso")})
                   for c in config.clients]
        async with httpx.AsyncClient() as http:
            wired = config.model_copy(update={"clients": clients})
            providers = ProviderActivities(wired, ProviderClients.build(
                make_settings(**sandbox.settings()), wired, http))
            call = ProviderCall(client_id="belton", ticket_id="BEL-000001", step="wipe",
                                user_principal_name="jo.tran@harbourside.example",
                                device=Device(serial="PF3X9K", managed_device_id="dev-1"))
            env = ActivityEnvironment()
            with pytest.raises(ApplicationError) as pending:
                await env.run(providers.confirm_wipe, call)
            assert pending.value.type == "WipePending" and not pending.value.non_retryable
            sent = await env.run(providers.wipe_device, call)
            assert "wipe sent" in sent.detail and sandbox.wiped == {"dev-1"}
            confirmed = await env.run(providers.confirm_wipe, call)
    assert confirmed.detail == "PF3X9K: wipe confirmed by Intune"
    [wipe] = sandbox.calls("POST", "/managedDevices/dev-1/wipe")
    assert wipe.body == {"keepEnrollmentData": False, "keepUserData": False}
