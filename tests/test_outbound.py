"""SSRF (issue 12): webhooks, the generic provider and the procurement hook never reach the
desk's own network (loopback, link-local, private ranges) unless TEMPODESK_OUTBOUND_ALLOW
lists the destination; checked at delivery, on every address a name resolves to."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import step_keys
from activities.notifications import NotificationActivities
from activities.outbound import OutboundRefused, check_url, literal_private
from activities.procurement import ProcurementActivities
from activities.signed_webhook import WebhookProvider
from domain.notifications import Notice
from domain.offboarding import ProviderCall
from domain.quotes import OrderRequest
from domain.tenants import Providers, Webhook
from tests.conftest import make_settings
from tests.peers import ProcurementReceiver, WebhookReceiver

REFUSED = [
    "http://127.0.0.1:9/hook", "http://127.8.9.10/", "http://localhost/hook",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://10.1.2.3/",
    "http://172.16.0.1/", "http://172.31.255.254/", "http://192.168.1.1/", "http://[::1]:8080/",
    "http://[fd00::5]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/",
    "http://100.64.0.1/", "http://2130706433/", "ftp://example.com/", "http:///nohost",
]
ALLOWED = ["http://93.184.216.34/", "https://[2606:4700::1111]/", "http://172.32.0.1/",
           "http://11.0.0.1/", "http://192.169.0.1/"]


@pytest.mark.parametrize("url", REFUSED)
async def test_private_destinations_are_refused(url):
    with pytest.raises(OutboundRefused):
        await check_url(url, [])


@pytest.mark.parametrize("url", ALLOWED)
async def test_public_addresses_pass(url):
    await check_url(url, [])


async def test_the_allow_list_takes_hosts_and_cidrs():
    await check_url("http://127.0.0.1:8000/hook", ["127.0.0.1"])
    await check_url("http://10.20.3.4/hook", ["10.20.0.0/16"])
    await check_url("http://localhost/hook", ["localhost"])
    await check_url("http://localhost/hook", ["127.0.0.0/8", "::1"])  # what it resolves to
    with pytest.raises(OutboundRefused):
        await check_url("http://10.21.0.1/hook", ["10.20.0.0/16"])
    with pytest.raises(OutboundRefused):
        await check_url("http://169.254.169.254/", ["127.0.0.1"])


def test_the_setting_refuses_garbage():
    assert make_settings(outbound_allow=[" 10.0.0.0/8 ", "Hooks.Internal"]).outbound_allow == [
        "10.0.0.0/8", "hooks.internal"]
    with pytest.raises(ValidationError, match="TEMPODESK_OUTBOUND_ALLOW"):
        make_settings(outbound_allow=["http://x y"])


def test_config_check_warns_of_literal_private_addresses(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cli import app
    from tests.test_config import GOOD_CLIENT, write

    assert literal_private("http://169.254.169.254/x", []) == "169.254.169.254"
    assert literal_private("http://localhost:8080/", []) == "localhost"
    assert literal_private("http://127.0.0.1/", ["127.0.0.0/8"]) is None
    assert literal_private("https://hooks.example.com/", []) is None  # resolved at delivery
    path = write(tmp_path, GOOD_CLIENT + """\
    notifications:
      webhooks:
        - {url: "http://169.254.169.254/latest", secret: whsec_eA==}
        - {url: "https://hooks.example.com/x", secret: whsec_eA==}
""")
    monkeypatch.delenv("TEMPODESK_OUTBOUND_ALLOW", raising=False)
    checked = CliRunner().invoke(app, ["config", "check", str(path)])
    assert checked.exit_code == 0, checked.output
    assert "notifications.webhooks[0]: 169.254.169.254" in checked.output
    assert "webhooks[1]" not in checked.output
    monkeypatch.setenv("TEMPODESK_OUTBOUND_ALLOW", '["169.254.0.0/16"]')
    allowed = CliRunner().invoke(app, ["config", "check", str(path)])
    assert allowed.exit_code == 0 and "warning" not in allowed.output


def _hooked(config, url):
    return config.model_copy(update={"clients": [
        c.model_copy(update={
            "notifications": c.notifications.model_copy(update={
                "webhooks": [Webhook(url=url, secret=WebhookReceiver.SECRET)]}),
            "providers": Providers(webhook=Webhook(url=url, secret=WebhookReceiver.SECRET))})
        for c in config.clients]})


async def as_a_step(provider: WebhookProvider, call: ProviderCall):
    """The generic provider's delivery as a provider step makes it (under its step key)."""
    with step_keys.acting_for(call.step_key):
        return await provider.perform(call.client_id, call)


async def test_deliveries_to_loopback_fail_non_retryably_unless_allowed(config):
    notice = Notice(notice_id="incident:BEL-000042:3:sla_breached", client_id="belton",
                    ticket_id="BEL-000042", occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
                    event="sla_breached", subject="SLA breached")
    call = ProviderCall(client_id="belton", ticket_id="BEL-000042",
                        user_principal_name="jo.tran@harbourside.example", step="disable_account")
    order = OrderRequest(quote_id="BEL-000043", client_id="belton", title="Laptops",
                         currency="AUD", lines=[], total="0.00", install_days=3,
                         zone="Australia/Sydney")
    env = ActivityEnvironment()
    with WebhookReceiver() as hooks, ProcurementReceiver() as procurement:
        hooked = _hooked(config, hooks.url)
        async with httpx.AsyncClient() as http:
            closed = make_settings(outbound_allow=[], procurement_url=procurement.url,
                                   procurement_secret=ProcurementReceiver.SECRET)
            for activity, arg in (
                (NotificationActivities(closed, hooked, http).notify, notice),
                (ProcurementActivities(closed, http).place_order, order),
            ):
                with pytest.raises(ApplicationError) as refused:
                    await env.run(activity, arg)
                assert refused.value.non_retryable and refused.value.type == "OutboundRefused"
                assert "127.0.0.1" in str(refused.value)
            with pytest.raises(ApplicationError) as refused:
                await env.run(as_a_step, WebhookProvider(closed, hooked, http), call)
            assert refused.value.non_retryable and refused.value.type == "OutboundRefused"
            assert hooks.received == [] and procurement.orders == {}
            # The same deliveries, allow-listed (as tests and `tempodesk dev` are), arrive.
            opened = make_settings(procurement_url=procurement.url,
                                   procurement_secret=ProcurementReceiver.SECRET)
            await env.run(NotificationActivities(opened, hooked, http).notify, notice)
            await env.run(as_a_step, WebhookProvider(opened, hooked, http), call)
            assert len(hooks.received) == 2
            placed = await env.run(ProcurementActivities(opened, http).place_order, order)
            assert placed.order_id == "PO-BEL-000043"


def _dns(monkeypatch, *answers: str) -> list[str]:
    """Stand in for DNS: each lookup gets the next answer (the last one repeats)."""
    import ipaddress

    from activities import outbound

    asked: list[str] = []

    async def resolve(host: str, port: int):
        asked.append(host)
        return [ipaddress.ip_address(answers[min(len(asked), len(answers)) - 1])]

    monkeypatch.setattr(outbound, "_resolve", resolve)
    return asked


async def _notify_through_worker_client(config, hooks, host: str, allow: list[str]) -> None:
    """A webhook notice to ``hooks`` under the name ``host``, sent by the worker's client."""
    from activities.outbound import http_client

    notice = Notice(notice_id="incident:BEL-000042:1:ticket_opened", client_id="belton",
                    ticket_id="BEL-000042", occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
                    event="ticket_opened", subject="Logged")
    url = hooks.url.replace("127.0.0.1:", f"{host}:")
    settings = make_settings(outbound_allow=allow)
    async with http_client(settings) as http:
        await ActivityEnvironment().run(
            NotificationActivities(settings, _hooked(config, url), http).notify, notice)


async def test_the_worker_client_connects_to_the_address_it_checked(monkeypatch, config):
    """A name the system cannot resolve reaches the receiver: the connection went to the
    address our check resolved and approved, not to a second lookup of the name."""
    asked = _dns(monkeypatch, "127.0.0.1")
    with WebhookReceiver() as hooks:
        await _notify_through_worker_client(config, hooks, "hooks.belton.invalid",
                                            allow=["127.0.0.1"])
        assert [r["valid"] for r in hooks.received] == [True]
    assert asked == ["hooks.belton.invalid", "hooks.belton.invalid"]  # the check, the connection


async def test_dns_rebinding_between_check_and_connection_is_refused(monkeypatch, config):
    """The name answers a public address to the delivery's check, then loopback: the
    connection is refused non-retryably and nothing reaches the desk's own network."""
    asked = _dns(monkeypatch, "93.184.216.34", "127.0.0.1")
    with WebhookReceiver() as hooks:
        with pytest.raises(ApplicationError) as refused:
            await _notify_through_worker_client(config, hooks, "rebind.attacker.invalid",
                                                allow=[])
        assert refused.value.non_retryable and refused.value.type == "OutboundRefused"
        assert "127.0.0.1" in str(refused.value)
        assert hooks.received == []
    assert len(asked) == 2


async def test_provider_calls_through_the_worker_client_are_held_to_the_same_rule():
    """Graph, Datto and SentinelOne share the worker's client: a provider URL pointing at
    the cloud metadata address is refused at connection (no network needed to show it)."""
    from activities.outbound import http_client

    async with http_client(make_settings(outbound_allow=[])) as http:
        with pytest.raises(ApplicationError, match=r"169\.254\.169\.254"):
            await http.get("http://169.254.169.254/metadata/identity/oauth2/token")
