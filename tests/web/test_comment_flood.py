"""No client can push a ticket toward Temporal's payload limits: flooded with the largest
comments allowed (4-byte characters, the worst case for size), a ticket stays queryable,
updatable and on time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from domain.tenants import TempodeskConfig
from domain.tickets import COMMENT_MAX_CHARS, COMMENTS_KEPT
from tests.conftest import make_settings, running_desk
from tests.fast_sla import fast_config_dict
from tests.tags import unique_tag
from tests.web.helpers import assert_problem, eventually, incident_body

PAYLOAD_LIMIT = 2 * 1024 * 1024


async def test_flooded_ticket_stays_queryable_updatable_and_on_time(dev_client, task_queue):
    config = TempodeskConfig.model_validate(
        fast_config_dict(response="20s", resolution="5m", tag=unique_tag()))
    async with running_desk(dev_client, config, make_settings(task_queue=task_queue)) as desk:
        requester, agent = desk.as_("belton", "requester"), desk.as_("belton", "agent")
        ticket = (await desk.http.post("/v1/incidents", json=incident_body(),
                                       headers=requester)).json()["ticket_id"]
        too_long = await desk.http.post(f"/v1/tickets/{ticket}/comments", headers=requester,
                                        json={"body": "x" * (COMMENT_MAX_CHARS + 1)})
        assert assert_problem(too_long, 422)["errors"][0]["field"] == "body"

        body = "\N{GRINNING FACE}" * COMMENT_MAX_CHARS  # 40,000 bytes of UTF-8
        for batch in range(0, 240, 24):
            answers = await asyncio.gather(*(
                desk.http.post(f"/v1/tickets/{ticket}/comments", headers=requester,
                               json={"body": f"{n:03d}" + body[3:]})
                for n in range(batch, batch + 24)))
            assert all(a.status_code == 202 for a in answers)

        async def shown():
            return await desk.http.get(f"/v1/tickets/{ticket}", headers=agent)

        response = await eventually(shown, lambda r: r.json()["comments_total"] == 240,
                                    timeout=60)
        view = response.json()
        print(f"\nview after 240 comments: {len(response.content):,} bytes")
        assert len(response.content) < PAYLOAD_LIMIT // 2
        assert len(view["comments"]) == COMMENTS_KEPT
        assert all(c["chars"] == COMMENT_MAX_CHARS for c in view["older_comments"])

        # On time: the 20 s response breach fires at its instant despite the flood.
        breached = await eventually(shown, lambda r: r.json()["breached"], timeout=40)
        breach = next(e for e in breached.json()["events"]
                      if e["kind"] == "sla_breached:response")
        late = datetime.fromisoformat(breach["at"]) - datetime.fromisoformat(breach["due"])
        assert timedelta(0) <= late < timedelta(seconds=1.25), late
        acked = await desk.http.post(f"/v1/tickets/{ticket}/acknowledge", headers=agent)
        assert acked.status_code == 200, acked.text
        assert acked.json()["status"] == "acknowledged"

        # It continued as new along the way; the queue still lists it once.
        runs = [w async for w in desk.client.list_workflows(f"WorkflowId = 'incident:{ticket}'")]
        assert len(runs) > 1

        async def listed():
            page = await desk.http.get("/v1/tickets", headers=agent)
            return [t["ticket_id"] for t in page.json()["tickets"]]

        assert (await eventually(listed, lambda ids: ticket in ids)).count(ticket) == 1
