"""A QBR on demand, without HTTP: which quarters may be asked for, what the report says
about what it did not count, and (time skipping) an interim report of the current quarter
becoming the final one, mailed once, when the quarter ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.worker import Worker

from activities.reviews import ReviewActivities
from desk.reports import produce_qbr
from domain.documents.qbr import headline, qbr_html
from domain.errors import FieldError
from domain.qbr import QBR_TICKETS_MAX
from domain.reviews import on_demand_quarter, quarter_label
from tests.conftest import make_settings
from tests.peers import Mailbox
from tests.reviews.test_qbr_figures import figures
from tests.web.helpers import eventually
from workflows.kinds import view_models
from workflows.reviews import QbrWorkflow

MELBOURNE = "Australia/Melbourne"
NOW = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)  # 7 December, 04:00 in Melbourne


def test_the_current_quarter_and_eight_before_it_may_be_asked_for():
    current = on_demand_quarter("2026-Q4", MELBOURNE, NOW)
    assert current.label == "2026-Q4" and current.end > NOW  # its figures so far
    assert on_demand_quarter("2024-Q4", MELBOURNE, NOW).label == "2024-Q4"  # 8 back
    # New Year's Eve 14:00 UTC is already 2027 in Melbourne: Q1 2027 has begun there.
    new_year = datetime(2026, 12, 31, 14, 0, tzinfo=UTC)
    assert on_demand_quarter("2027-Q1", MELBOURNE, new_year).label == "2027-Q1"


@pytest.mark.parametrize(("label", "says"), [
    ("2027-Q1", "has not begun"),
    ("2024-Q3", "more than 8 quarters back"),
    ("0000-Q1", "more than 8 quarters back"),  # no date at all: year 0 (fuzzed)
    ("9999-Q4", "has not begun"),  # its end would be in year 10000
    ("2026-Q5", "is not a quarter"),
    ("Q4", "is not a quarter"),
])
def test_other_quarters_are_refused_saying_which_may_be_asked_for(label, says):
    with pytest.raises(FieldError) as refused:
        on_demand_quarter(label, MELBOURNE, NOW)
    assert refused.value.field == "quarter" and says in refused.value.message
    assert "from 2024-Q4 to 2026-Q4" in refused.value.fix


def test_new_years_eve_in_new_york_is_still_2026_there():
    with pytest.raises(FieldError):
        on_demand_quarter("2027-Q1", "America/New_York", datetime(2026, 12, 31, 14, tzinfo=UTC))


def test_a_report_says_what_it_did_not_count_in_a_readers_words():
    # Tickets opened after the quarter (read, not counted in it) are no gap in the report:
    # the old note said "12 found, only the first read" here.
    whole = dict(headline(figures().model_copy(update={"tickets_seen": 12})))
    assert "Not counted" not in whole
    assert not any("first read" in text for text in whole.values())
    capped = dict(headline(figures().model_copy(update={"tickets_seen": QBR_TICKETS_MAX + 1})))
    assert capped["Not counted"] == (
        "this report reads at most 5,000 tickets, and more than that were opened from "
        "1 January 2027 on: the rest were not counted, so the numbers here are lower than "
        "the real ones; ask your account manager for the full figures")


def test_a_report_of_a_quarter_not_over_says_it_is_interim():
    f = figures()
    interim = f.model_copy(update={"generated_at": f.period_end - timedelta(days=20)})
    rows = dict(headline(interim))
    assert rows["Status"] == ("interim: the quarter so far, to 11 March 2027; the final "
                              "report follows when the quarter ends")
    assert rows["Tickets opened"].endswith("still open")
    assert "Status" not in dict(headline(f))
    assert "Figures so far, as at Thu 11 Mar 2027, 11:00 pm EST" in qbr_html(interim)
    assert "Figures as at the end of the quarter" in qbr_html(f)


class NoTickets:
    async def workflow_ids(self, client_id: str, since: datetime, limit: int,
                           ) -> tuple[list[str], int]:
        return [], 0


async def test_an_interim_report_becomes_final_and_is_mailed_when_its_quarter_ends(
        ts_env, config, task_queue):
    client = config.client("belton")
    zone = client.sla.calendar.timezone
    now = await ts_env.get_current_time()
    label = quarter_label(now.astimezone(ZoneInfo(zone)).date())
    with Mailbox() as mailbox:
        settings = make_settings(task_queue=task_queue, smtp_host="127.0.0.1",
                                 smtp_port=mailbox.port)
        reviews = ReviewActivities(settings, config, ts_env.client, tickets=NoTickets(),
                                   view_models=view_models())
        async with Worker(ts_env.client, task_queue=task_queue, workflows=[QbrWorkflow],
                          activities=reviews.all()):
            order = await produce_qbr(ts_env.client, settings, client, label, now)
            assert order.started and order.workflow_id == f"qbr:belton:{label}"
            interim = await eventually(lambda: order.handle.query(QbrWorkflow.report),
                                       lambda r: r.figures is not None, timeout=30)
            assert interim.status == "interim" and interim.figures.generated_at == now
            assert interim.message_id is None and mailbox.messages == []
            again = await produce_qbr(ts_env.client, settings, client, label, now)
            assert not again.started  # the same report: nothing new made

            period_end = interim.figures.period_end
            await ts_env.sleep(period_end - now + timedelta(minutes=1))
            final = await eventually(lambda: order.handle.query(QbrWorkflow.report),
                                     lambda r: r.message_id is not None, timeout=30)
            assert final.status == "ready" and final.figures.generated_at == period_end
            [mail] = mailbox.messages
            assert label in mail["Subject"]
            await order.handle.terminate("test done")
