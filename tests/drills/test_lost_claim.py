"""An idempotent intake whose claim the server recorded but whose answer never arrived
(the server died between the two) must not hand the claimed number to the next key: the
key now owns it, so the next request getting it too would open one ticket for two keys.

The API's Temporal client talks through a TCP proxy that swallows the claim's answer and
then cuts the connection; the client is made not to retry, so the request ends at once in
a 503 (the retries after a real crash take about 10 s, then end the same way)."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RetryConfig, RPCError

from api.app import create_app
from desk.intake import scoped_key
from desk.principal import Principal
from domain.ids import idempotency_workflow_id
from domain.roles import Role
from domain.tenants import hash_api_key
from tests.conftest import DATA_CONVERTER, isolated, make_settings, running_desk, served
from tests.processes import INCIDENT
from tests.web.helpers import eventually

DEMO_KEY = "td_belton_requester_demo"
UPDATE_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED


class CuttableProxy:
    """TCP to ``target``; ``swallow`` drops what the server sends, ``cut()`` closes every
    connection."""

    def __init__(self, target: str) -> None:
        self.host, port = target.rsplit(":", 1)
        self.target_port = int(port)
        self.swallow = False
        self.down = False  # refuse new connections
        self.writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> CuttableProxy:
        self.server = await asyncio.start_server(self._pair, "127.0.0.1", 0)
        self.address = f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.cut()
        self.server.close()

    def cut(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def _pair(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        upstream_reader, upstream = await asyncio.open_connection(self.host, self.target_port)
        self.writers |= {writer, upstream}

        async def pipe(source, sink, answers: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    if not (answers and self.swallow):
                        sink.write(data)
                        await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream, False), pipe(upstream_reader, writer, True))


async def test_a_recorded_claim_whose_answer_was_lost_keeps_its_number(dev_client, config,
                                                                       task_queue):
    desk_config = isolated(config)
    belton = next(c for c in desk_config.clients if c.id.startswith("belton-"))
    key = next(k for k in belton.api_keys if k.sha256 == hash_api_key(DEMO_KEY))
    principal = Principal.of_client(belton.id, Role.REQUESTER, key.id, "api_key")
    headers = {"Authorization": f"Bearer {DEMO_KEY}"}
    async with (CuttableProxy(dev_client.service_client.config.target_host) as proxy,
                running_desk(dev_client, desk_config,
                             make_settings(task_queue=task_queue)) as desk):
        through_proxy = await Client.connect(proxy.address, data_converter=DATA_CONVERTER,
                                             retry_config=RetryConfig(
                                                 initial_interval_millis=50, max_retries=1,
                                                 max_elapsed_time_millis=500))
        app = create_app(desk.settings, desk.config, through_proxy)
        async with served(app) as (_, http):
            warm = await http.post("/v1/incidents", json=INCIDENT,
                                   headers={**headers, "Idempotency-Key": "warm"})
            assert warm.status_code == 201, warm.text  # this replica now holds a block

            proxy.swallow = True
            lost = asyncio.create_task(http.post(
                "/v1/incidents", json=INCIDENT, headers={**headers, "Idempotency-Key": "lost"}))
            shard = dev_client.get_workflow_handle(idempotency_workflow_id(
                belton.ticket_prefix, scoped_key(principal, "lost")))

            async def claim_recorded() -> bool:
                try:
                    return UPDATE_COMPLETED in [e.event_type
                                                async for e in shard.fetch_history_events()]
                except RPCError:  # not started yet
                    return False

            try:
                await eventually(claim_recorded, bool, timeout=5)
            except AssertionError:
                print([w.id async for w in dev_client.list_workflows(
                    f"WorkflowId STARTS_WITH 'idempotency:{belton.ticket_prefix}'")], shard.id)
                raise
            proxy.down = True
            proxy.cut()
            proxy.swallow = False
            answer = await lost
            proxy.down = False
            assert answer.status_code == 503, answer.text  # unreachable: retry (not a 502)

            other = await http.post("/v1/incidents", json=INCIDENT,
                                    headers={**headers, "Idempotency-Key": "other"})
            again = await http.post("/v1/incidents", json=INCIDENT,
                                    headers={**headers, "Idempotency-Key": "lost"})
            assert other.status_code == 201 and again.status_code == 201, (other.text,
                                                                           again.text)
            print(f"\nwarm {warm.json()['ticket_id']}, lost then retried "
                  f"{again.json()['ticket_id']}, next key {other.json()['ticket_id']}")
            assert other.json()["ticket_id"] != again.json()["ticket_id"]
            assert warm.json()["ticket_id"] not in (other.json()["ticket_id"],
                                                    again.json()["ticket_id"])
