"""JobTracking with a real Dramatiq Worker over RabbitMQ: outcomes, retries, redelivery, limits."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from actors.contracts import enqueue
from actors.contracts.messages import Message
from actors.contracts.relay import AmqpPublisher, Outgoing
from actors.errors import InvalidMessageError
from actors.middleware.jobs import current_job, report_progress
from actors.policy import ActorPolicy, RateLimit
from actors.settings import WorkerSettings
from tests.actors.runtime import (
    ActorSpec,
    Runtime,
    running_runtime,
    wait_for_job,
    wait_until,
)

QUEUE = "rt_tracking"
FAST = ActorPolicy(max_retries=2, min_backoff_ms=10, max_backoff_ms=40, time_limit_ms=10_000)
calls: Counter[str] = Counter()
gates: dict[str, threading.Event] = {}


@dataclass(frozen=True, slots=True)
class Double(Message):
    actor_name: ClassVar[str] = "rt_double"
    queue_name: ClassVar[str] = QUEUE
    value: int


@dataclass(frozen=True, slots=True)
class Explode(Message):
    actor_name: ClassVar[str] = "rt_explode"
    queue_name: ClassVar[str] = QUEUE
    reason: str


@dataclass(frozen=True, slots=True)
class Refuse(Message):
    actor_name: ClassVar[str] = "rt_refuse"
    queue_name: ClassVar[str] = QUEUE
    reason: str


@dataclass(frozen=True, slots=True)
class Hold(Message):
    actor_name: ClassVar[str] = "rt_hold"
    queue_name: ClassVar[str] = QUEUE
    gate: str


async def double(value: int) -> dict[str, Any]:
    calls[f"double:{value}"] += 1
    await report_progress(1, 2)
    job = current_job()
    assert job is not None
    return {"value": value * 2, "attempt": job.attempt}


async def explode(reason: str) -> None:
    calls[f"explode:{reason}"] += 1
    raise RuntimeError(reason)


async def refuse(reason: str) -> None:
    calls[f"refuse:{reason}"] += 1
    raise InvalidMessageError(reason)


async def hold(gate: str) -> str:
    calls[f"hold:{gate}"] += 1
    released = await asyncio.to_thread(gates.setdefault(gate, threading.Event()).wait, 20)
    assert released, f"gate {gate} was never opened"
    return gate


ACTORS: list[ActorSpec] = [
    (Double, FAST, double),
    (Explode, FAST, explode),
    (Refuse, FAST, refuse),
    (Hold, ActorPolicy(rate_limit=RateLimit("concurrent", limit=1, retry_delay_ms=20)), hold),
]


@pytest.fixture(scope="module")
async def runtime(runtime_settings: WorkerSettings) -> AsyncIterator[Runtime]:
    async with running_runtime(runtime_settings, ACTORS) as started:
        yield started


async def submit(message: Message) -> str:
    async with in_transaction() as connection:
        return str((await enqueue(message, using_db=connection)).id)


async def test_a_successful_job_is_marked_succeeded_with_its_result_and_progress(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    job_id = await submit(Double(21))

    job = await wait_for_job(runtime_database_url, job_id, ["succeeded"])

    assert job["attempts"] == 1
    assert job["result"] == {"value": 42, "attempt": 1}
    assert job["progress"] == {"done": 1, "total": 2}
    assert job["error"] is None
    assert job["started_at"] <= job["finished_at"]
    assert job["heartbeat_at"] is not None


async def test_a_failing_job_is_retried_then_dead_with_its_error(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    notified: list[str] = []
    await runtime_db.add_listener("job_done", lambda *args: notified.append(args[-1]))
    job_id = await submit(Explode("disk on fire"))

    job = await wait_for_job(runtime_database_url, job_id, ["dead"])

    assert job["attempts"] == FAST.max_retries + 1
    # One NOTIFY per outcome: failed, failed, dead.
    await wait_until(lambda: _true(notified.count(job_id) == 3), what="three job_done")
    assert calls["explode:disk on fire"] == FAST.max_retries + 1
    assert job["error"] == {"type": "RuntimeError", "message": "disk on fire"}
    assert job["finished_at"] is not None


async def test_a_permanent_error_is_dead_at_once(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    job_id = await submit(Refuse("no such template"))

    job = await wait_for_job(runtime_database_url, job_id, ["dead"])

    assert job["attempts"] == 1
    assert job["error"] == {"type": "InvalidMessageError", "message": "no such template"}


async def test_a_redelivered_message_of_a_succeeded_job_is_skipped(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    job_id = await submit(Double(5))
    await wait_for_job(runtime_database_url, job_id, ["succeeded"])
    body = await runtime_db.fetchval(
        "SELECT message::text FROM outbox WHERE job_id = $1::uuid", job_id
    )

    # When the same message arrives again (at-least-once delivery)
    assert runtime.settings.broker_url
    publisher = AmqpPublisher(runtime.settings.broker_url)
    try:
        assert await publisher.publish([Outgoing(QUEUE, body.encode(), job_id)]) == [True]
    finally:
        await publisher.close()
    await asyncio.to_thread(runtime.skips.wait_for, job_id)

    # Then the actor did not run again and the row is unchanged
    assert calls["double:5"] == 1
    job = await wait_for_job(runtime_database_url, job_id, ["succeeded"])
    assert job["attempts"] == 1


async def test_a_running_job_gets_heartbeats_and_a_full_rate_limit_delays_without_failing(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    # Given a job holding the only slot of its actor's concurrency limit
    first = await submit(Hold("first"))
    await wait_for_job(runtime_database_url, first, ["running"])

    async def beating() -> bool:
        return bool(
            await runtime_db.fetchval(
                "SELECT heartbeat_at > started_at FROM jobs WHERE id = $1::uuid", first
            )
        )

    await wait_until(beating, what="a heartbeat of the running job")

    # When a second one comes: it waits for the slot (tried again, not failed)
    second = await submit(Hold("second"))
    gates["second"] = threading.Event()
    gates["second"].set()

    async def tried() -> bool:
        return calls["hold:second"] == 0 and bool(
            await runtime_db.fetchval(
                "SELECT status = 'queued' AND updated_at > created_at FROM jobs"
                " WHERE id = $1::uuid",
                second,
            )
        )

    await wait_until(tried, what="the second job to meet the full limit")
    gates.setdefault("first", threading.Event()).set()

    # Then both succeed, each in one attempt
    for job_id in (first, second):
        job = await wait_for_job(runtime_database_url, job_id, ["succeeded"])
        assert job["attempts"] == 1
        assert job["error"] is None
    assert calls["hold:second"] == 1


async def _true(value: bool) -> bool:
    return value
