"""Drill (issue 12): SIGKILL the Temporal dev server (SQLite store) in the middle of a stream
of intakes and restart it on the same port and file. No ticket is lost, none duplicated, no
number handed out twice (the sequence resumes from its durable state), and while the
server is down the API answers 503 problem+json, never a 500.

Real processes: `temporal server start-dev --db-filename`, `tempodesk worker`, two
`tempodesk api`; intakes over keep-alive HTTP, each with its own Idempotency-Key, retried
with the same key until they succeed. The first API takes the stream through the kill; the
second takes its first request after the restart, so every number it hands out comes from
a block leased from the restarted server's store."""

from __future__ import annotations

import asyncio
import json
import time

from domain.ids import parse_ticket_id, sequence_workflow_id
from tests.processes import (
    BELTON_REQUESTER,
    INCIDENT,
    DevServer,
    Lane,
    api,
    assert_listed_once,
    assert_one_ticket_per_key,
    assert_only_retryable_failures,
    assert_tickets_answer,
    child_env,
    connect,
    drill_config,
    fire,
    load,
    worker,
)
from tests.tags import unique_tag
from workflows.ticket_sequence import TicketSequenceWorkflow

THROUGH = 60  # intakes on the first API, through the kill and the restart
KILL_AFTER = 30  # of them answered before the SIGKILL
FRESH = 30  # intakes on the second API after the restart
CONCURRENCY = 8


async def test_dev_server_sigkill_loses_and_duplicates_nothing(tmp_path):
    tag = unique_tag()
    setup_began = time.monotonic()
    server = DevServer(tmp_path / "temporal")
    server.start()
    config, client_id, prefix = drill_config(tmp_path / "drill.yaml", tag)
    env = child_env(server.address, f"drill-{tag}", config)
    the_worker = worker(env, tmp_path / "worker.log")
    first, second = api(env, tmp_path / "api1.log"), api(env, tmp_path / "api2.log")
    try:
        for one in (first, second):
            await asyncio.to_thread(one.wait_healthy)
        client = await connect(server.address)
        setup_seconds = time.monotonic() - setup_began
        sequence = client.get_workflow_handle_for(TicketSequenceWorkflow.run,
                                                  sequence_workflow_id(prefix))
        intakes = []
        began = time.monotonic()
        stream = asyncio.create_task(load([first.port], THROUGH, CONCURRENCY, tag, intakes))
        while len(intakes) < KILL_AFTER:
            assert not stream.done(), stream.exception()
            await asyncio.sleep(0.05)
        leased_before = (await sequence.query(TicketSequenceWorkflow.peek)).next_number
        server.kill()
        killed_at = time.monotonic()

        # While the server is down: a clear 503 problem+json (a fresh key, retried below).
        probe = Lane(first.port)
        answer = await probe.post("/v1/incidents", json.dumps(INCIDENT).encode(),
                                  {**BELTON_REQUESTER, "Idempotency-Key": f"{tag}-probe"})
        down_for = time.monotonic() - killed_at
        assert answer.status == 503, (answer.status, answer.body[:500])
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:tempodesk:problem:temporal-unavailable"
        assert "retry-after" in answer.headers
        restart_seconds = server.start()
        restarted_at = time.monotonic()
        fresh = await load([second.port], FRESH, CONCURRENCY // 2, f"{tag}b")
        await stream
        intakes.append(await fire(probe, f"{tag}-probe"))
        probe.close()
        stream_seconds = time.monotonic() - began
        intakes += fresh

        assert_only_retryable_failures(intakes)
        by_key = assert_one_ticket_per_key(intakes)
        assert len(by_key) == THROUGH + FRESH + 1
        before = {i.ticket for i in intakes if i.answered_at < killed_at}
        after = [i for i in intakes if i.sent_at > restarted_at]
        assert not before & {i.ticket for i in after}
        numbers = [parse_ticket_id(t)[1] for t in by_key.values()]
        assert all(parse_ticket_id(i.ticket)[1] >= leased_before for i in fresh), (
            "the second API got a number leased before the kill")
        leased_now = (await sequence.query(TicketSequenceWorkflow.peek)).next_number
        assert leased_now > max(numbers)

        # The same key again: the same ticket, marked replayed (the key's shard survived).
        replay = Lane(first.port)
        for intake in intakes[:: max(1, len(intakes) // 40)]:
            again = await fire(replay, intake.key)
            assert (again.ticket, again.status, again.replayed) == (intake.ticket, 201, True)
        replay.close()

        # Every ticket running and answering; those opened after the restart worked too.
        # (A notice attempt in flight at the kill is retried after its 1-minute timeout.)
        worked_seconds = await assert_tickets_answer(client, [i.ticket for i in after])
        answer_seconds = await assert_tickets_answer(client, list(by_key.values()),
                                                     ready=lambda view: True)
        await assert_listed_once(client, client_id, list(by_key.values()))
        retried = [i for i in intakes if i.failures]
        seen = sorted({what for i in intakes for what, _ in i.failures})
        replayed = sum(i.replayed for i in intakes)
        print(f"\n{len(intakes)} intakes in {stream_seconds:.1f} s ({len(before)} before the "
              f"SIGKILL, {len(after)} sent after the restart); API answered 503 "
              f"{down_for:.2f} s after the kill; server back in {restart_seconds:.2f} s; "
              f"{len(retried)} intakes retried ({', '.join(seen)}), {replayed} answered as "
              f"a replay; numbers {leased_before}..{leased_now - 1} leased since the kill, "
              f"the second API's {min(parse_ticket_id(i.ticket)[1] for i in fresh)}.."
              f"{max(parse_ticket_id(i.ticket)[1] for i in fresh)}; all {len(by_key)} "
              f"answered their query in {answer_seconds:.1f} s; setup {setup_seconds:.1f} s, "
              f"the {len(after)} after the restart worked {worked_seconds:.1f} s after the "
              "stream")
    finally:
        for child in (first, second, the_worker):
            child.stop()
        server.stop()
