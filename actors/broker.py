"""build_broker(settings): the Dramatiq broker of this process, its middleware, its actors.

RabbitMQ when BROKER_URL is set, else Dramatiq's in-process StubBroker (embedded defaults).
The broker is made the global one (``dramatiq.set_broker``) before any actor is declared.

Middleware order matters (``emit_before`` runs in list order, ``emit_after`` in reverse):

1. ``AsyncIO``: the event loop the async actors run on;
2. ``DatabaseLifecycle``: the ORM on that loop (after it: the loop exists first, the ORM closes
   before the loop stops);
3. ``JobTracking``: before the retry logic, so its after-hook sees whether Retries gave up;
   ``JobMetrics`` likewise (job outcomes), then ``WorkerHeartbeat`` (needs the loop);
4. ``AgeLimit``, ``TimeLimit``, ``ShutdownNotifications``, ``Callbacks``, ``Pipelines``;
5. ``PolicyRetries``: Dramatiq's Retries plus rate-limit waits and retry windows;
6. ``CurrentMessage``.
"""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    AsyncIO,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    ShutdownNotifications,
    TimeLimit,
)

from actors import policy, rate_limits
from actors.contracts.messages import all_messages
from actors.contracts.relay import CallbackPublisher
from actors.middleware.database import DatabaseLifecycle
from actors.middleware.heartbeat import WorkerHeartbeat
from actors.middleware.jobs import JobTracking
from actors.middleware.metrics import JobMetrics
from actors.middleware.retries import PolicyRetries
from actors.settings import WorkerSettings, use

log = logging.getLogger(__name__)


def build_middleware(
    settings: WorkerSettings, *, orm: bool = True, check_schema: bool = True
) -> list[Middleware]:
    middleware: list[Middleware] = [AsyncIO()]
    if orm:
        middleware.append(
            DatabaseLifecycle(
                settings.database_url, max_size=settings.db_pool_size, check_schema=check_schema
            )
        )
    middleware += [
        JobTracking(settings.database_url, heartbeat_interval=settings.job_heartbeat_seconds),
        JobMetrics(),
        # At most once a second: the row says "alive", it need not follow running jobs closely.
        WorkerHeartbeat(settings.database_url, interval=max(1.0, settings.job_heartbeat_seconds)),
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        PolicyRetries(),
        CurrentMessage(),
    ]
    return middleware


def build_broker(
    settings: WorkerSettings, *, orm: bool = True, check_schema: bool = True
) -> dramatiq.Broker:
    """The broker for ``settings``, set as Dramatiq's global broker, with every registered actor
    declared and every contract queue declared.

    ``orm=False`` leaves the ORM alone (for processes that open it themselves, e.g. tests).
    """
    middleware = build_middleware(settings, orm=orm, check_schema=check_schema)
    broker: dramatiq.Broker
    if settings.embedded:
        broker = StubBroker(middleware=middleware)
    else:
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # Confirms for the worker's own publishes (retries): a worker thread may block on them;
        # the edge never publishes with pika (BASELINE.md section 7).
        broker = RabbitmqBroker(
            url=settings.broker_url,
            confirm_delivery=True,
            max_priority=settings.broker_max_priority,
            middleware=middleware,
        )
    dramatiq.set_broker(broker)
    use(settings)
    rate_limits.configure(settings)
    policy.declare_all(broker)
    # Every contract queue exists before the relay hands a message over (StubBroker.enqueue
    # raises QueueNotFound otherwise; RabbitMQ workers consume only declared queues).
    for message_class in all_messages():
        broker.declare_queue(message_class.queue_name)
    log.info("broker ready: %s", settings.describe())
    return broker


def stub_publisher(broker: dramatiq.Broker) -> CallbackPublisher:
    """A relay publisher that hands messages to an in-process broker (embedded defaults)."""

    def hand_over(queue_name: str, body: bytes) -> None:
        message = dramatiq.Message.decode(body)
        if message.queue_name not in broker.get_declared_queues():
            broker.declare_queue(message.queue_name)
        broker.enqueue(message)

    return CallbackPublisher(hand_over)
