"""Bench-only no-op actors for bench/dispatch_bench.py (kept out of ``actors/`` on purpose).

The module given to Dramatiq: ``python -m dramatiq bench.noop_actors --queues ...`` (cwd = the
repository root). ``BENCH_STACK`` picks the broker it builds:

- ``ours``: ``actors.broker.build_broker`` from the environment (the worker's middleware:
  AsyncIO, DatabaseLifecycle, JobTracking, PolicyRetries, ...) and ``bench_noop``, an async
  actor for the bench-only message ``BenchNoop`` registered with ``actors.policy.register``.
  It consumes queue ``bench_noop``; messages come through ``actors.contracts.enqueue`` and the
  relay.
- ``bare``: a plain ``RabbitmqBroker`` with Dramatiq's default middleware plus ``AsyncIO`` and
  ``bare_noop``, a bare ``@dramatiq.actor`` async actor on queue ``bench_bare``.
- unset: only ``BenchNoop`` is defined (the bench process imports it to enqueue).

``BENCH_VARIANT`` (our stack only) applies an experiment to the worker's middleware and actor
objects (see ``VARIANTS``); the code in ``actors/`` is never changed.

Both actors do nothing but count: when ``BENCH_EXPECTED`` (> 0) calls have been made, the
wall-clock times of the first call's start and of that last call's end are written as JSON to
``BENCH_RESULT``. Async actors all run on the worker's one AsyncIO loop thread, so the counter
needs no lock.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import dramatiq

from actors.contracts.messages import Message

OURS_QUEUE = "bench_noop"
BARE_QUEUE = "bench_bare"
BARE_ACTOR = "bare_noop"


@dataclass(frozen=True, slots=True)
class BenchNoop(Message):
    """Does nothing (bench/dispatch_bench.py); ``seq`` only tells messages apart."""

    actor_name: ClassVar[str] = "bench_noop"
    queue_name: ClassVar[str] = OURS_QUEUE

    seq: int = 0


class Window:
    """Counts calls; at the expected count writes {count, first, last} (epoch seconds)."""

    def __init__(self, expected: int, result: str | None) -> None:
        self.expected = expected
        self.result = Path(result) if result else None
        self.count = 0
        self.first: float | None = None

    def start(self) -> None:
        if self.first is None:
            self.first = time.time()

    def end(self) -> None:
        self.count += 1
        if self.count == self.expected and self.result is not None:
            data = {"count": self.count, "first": self.first, "last": time.time()}
            partial = self.result.with_suffix(".part")
            partial.write_text(json.dumps(data))
            partial.rename(self.result)


window = Window(int(os.environ.get("BENCH_EXPECTED", "0")), os.environ.get("BENCH_RESULT"))


#: Experiments on our stack (``BENCH_VARIANT``, comma-separated; bench/dispatch_bench.py
#: ``--variants``), applied to the worker's middleware and actor objects, never to the code in
#: actors/:
#: ``three-hops``: JobTracking's hooks claim the job and record its success, each a blocking
#: hand-over from the worker thread to the event loop, as before the actor wrapper did it;
#: ``old-pool``: JobTracking's asyncpg pool as it was: 4 connections, asyncpg's reset query on
#: every release;
#: ``uvloop``: Dramatiq's AsyncIO loop thread runs a uvloop loop (event loop policy set before
#: the worker boots) instead of the plain asyncio loop.
VARIANTS = ("as-is", "three-hops", "old-pool", "uvloop")


async def _open_old_pool(tracker: Any, size: int) -> Any:
    """``JobTracking._open`` with 4 connections and asyncpg's default reset on release."""
    import asyncio

    import asyncpg

    from models.db import asyncpg_dsn

    pool = await asyncpg.create_pool(
        asyncpg_dsn(tracker.database_url), min_size=1, max_size=4, command_timeout=30
    )
    tracker._heartbeat = asyncio.create_task(tracker._beat(), name="job-heartbeat")
    return pool


def apply_variant(broker: dramatiq.Broker, variant: str) -> None:
    from actors.middleware.jobs import TRACKS_JOB, JobTracking

    chosen = set(filter(None, variant.split(","))) - {"as-is"}
    unknown = chosen - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown BENCH_VARIANT parts {sorted(unknown)}")
    if "uvloop" in chosen:
        import asyncio

        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if "three-hops" in chosen:
        setattr(broker.get_actor(BenchNoop.actor_name).fn, TRACKS_JOB, False)
    for middleware in broker.middleware:
        if isinstance(middleware, JobTracking) and "old-pool" in chosen:
            middleware._open = functools.partial(_open_old_pool, middleware)  # type: ignore[method-assign]


def build_ours() -> dramatiq.Broker:
    from actors.broker import build_broker
    from actors.policy import ActorPolicy, register
    from actors.settings import WorkerSettings

    broker = build_broker(WorkerSettings.from_env())

    @register(BenchNoop, ActorPolicy(max_retries=0, time_limit_ms=60_000, notes="bench only"))
    async def bench_noop(seq: int) -> None:
        window.start()
        window.end()

    apply_variant(broker, os.environ.get("BENCH_VARIANT", "as-is"))
    return broker


def build_bare() -> dramatiq.Broker:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker
    from dramatiq.middleware import AsyncIO

    broker = RabbitmqBroker(url=os.environ["BROKER_URL"])
    broker.add_middleware(AsyncIO())
    dramatiq.set_broker(broker)

    @dramatiq.actor(actor_name=BARE_ACTOR, queue_name=BARE_QUEUE, max_retries=0, broker=broker)
    async def bare_noop(seq: int = 0) -> None:
        window.start()
        window.end()

    return broker


STACK = os.environ.get("BENCH_STACK", "")
if STACK == "ours":
    broker = build_ours()
elif STACK == "bare":
    broker = build_bare()
