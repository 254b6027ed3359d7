"""JobTracking with a real Dramatiq Worker over RabbitMQ: outcomes, retries, redelivery, limits,
requeues and leases (one job never runs twice at once, nor again once it succeeded)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

import asyncpg
import dramatiq
import pytest
from tortoise.transactions import in_transaction

from actors.contracts import Requester, enqueue
from actors.contracts.messages import Message
from actors.contracts.relay import AmqpPublisher, Outgoing
from actors.contracts.wire import encode_message
from actors.errors import InvalidMessageError
from actors.middleware.jobs import REQUEUE_OPTION, current_job, report_progress
from actors.policy import ActorPolicy, RateLimit
from actors.settings import WorkerSettings
from edge.services import jobs as job_service
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


@dataclass(frozen=True, slots=True)
class Wait(Message):
    actor_name: ClassVar[str] = "rt_wait"
    queue_name: ClassVar[str] = QUEUE
    gate: str


@dataclass(frozen=True, slots=True)
class FailOnce(Message):
    actor_name: ClassVar[str] = "rt_fail_once"
    queue_name: ClassVar[str] = QUEUE
    gate: str


#: One retry, due 2 to 4 s after the failure (Dramatiq's jitter): time to requeue before it,
#: even on a busy machine.
SLOW_RETRY = ActorPolicy(
    max_retries=1, min_backoff_ms=4_000, max_backoff_ms=4_000, time_limit_ms=20_000
)


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


async def wait(gate: str) -> str:
    calls[f"wait:{gate}"] += 1
    released = await asyncio.to_thread(gates.setdefault(gate, threading.Event()).wait, 20)
    assert released, f"gate {gate} was never opened"
    return gate


async def fail_once(gate: str) -> str:
    calls[f"fail_once:{gate}"] += 1
    if calls[f"fail_once:{gate}"] == 1:
        raise RuntimeError("first attempt fails")
    return await wait(gate)


ACTORS: list[ActorSpec] = [
    (Double, FAST, double),
    (Wait, FAST, wait),
    (FailOnce, SLOW_RETRY, fail_once),
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


async def publish(runtime: Runtime, body: bytes, job_id: str) -> None:
    assert runtime.settings.broker_url
    publisher = AmqpPublisher(runtime.settings.broker_url)
    try:
        assert await publisher.publish([Outgoing(QUEUE, body, job_id)]) == [True]
    finally:
        await publisher.close()


async def test_a_requeued_failed_job_runs_once_when_its_scheduled_retry_comes_due(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    # Given a job whose first attempt failed, with its retry scheduled by Dramatiq
    job_id = await submit(FailOnce("requeued"))
    await wait_for_job(runtime_database_url, job_id, ["failed"])

    # When an operator requeues it and the requeued attempt is still running as the retry
    # comes due
    assert job_service.REQUEUE_OPTION == REQUEUE_OPTION  # the edge numbers what the worker reads
    job = await job_service.requeue(job_id, by=Requester("admin", "admin-1"))
    assert job.status == "queued"
    await wait_for_job(runtime_database_url, job_id, ["running"])

    async def retry_came_due() -> bool:
        return job_id in runtime.skips.skipped or calls["fail_once:requeued"] > 2

    await wait_until(retry_came_due, seconds=15, what="the scheduled retry to come due")
    gates.setdefault("requeued", threading.Event()).set()

    # Then the retry did not run: the actor ran once for the failure and once for the requeue
    done = await wait_for_job(runtime_database_url, job_id, ["succeeded"])
    assert calls["fail_once:requeued"] == 2
    assert done["attempts"] == 2
    assert done["result"] == "requeued"


async def test_a_second_message_of_a_running_job_waits_and_is_skipped_once_it_succeeded(
    runtime: Runtime,
    runtime_db: asyncpg.Connection,
    runtime_database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="actors.middleware.jobs")
    # Given a running job
    job_id = await submit(Wait("leased"))
    await wait_for_job(runtime_database_url, job_id, ["running"])
    body = await runtime_db.fetchval(
        "SELECT message::text FROM outbox WHERE job_id = $1::uuid", job_id
    )

    # When another message of it arrives (a duplicate publish, a redelivery) while the first
    # one's worker is alive and heartbeating
    await publish(runtime, body.encode(), job_id)

    def refusals() -> int:
        return sum(
            1
            for record in caplog.records
            if job_id in record.getMessage() and "running elsewhere" in record.getMessage()
        )

    async def refused_or_ran() -> bool:
        return refusals() >= 2 or calls["wait:leased"] > 1

    await wait_until(refused_or_ran, what="the second message to be refused (or to run)")
    assert calls["wait:leased"] == 1
    gates.setdefault("leased", threading.Event()).set()

    # Then it waits for the first run and is skipped once the job succeeded
    await asyncio.to_thread(runtime.skips.wait_for, job_id)
    done = await wait_for_job(runtime_database_url, job_id, ["succeeded"])
    assert calls["wait:leased"] == 1
    assert done["attempts"] == 1


async def test_a_running_job_whose_lease_ran_out_runs_again_when_its_message_comes_back(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    # Given a job left running by a worker that died (no heartbeat for a minute)
    job_id = str(uuid.uuid4())
    await runtime_db.execute(
        "INSERT INTO jobs (id, actor_name, queue_name, args, status, attempts,"
        " requested_by_kind, created_at, updated_at, started_at, heartbeat_at)"
        " VALUES ($1::uuid, 'rt_double', $2, $3::jsonb, 'running', 1, 'system',"
        " now(), now(), now() - interval '1 minute', now() - interval '1 minute')",
        job_id,
        QUEUE,
        '{"value": 8}',
    )

    # When RabbitMQ delivers its message again
    body = encode_message(Double(8), message_id=job_id, timestamp_ms=int(time.time() * 1000))
    await publish(runtime, body, job_id)

    # Then another worker claims it and completes it
    done = await wait_for_job(runtime_database_url, job_id, ["succeeded"])
    assert done["attempts"] == 2
    assert done["result"] == {"value": 16, "attempt": 2}
    assert calls["double:8"] == 1


async def test_an_actor_declared_without_the_policy_wrapper_is_tracked_by_the_hooks(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    # Given a plain Dramatiq actor (it does not claim its job itself)
    @dramatiq.actor(actor_name="rt_plain", queue_name=QUEUE, max_retries=0, broker=runtime.broker)
    async def plain(value: int) -> int:
        calls[f"plain:{value}"] += 1
        job = current_job()
        assert job is not None
        return value * job.attempt

    # When a message for it is sent outside the outbox
    message = await asyncio.to_thread(plain.send, 3)

    # Then JobTracking's hooks claim it (the row is adopted) and record its result
    done = await wait_for_job(runtime_database_url, message.message_id, ["succeeded"])
    assert (done["attempts"], done["result"]) == (1, 3)
    assert calls["plain:3"] == 1


async def _true(value: bool) -> bool:
    return value
