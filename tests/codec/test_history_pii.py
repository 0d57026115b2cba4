"""PII in history: with encryption on, a user exit and a new user raised over HTTP leave no
personal data readable in Temporal history; with the codec, the same history decodes and
holds it."""

from __future__ import annotations

import base64
import contextlib
import os

from temporalio.client import Client

from domain.ids import TicketKind, sequence_task_queue, workflow_id
from domain.tenants import Providers
from payload_codec import EncryptionCodec
from provider_sandbox import ProviderServer
from temporal_client import data_converter
from tests.conftest import make_settings, provider_desk, sandbox_sites
from tests.pii import assert_contains, assert_no_plaintext, decode_history, raw_history
from tests.web.helpers import eventually
from tests.web.test_offboarding import UPN, exit_form

PHONE = "+61 400 123 456"
PII = ["Jo Tran", UPN, PHONE, "Mia Chen", "mia.chen@harbourside.example"]


@contextlib.asynccontextmanager
async def encrypted_desk(dev_client, config, task_queue, providers, client_providers):
    """The worker and the API encrypt with a fresh key; dev_client (no codec) reads what
    the server stores."""
    key = base64.b64encode(os.urandom(32)).decode()
    settings = make_settings(task_queue=task_queue, codec_keys={"test-1": key},
                             codec_key_id="test-1")
    encrypted = await Client.connect(dev_client.service_client.config.target_host,
                                     namespace=dev_client.namespace,
                                     data_converter=data_converter(settings))
    async with provider_desk(encrypted, config, providers, client_providers,
                             task_queue=task_queue, codec_keys={"test-1": key},
                             codec_key_id="test-1") as desk:
        yield desk, settings


async def test_a_user_exit_leaves_no_plaintext_pii_in_history(dev_client, config, task_queue):
    with ProviderServer() as providers:
        providers.faults.throttle = 1  # one failed attempt: its error text is history too
        async with encrypted_desk(dev_client, config, task_queue, providers,
                                  sandbox_sites(Providers(graph_tenant="contoso-tenant"))
                                  ) as (desk, settings):
            form = exit_form(employee={"name": "Jo Tran", "email": UPN, "phone": PHONE})
            made = await desk.http.post("/v1/offboarding", json=form,
                                        headers=desk.as_("belton", "hr"))
            assert made.status_code == 201, made.text
            ticket = made.json()["ticket_id"]

            async def view():
                return (await desk.http.get(f"/v1/tickets/{ticket}",
                                            headers=desk.as_("belton", "agent"))).json()

            done = await eventually(view, lambda v: all(s["done_at"] for s in v["steps"]),
                                    timeout=60)
            assert done["employee"] == "Jo Tran"  # the API still reads it, decrypted
            hold = await desk.http.post(f"/v1/tickets/{ticket}/legal-hold",
                                        headers=desk.as_("belton", "director"),
                                        json={"hold": True, "reason": "Jo Tran's dispute"})
            assert hold.status_code == 200, hold.text

    codec = EncryptionCodec.from_settings(settings)
    assert codec is not None
    exit_history = await raw_history(dev_client, workflow_id(TicketKind.OFFBOARDING, ticket))
    assert_no_plaintext(exit_history.SerializeToString(), PII)
    assert_contains(decode_history(exit_history, codec).SerializeToString(), PII)
    # Timeline labels name the employee, so they are sealed too (the Web UI decodes them).
    labels = [e.user_metadata.summary for e in exit_history.events
              if e.HasField("activity_task_scheduled_event_attributes")]
    assert labels and all(s.metadata["encoding"] == b"binary/encrypted" for s in labels)

    # Every other workflow the desk ran for it (ticket numbers, notices) as well.
    queues = " OR ".join(f"TaskQueue = '{q}'" for q in (task_queue,
                                                         sequence_task_queue(task_queue)))
    others = [w.id async for w in dev_client.list_workflows(queues)]
    for other in others:
        history = await raw_history(dev_client, other)
        assert_no_plaintext(history.SerializeToString(), PII)


async def test_a_new_user_leaves_no_plaintext_pii_in_history(dev_client, config, task_queue):
    from datetime import date, timedelta

    from tests.web.test_onboarding import new_user

    joiner = ["Sam Lee", "sam.lee@harbourside.example", "sam.lee@personal.example",
              "+61 400 000 000", "Mia Chen", "mia.chen@harbourside.example"]
    with ProviderServer() as providers:
        wired = sandbox_sites(Providers(graph_tenant="contoso-tenant", edr_component="comp-s1"))
        async with encrypted_desk(dev_client, config, task_queue, providers,
                                  wired) as (desk, settings):
            start = (date.today() + timedelta(days=30)).isoformat()
            made = await desk.http.post("/v1/onboarding", headers=desk.as_("belton", "hr"),
                                        json=new_user(start, role_template=None,
                                                      licences=["SPE_E3"], mailbox_access=[]))
            assert made.status_code == 201, made.text
            ticket = made.json()["ticket_id"]

            async def view():
                return (await desk.http.get(f"/v1/tickets/{ticket}",
                                            headers=desk.as_("belton", "agent"))).json()

            ready = await eventually(view, lambda v: v["ready_at"], timeout=60)
            assert ready["employee"] == "Sam Lee"

    codec = EncryptionCodec.from_settings(settings)
    history = await raw_history(dev_client, workflow_id(TicketKind.ONBOARDING, ticket))
    assert_no_plaintext(history.SerializeToString(), joiner)
    assert_contains(decode_history(history, codec).SerializeToString(), joiner)
