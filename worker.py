"""The Temporal worker: every workflow and activity of Tempodesk on one task queue.

Scale out by running more of these (and more API replicas) against the same cluster.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, Worker

import log_hygiene
from activities.alerts import AlertActivities
from activities.directory import DirectoryActivities
from activities.file_store import FileStore
from activities.files import FileActivities
from activities.notifications import NotificationActivities
from activities.onboarding import OnboardingActivities
from activities.procurement import ProcurementActivities
from activities.provider_clients import ProviderClients
from activities.providers import ProviderActivities
from activities.reviews import ReviewActivities
from activities.sla import SlaActivities
from domain.ids import sequence_task_queue
from domain.settings import Settings
from domain.tenants import TempodeskConfig
from workflows.alert_episode import AlertEpisodeWorkflow
from workflows.directory_user import DirectoryUserWorkflow
from workflows.idempotency_shard import IdempotencyShardWorkflow
from workflows.kinds import TICKET_WORKFLOWS, view_models
from workflows.post_mortem import PostMortemWorkflow
from workflows.reviews import NpsSurveyWorkflow, QbrWorkflow, ReviewKickoffWorkflow
from workflows.ticket_sequence import TicketSequenceWorkflow

log = logging.getLogger(__name__)

WORKFLOWS: Sequence[type] = (*TICKET_WORKFLOWS.values(), PostMortemWorkflow,
                             TicketSequenceWorkflow, IdempotencyShardWorkflow,
                             DirectoryUserWorkflow, AlertEpisodeWorkflow, ReviewKickoffWorkflow,
                             NpsSurveyWorkflow, QbrWorkflow)
# Numbers and idempotency keys run on their own queue (see build_workers).
_NUMBERING = (TicketSequenceWorkflow, IdempotencyShardWorkflow)


# Pollers scale with the work the server has (Temporal's poller autoscaling): a burst of
# new tickets, or of timers falling due at one instant, is fetched by as many pollers as
# there are free slots, not by a fixed few (TEMPORAL_NOTES.md found 10 twice as fast as the
# default 5 for first tasks; bench/scale_bench.py gives the bare SDK worker these options).
POLLING: dict[str, Any] = {
    "workflow_task_poller_behavior": PollerBehaviorAutoscaling(initial=10),
    "activity_task_poller_behavior": PollerBehaviorAutoscaling(initial=10),
    "nonsticky_to_sticky_poll_ratio": 1.0,
}


# Python's full collections walk every object they track: with 2,000 tickets cached (each
# with its sandboxed copies of the workflow modules) one took 0.6-1.3 s, with no workflow
# task run meanwhile (bench/scale_bench.py caught four inside one 1,000-deadline burst).
# What a worker loads at start is frozen out of every collection, and the youngest
# generation is collected every 5,000 allocations rather than 700, so full collections
# (every 10 x 10 young ones) come ~7 times less often. Evicted tickets are cyclic garbage
# only a full collection frees: 20,000 (full collections ~30 times rarer) cut the tail
# further but left ~500 MiB more of it and the worker's memory grew with open tickets.
GC_THRESHOLDS = (5_000, 10, 10)


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def activities(settings: Settings, config: TempodeskConfig,
               http: httpx.AsyncClient) -> list[Callable[..., Any]]:
    notifications = NotificationActivities(settings, config, http)
    sla = SlaActivities(config)
    clients = ProviderClients.build(settings, config, http)  # one Graph, one token cache
    providers = ProviderActivities(config, clients)
    joiners = OnboardingActivities(config, clients)
    procurement = ProcurementActivities(settings, http)
    files = FileActivities(FileStore.from_settings(settings))
    return [notifications.deliver, notifications.deliver_notices, notifications.notify,
            sla.extend_calendar, *providers.all(), *joiners.all(), procurement.place_order,
            *files.all()]


def build_workers(client: Client, settings: Settings, config: TempodeskConfig,
                  http: httpx.AsyncClient, *, task_queue: str | None = None) -> list[Worker]:
    """The ticket workers, plus a small one for the ticket-number sequences on their own
    queue, so a lease never waits behind a burst of new tickets."""
    log_hygiene.install()
    queue = task_queue or settings.task_queue
    tickets = Worker(
        client,
        task_queue=queue,
        workflows=[w for w in WORKFLOWS if w not in _NUMBERING],
        activities=[*activities(settings, config, http), *AlertActivities(client).all(),
                    *DirectoryActivities(client).all(),
                    *ReviewActivities(settings, config, client,
                                     view_models=view_models()).all()],
        # Bounded cache bounds memory: evicted tickets replay when they next wake.
        max_cached_workflows=settings.max_cached_workflows,
        **POLLING,
        # A worker that dies leaves its tickets' next tasks on its sticky queue; after this
        # long they move to the shared queue, so a timer due meanwhile fires ~1 s late, not 10.
        sticky_queue_schedule_to_start_timeout=timedelta(
            seconds=settings.sticky_schedule_to_start_seconds),
        # SIGTERM: stop polling, let running deliveries finish.
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )
    sequences = Worker(client, task_queue=sequence_task_queue(queue),
                       workflows=[TicketSequenceWorkflow, IdempotencyShardWorkflow],
                       max_cached_workflows=500,
                       # A dead worker's leases and key records must not wait 10 s on
                       # its sticky queue while intakes hang on them.
                       sticky_queue_schedule_to_start_timeout=timedelta(
                           seconds=settings.sticky_schedule_to_start_seconds),
                       graceful_shutdown_timeout=timedelta(
                           seconds=settings.graceful_shutdown_seconds))
    return [tickets, sequences]


NO_SMTP_WARNING = ("TEMPODESK_SMTP_HOST is not set: no e-mail leaves this desk (notices, "
                   "surveys, reports); each notice is recorded on its ticket as not sent "
                   "(event notice_unsent, counter notices_unsent), never as sent")
