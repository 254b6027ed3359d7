"""The outbox relay: claims unsent outbox rows, publishes them with confirms, marks them sent.

Several relays may run at once (edge processes, ``zerocancer relay``): each batch is claimed with
``FOR UPDATE SKIP LOCKED`` and marked sent in the same transaction, so a row is published by one
relay at a time. Delivery stays at-least-once (a relay can die between the broker's confirm and
COMMIT), which is why actors are idempotent (BASELINE.md section 7).

The relay wakes on ``LISTEN outbox`` on a dedicated connection (a pooled connection stops
listening when released, BASELINE.md pitfall 9), and polls slowly as a safety net for lost
notifications and for delayed rows coming due.

No Dramatiq and no pika here: the edge runs this module on its own event loop. ``aio_pika`` is
imported only when an ``AmqpPublisher`` is used.

Metrics (``monitoring.metrics``, imported on first use so that ``zerocancer relay`` can prepare
the multiprocess directory first): ``zerocancer_relay_published_messages_total`` per queue once
rows are confirmed and marked sent, and every ``BACKLOG_INTERVAL`` seconds
``zerocancer_outbox_backlog_messages`` / ``zerocancer_outbox_oldest_unsent_age_seconds`` per
queue (0 for queues with nothing due), also kept in ``RelayStats`` for readiness checks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg

from actors.contracts import wire
from actors.contracts.messages import all_messages
from models.db import asyncpg_dsn

if TYPE_CHECKING:
    from types import ModuleType

    import aio_pika.abc

log = logging.getLogger(__name__)

#: Rows claimed per transaction (the baseline measured ~9k rows/s at 500).
DEFAULT_BATCH_SIZE = 500
#: Safety-net poll when no NOTIFY arrives, in seconds.
DEFAULT_POLL_INTERVAL = 1.0
#: Longest pause between attempts while the broker or the database is failing, in seconds.
MAX_FAILURE_BACKOFF = 5.0
#: Seconds between two measures of the outbox backlog (metrics and ``RelayStats``).
BACKLOG_INTERVAL = 5.0
#: How long Dramatiq keeps a dead message (its ``dramatiq_dead_message_ttl``, default 7 days).
DEAD_MESSAGE_TTL_MS = int(
    os.getenv("dramatiq_dead_message_ttl", str(86_400_000 * 7))  # noqa: SIM112, Dramatiq's name
)

_CLAIM_SQL = """
SELECT id, queue_name, message::text AS message
FROM outbox
WHERE sent_at IS NULL AND available_at <= now()
ORDER BY available_at, id
LIMIT $1
FOR UPDATE SKIP LOCKED
"""
_MARK_SENT_SQL = "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"
# Only rows not yet due: rows due now but locked by another relay must not make us spin.
_NEXT_DUE_SQL = """
SELECT EXTRACT(EPOCH FROM (min(available_at) - now()))::float8 AS seconds
FROM outbox WHERE sent_at IS NULL AND available_at > now()
"""
#: Due, unsent rows per queue and the age of the oldest (served by ``outbox_pending_idx``).
BACKLOG_SQL = """
SELECT queue_name, count(*) AS pending,
       EXTRACT(EPOCH FROM (now() - min(available_at)))::float8 AS oldest_age
FROM outbox WHERE sent_at IS NULL AND available_at <= now()
GROUP BY queue_name
"""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish: its queue, the encoded body and its Dramatiq message id."""

    queue_name: str
    body: bytes
    message_id: str
    priority: int | None = None


class Publisher(Protocol):
    """Where the relay hands messages over. ``publish`` returns one flag per message: True once
    the broker has confirmed it. Raising means nothing was confirmed."""

    async def publish(self, messages: Sequence[Outgoing]) -> list[bool]: ...

    async def close(self) -> None: ...


class CallbackPublisher:
    """Hands each message to a callable, e.g. an in-process ``StubBroker.enqueue`` under
    embedded defaults (``actors.broker.stub_publisher`` builds one)."""

    def __init__(self, callback: Callable[[str, bytes], Awaitable[None] | None]) -> None:
        self._callback = callback

    async def publish(self, messages: Sequence[Outgoing]) -> list[bool]:
        results = []
        for message in messages:
            try:
                outcome = self._callback(message.queue_name, message.body)
                if outcome is not None:
                    await outcome
            except Exception:
                log.exception("in-process hand-over failed for message %s", message.message_id)
                results.append(False)
            else:
                results.append(True)
        return results

    async def close(self) -> None:
        return None


def dramatiq_queue_arguments(queue_name: str, max_priority: int | None) -> dict[str, Any]:
    """The arguments ``RabbitmqBroker._build_queue_arguments`` gives a queue and its delay queue.

    RabbitMQ refuses to re-declare a queue with other arguments (PRECONDITION_FAILED closes the
    channel), so these must match Dramatiq's byte for byte (BASELINE.md pitfall 7).
    """
    arguments: dict[str, Any] = {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": wire.dead_letter_queue(queue_name),
    }
    if max_priority:
        arguments["x-max-priority"] = max_priority
    return arguments


class AmqpPublisher:
    """Publishes to RabbitMQ with aio-pika and publisher confirms, declaring each queue (and its
    ``.DQ`` and ``.XQ``) exactly as Dramatiq's ``RabbitmqBroker`` does.

    The connection is opened on first use and dropped on any connection error, so the next
    batch reconnects; a failed batch stays unsent in the outbox.
    """

    def __init__(
        self,
        url: str,
        *,
        max_priority: int | None = None,
        confirm_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        dead_message_ttl_ms: int = DEAD_MESSAGE_TTL_MS,
    ) -> None:
        self.url = url
        self.max_priority = max_priority
        self.confirm_timeout = confirm_timeout
        self.connect_timeout = connect_timeout
        self.dead_message_ttl_ms = dead_message_ttl_ms
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._declared: set[str] = set()
        self._lock = asyncio.Lock()

    async def _open(self) -> aio_pika.abc.AbstractChannel:
        import aio_pika

        if self._channel is not None and not self._channel.is_closed:
            return self._channel
        await self._reset()
        self._connection = await aio_pika.connect(self.url, timeout=self.connect_timeout)
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        return self._channel

    async def _declare(self, channel: aio_pika.abc.AbstractChannel, queue_name: str) -> None:
        canonical = wire.canonical_queue(queue_name)
        if canonical in self._declared:
            return
        arguments = dramatiq_queue_arguments(canonical, self.max_priority)
        await channel.declare_queue(canonical, durable=True, arguments=arguments)
        await channel.declare_queue(wire.delay_queue(canonical), durable=True, arguments=arguments)
        await channel.declare_queue(
            wire.dead_letter_queue(canonical),
            durable=True,
            # Static on purpose, as in Dramatiq: RabbitMQ expires messages head-first.
            arguments={"x-message-ttl": self.dead_message_ttl_ms},
        )
        self._declared.add(canonical)

    async def publish(self, messages: Sequence[Outgoing]) -> list[bool]:
        import aio_pika

        async with self._lock:
            try:
                channel = await self._open()
                for queue_name in {m.queue_name for m in messages}:
                    await self._declare(channel, queue_name)
            except BaseException:
                await self._reset()
                raise
            outcomes = await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(
                            m.body,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            priority=m.priority,
                        ),
                        routing_key=m.queue_name,
                        mandatory=True,
                        timeout=self.confirm_timeout,
                    )
                    for m in messages
                ),
                return_exceptions=True,
            )
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            if failures:
                log.warning(
                    "%d of %d messages were not confirmed: %r",
                    len(failures),
                    len(messages),
                    failures[0],
                )
                if channel.is_closed or self._connection is None or self._connection.is_closed:
                    await self._reset()
                else:
                    # A queue may have been deleted (unroutable): declare again next time.
                    self._declared.clear()
            return [not isinstance(o, BaseException) for o in outcomes]

    async def _reset(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._declared.clear()
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        async with self._lock:
            await self._reset()


@dataclass
class RelayStats:
    """Counters for readiness checks and tests (the metrics are in ``monitoring.metrics``)."""

    published: int = 0
    batches: int = 0
    failures: int = 0
    last_error: str | None = None
    listening: bool = False
    listener_connects: int = 0
    #: Whether the last batch reached the broker (None before the first non-empty batch).
    broker_ok: bool | None = None
    #: Due, unsent rows and the age of the oldest, as last measured (None before that).
    backlog: int | None = None
    oldest_unsent_age: float | None = None


class Relay:
    """Moves outbox rows to a ``Publisher``.

    ``run_once()`` handles one batch; ``run()`` loops until ``stop()`` (or the given event),
    waking on NOTIFY, on the slow poll, or when the next delayed row comes due.
    Use ``start()`` / ``stop()`` to run it as a background task inside another process.
    """

    def __init__(
        self,
        database_url: str,
        publisher: Publisher,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        listen: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.database_url = asyncpg_dsn(database_url)
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.listen = listen
        self.stats = RelayStats()
        self._queues = {message.queue_name for message in all_messages()}
        self._next_backlog = 0.0
        self._pool: asyncpg.Pool | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- one batch -------------------------------------------------------------------------

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self.database_url, min_size=1, max_size=1)
        return self._pool

    async def run_once(self) -> int:
        """Claims, publishes and marks one batch; returns how many rows were marked sent.

        Rows whose publish was not confirmed stay unsent and are tried again later. Raises when
        the database fails or when nothing of a non-empty batch could be published.
        """
        pool = await self._get_pool()
        async with pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(_CLAIM_SQL, self.batch_size)
            if not rows:
                return 0
            outgoing = [_outgoing(row["queue_name"], row["message"]) for row in rows]
            try:
                confirmed = await self.publisher.publish(outgoing)
            except Exception:
                self.stats.broker_ok = False
                raise
            sent = [row["id"] for row, ok in zip(rows, confirmed, strict=True) if ok]
            if sent:
                await connection.execute(_MARK_SENT_SQL, sent)
        self.stats.batches += 1
        self.stats.published += len(sent)
        self.stats.broker_ok = bool(sent)
        published: dict[str, int] = {}
        for message, ok in zip(outgoing, confirmed, strict=True):
            if ok:
                published[message.queue_name] = published.get(message.queue_name, 0) + 1
        metrics = _metrics()
        for queue_name, count in published.items():
            metrics.RELAY_PUBLISHED.labels(queue=queue_name).inc(count)
        if not sent:
            raise RelayError(f"none of {len(rows)} outbox rows could be published")
        return len(sent)

    async def measure_backlog(self) -> dict[str, tuple[int, float]]:
        """Due, unsent rows per queue and the oldest one's age in seconds; sets the outbox
        gauges (0 for every known queue with nothing due) and ``stats.backlog``."""
        pool = await self._get_pool()
        rows = await pool.fetch(BACKLOG_SQL)
        found = {row["queue_name"]: (int(row["pending"]), float(row["oldest_age"])) for row in rows}
        self._queues.update(found)
        metrics = _metrics()
        for queue_name in sorted(self._queues):
            # Created at zero, so rate() sees the first publish of a queue (two samples).
            metrics.RELAY_PUBLISHED.labels(queue=queue_name)
            pending, age = found.get(queue_name, (0, 0.0))
            metrics.OUTBOX_BACKLOG.labels(queue=queue_name).set(pending)
            metrics.OUTBOX_OLDEST_UNSENT_AGE.labels(queue=queue_name).set(max(0.0, age))
        self.stats.backlog = sum(pending for pending, _ in found.values())
        self.stats.oldest_unsent_age = max((age for _, age in found.values()), default=0.0)
        return found

    async def _maybe_measure_backlog(self) -> None:
        now = asyncio.get_running_loop().time()
        if now < self._next_backlog:
            return
        self._next_backlog = now + BACKLOG_INTERVAL
        try:
            await self.measure_backlog()
        except Exception as error:
            log.debug("outbox backlog not measured: %s", error)

    async def drain(self) -> int:
        """Runs batches until nothing is due; returns the number of rows sent."""
        total = 0
        while True:
            sent = await self.run_once()
            total += sent
            if sent < self.batch_size:
                return total

    # --- the loop ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Relays until ``stop`` is set (or ``self.stop()`` is called)."""
        stop_event = stop or self._stop
        listener = asyncio.create_task(self._listen(stop_event)) if self.listen else None
        failures = 0
        try:
            while not stop_event.is_set():
                self._wake.clear()
                await self._maybe_measure_backlog()
                try:
                    sent = await self.run_once()
                except Exception as error:
                    failures += 1
                    self.stats.failures += 1
                    self.stats.last_error = f"{type(error).__name__}: {error}"
                    log.warning("outbox relay failed (%s); retrying", self.stats.last_error)
                    delay = min(0.1 * 2 ** min(failures, 10), MAX_FAILURE_BACKOFF)
                    await _wait_any(stop_event, None, delay)
                    continue
                failures = 0
                if sent >= self.batch_size:
                    continue
                await _wait_any(stop_event, self._wake, await self._idle_timeout())
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            await self._close_pool()

    async def _idle_timeout(self) -> float:
        """Seconds until the next poll: the poll interval, or sooner when a delayed row is due."""
        try:
            pool = await self._get_pool()
            seconds = await pool.fetchval(_NEXT_DUE_SQL)
        except Exception:
            return self.poll_interval
        if seconds is None:
            return self.poll_interval
        return max(0.0, min(float(seconds), self.poll_interval))

    async def _listen(self, stop: asyncio.Event) -> None:
        """Keeps one dedicated LISTEN connection, reconnecting after it drops."""
        delay = 0.1
        while not stop.is_set():
            lost = asyncio.Event()
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self.database_url)
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.add_listener("outbox", self._on_notify)
                self.stats.listening = True
                self.stats.listener_connects += 1
                delay = 0.1
                # Notifications sent while we were not listening are lost: look again now.
                self._wake.set()
                await _wait_any(stop, lost, None)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("outbox LISTEN connection failed: %s", error)
            finally:
                self.stats.listening = False
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)
            if not stop.is_set():
                await _wait_any(stop, None, delay)
                delay = min(delay * 2, MAX_FAILURE_BACKOFF)

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()

    # --- embedding -----------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Runs the relay as a task on the current loop (e.g. inside an edge process)."""
        if self._task is None or self._task.done():
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self.run(self._stop), name="outbox-relay")
        return self._task

    async def stop(self) -> None:
        """Stops the loop started by ``start()`` and closes the publisher and connections."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_pool()
        await self.publisher.close()

    async def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


class RelayError(RuntimeError):
    """A batch could not be published at all."""


def _metrics() -> ModuleType:
    """``monitoring.metrics``, imported on first use (see the module docstring)."""
    from monitoring import metrics

    return metrics


def _outgoing(queue_name: str, message_json: str) -> Outgoing:
    data = json.loads(message_json)
    options = data.get("options") or {}
    priority = options.get("broker_priority")
    return Outgoing(
        queue_name=data.get("queue_name") or queue_name,
        body=wire.encode(data),
        message_id=str(data.get("message_id")),
        priority=priority if isinstance(priority, int) else None,
    )


async def _wait_any(
    stop: asyncio.Event, other: asyncio.Event | None, seconds: float | None
) -> None:
    """Waits until ``stop`` or ``other`` is set, or ``seconds`` pass (None: no limit)."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waiters.append(asyncio.ensure_future(other.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


# --- zerocancer relay ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``zerocancer relay``: relay the outbox to RabbitMQ until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="zerocancer relay", description=main.__doc__)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL)
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="serve /metrics on this port"
    )
    parser.add_argument("--metrics-host", default="127.0.0.1", help="address of the metrics server")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from monitoring.exposition import (
        mark_process_dead,
        prepare_from_environment,
        start_metrics_server,
    )

    # This process is its own launcher: clear the previous run's metric files before any
    # metric exists (BASELINE.md pitfalls 10-11).
    prepare_from_environment(wipe=True)

    database_url = os.environ.get("DATABASE_URL")
    broker_url = os.environ.get("BROKER_URL")
    if not database_url or not broker_url:
        log.error(
            "zerocancer relay needs DATABASE_URL and BROKER_URL; under embedded defaults the "
            "worker process relays in-process instead"
        )
        return 2
    max_priority = os.environ.get("BROKER_MAX_PRIORITY")
    publisher = AmqpPublisher(broker_url, max_priority=int(max_priority) if max_priority else None)
    relay = Relay(
        database_url, publisher, batch_size=args.batch_size, poll_interval=args.poll_interval
    )

    if args.metrics_port is not None:
        server, _thread = start_metrics_server(args.metrics_port, args.metrics_host)
        log.info("relay metrics on http://%s:%d/metrics", args.metrics_host, server.server_port)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info("outbox relay started (batch %d)", args.batch_size)
        try:
            await relay.run(stop)
        finally:
            await publisher.close()
        log.info("outbox relay stopped")

    try:
        asyncio.run(serve())
    finally:
        mark_process_dead(os.getpid())
    return 0
