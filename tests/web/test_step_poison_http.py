"""The trial's poison loop over HTTP on the dev server: a New User form for a client with no
providers set up (plexacet, as tempodesk.yaml has it) goes to an agent once - the reason
in ``GET /v1/tickets/{id}``, one "Do by hand" e-mail - and then nothing more happens until
an agent acts (the trial: ~30 attempts and e-mails a second). The time-skipping version,
a whole simulated day, is tests/test_step_poison.py."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from domain.ids import TicketKind, workflow_id
from domain.tenants import ClientConfig, Providers
from provider_sandbox import ProviderServer
from tests.conftest import demo_name, provider_desk, sandbox_sites
from tests.peers import Mailbox
from tests.web.helpers import assert_problem, eventually

# Long enough for the old loop to try the account ~30 more times and mail as often.
SETTLE_SECONDS = 3


@pytest.fixture
async def desk_without_plexacet_providers(dev_client, config, task_queue):
    """Belton and betterworld reach the sandbox; plexacet has no providers at all."""
    wired = sandbox_sites(Providers(graph_tenant="contoso-tenant"))

    def providers_of(client: ClientConfig) -> Providers:
        return Providers() if demo_name(client) == "plexacet" else wired(client)

    with ProviderServer() as providers, Mailbox() as mailbox:
        async with provider_desk(dev_client, config, providers, providers_of,
                                 task_queue=task_queue, smtp_host="127.0.0.1",
                                 smtp_port=mailbox.port) as desk:
            yield desk, providers, mailbox


def new_user(start_date: str) -> dict:
    return {"employee": {"name": "Noor Haddad", "email": "noor.haddad@personal.example"},
            "user_principal_name": "noor.haddad@opaldental.example", "title": "Dental nurse",
            "manager": {"name": "Raj Patel", "email": "raj.patel@opaldental.example"},
            "start_date": start_date, "hardware": [{"hostname": "PLX-LT-001"}]}


async def earliest(desk) -> str:
    """Ask with a start today: the 422 names the earliest allowed start."""
    refused = await desk.http.post("/v1/onboarding", json=new_user(date.today().isoformat()),
                                   headers=desk.as_("plexacet", "hr"))
    return assert_problem(refused, 422)["earliest_start"][:10]


async def test_a_new_user_without_providers_goes_to_an_agent_once(
        desk_without_plexacet_providers):
    desk, providers, mailbox = desk_without_plexacet_providers
    start = await earliest(desk)
    made = await desk.http.post("/v1/onboarding", json=new_user(start),
                                headers=desk.as_("plexacet", "hr"))
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket_id"]

    async def view() -> dict:
        return (await desk.http.get(f"/v1/tickets/{ticket}",
                                    headers=desk.as_("plexacet", "agent"))).json()

    def handed_over(body: dict) -> bool:
        return body["steps"][0]["needs_agent"]

    await eventually(view, handed_over)

    def do_by_hand() -> list:
        return [m for m in mailbox.about(ticket) if "Do by hand" in m["Subject"]]

    await eventually(do_by_hand, bool)
    await asyncio.sleep(SETTLE_SECONDS)  # room for a loop to show itself
    body = await view()
    account = body["steps"][0]
    assert account["name"] == "create_account"
    # The provider's reason is on the ticket, where the agent reads it.
    assert "Microsoft Graph is not set up for" in account["last_error"]
    assert "providers.graph_tenant" in account["last_error"]
    assert account["attempts_failed"] == 1 and account["next_attempt_at"] is None
    assert [e["kind"] for e in body["events"]].count("step_failed:create_account") == 1
    assert len(do_by_hand()) == 1
    assert not providers.seen  # nothing reached any provider for this client
    handle = desk.client.get_workflow_handle(workflow_id(TicketKind.ONBOARDING, ticket))
    history = [event async for event in handle.fetch_history_events()]
    assert len(history) < 100, len(history)
