"""edge.jobs in the test process: JobWaiter on the real database (NOTIFY, reconnect, deadline),
CircuitBreaker on a fake clock, and run_job's answers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from actors.contracts import Requester, SendEmail, enqueue
from edge.errors import ApiError, ServiceUnavailable
from edge.jobs import (
    FINAL_STATES,
    CircuitBreaker,
    JobRuntime,
    JobRuntimeSettings,
    JobWaiter,
    StaleResult,
    WorkersSeen,
    read_heartbeats,
    requested_wait,
    run_job,
)
from models.db import asyncpg_dsn
from models.jobs import Job
from monitoring import metrics
from monitoring.metrics import BreakerState

pytestmark = pytest.mark.usefixtures("db")

DEADLINE = 30.0
_FINISH_SQL = """
WITH done AS (
    UPDATE jobs SET status = $2, result = $3::jsonb, error = $4::jsonb, attempts = attempts + 1,
           updated_at = now()
    WHERE id = $1::uuid RETURNING id
)
SELECT pg_notify('job_done', id::text) FROM done
"""


async def new_job(to: str = "ada@example.com") -> Job:
    async with in_transaction() as conn:
        return await enqueue(
            SendEmail(template="notification", to=to, context={}),
            using_db=conn,
            requested_by=Requester("admin", "a1"),
        )


async def finish(job_id: Any, status: str, result: Any = None, error: Any = None) -> None:
    """What JobTracking does at the end of an attempt: the row, then NOTIFY at commit."""
    await connections.get("default").execute_query(
        _FINISH_SQL,
        [str(job_id), status, json.dumps(result), json.dumps(error) if error else None],
    )


@pytest.fixture
async def waiter(database_url: str) -> AsyncIterator[JobWaiter]:
    waiter = JobWaiter(asyncpg_dsn(database_url))
    await waiter.start()
    assert await waiter.wait_listening(DEADLINE)
    try:
        yield waiter
    finally:
        await waiter.stop()


# -- JobWaiter -----------------------------------------------------------------------------


async def test_a_wait_returns_the_row_the_notify_announced(waiter: JobWaiter) -> None:
    job = await new_job()
    waiting = asyncio.create_task(waiter.wait(job.id, DEADLINE, stop_states=FINAL_STATES))
    await asyncio.sleep(0)  # the waiter registers and reads the queued row first

    await finish(job.id, "succeeded", {"sent": True})

    done = await waiting
    assert done is not None
    assert (str(done.status), done.result) == ("succeeded", {"sent": True})


async def test_a_failed_attempt_wakes_the_waiter_which_rereads_and_keeps_waiting(
    waiter: JobWaiter,
) -> None:
    job = await new_job()
    final_only = asyncio.create_task(waiter.wait(job.id, DEADLINE, stop_states=FINAL_STATES))
    any_outcome = asyncio.create_task(waiter.wait(job.id, DEADLINE))
    await asyncio.sleep(0)

    await finish(job.id, "failed", error={"type": "OSError", "message": "refused"})
    failed = await any_outcome
    assert failed is not None
    assert str(failed.status) == "failed"
    assert not final_only.done()

    await finish(job.id, "succeeded", {"sent": True})
    done = await final_only
    assert done is not None
    assert str(done.status) == "succeeded"


async def test_a_wait_ends_with_none_at_its_deadline(waiter: JobWaiter) -> None:
    job = await new_job()

    assert await waiter.wait(job.id, 0.3) is None
    assert await waiter.wait("00000000-0000-0000-0000-000000000000", DEADLINE) is None


async def test_a_notify_lost_while_the_listener_was_down_is_caught_by_rereading(
    waiter: JobWaiter, database_url: str
) -> None:
    job = await new_job()
    waiting = asyncio.create_task(waiter.wait(job.id, DEADLINE, stop_states=FINAL_STATES))
    await asyncio.sleep(0)
    pid = waiter.listener_pid
    assert pid is not None

    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        await finish(job.id, "succeeded", {"sent": True})  # its NOTIFY may reach nobody
    finally:
        await admin.close()

    done = await waiting
    assert done is not None, "the waiter must re-read after losing its connection"
    assert str(done.status) == "succeeded"
    deadline = time.monotonic() + DEADLINE
    while waiter.connects < 2 or not waiter.listening:
        assert time.monotonic() < deadline, "the LISTEN connection never came back"
        await asyncio.sleep(0.05)


# -- CircuitBreaker ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def heartbeats(*seen: WorkersSeen) -> Any:
    answers = list(seen)

    async def read(stale_seconds: float) -> WorkersSeen:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return read


ALIVE = WorkersSeen(fresh=1, queues=None, newest_age=1.0)
NONE_ALIVE = WorkersSeen(fresh=0, queues=None, newest_age=45.0)


def breaker(clock: Clock, *seen: WorkersSeen, **options: Any) -> CircuitBreaker:
    return CircuitBreaker(
        failure_threshold=options.pop("failure_threshold", 3),
        reset_seconds=options.pop("reset_seconds", 30.0),
        unavailable_retry_after=15,
        clock=clock,
        read_workers=heartbeats(*(seen or (ALIVE,))),
        **options,
    )


def gauge(name: str) -> float:
    value: float = metrics.CIRCUIT_BREAKER_STATE.labels(breaker=name)._value.get()
    return value


async def test_consecutive_failures_open_the_breaker_and_a_success_in_between_resets_them() -> None:
    clock = Clock()
    circuit = breaker(clock)
    for _ in range(2):
        assert (await circuit.admit("send_email", "email")).allowed
        circuit.record_failure("send_email", "timeout")
    circuit.record_success("send_email")
    for _ in range(2):
        circuit.record_failure("send_email", "dead")
    assert (await circuit.admit("send_email", "email")).allowed

    circuit.record_failure("send_email", "dead")  # the third in a row

    refused = await circuit.admit("send_email", "email")
    assert (refused.allowed, refused.reason, refused.retry_after) == (False, "open", 30)
    assert circuit.state("send_email") == BreakerState.OPEN
    assert gauge("send_email") == BreakerState.OPEN
    assert (await circuit.admit("render_receipt", "pdf")).allowed  # per actor


async def test_after_the_reset_time_one_probe_goes_through_and_its_outcome_decides() -> None:
    clock = Clock()
    circuit = breaker(clock, failure_threshold=1)
    circuit.register("send_email", "email")
    circuit.record_failure("send_email")
    clock.now += 10
    assert (await circuit.admit("send_email", "email")).retry_after == 20

    clock.now += 20
    probe = await circuit.admit("send_email", "email")
    assert (probe.allowed, probe.probe) == (True, True)
    assert gauge("send_email") == BreakerState.HALF_OPEN
    assert not (await circuit.admit("send_email", "email")).allowed  # one probe at a time
    circuit.record_failure("send_email", "timeout")  # the probe failed: open again
    assert (await circuit.admit("send_email", "email")).reason == "open"

    clock.now += 30
    assert (await circuit.admit("send_email", "email")).probe
    circuit.release("send_email")  # the probe's client went away: another may probe
    assert (await circuit.admit("send_email", "email")).probe
    circuit.record_success("send_email")

    assert circuit.state("send_email") == BreakerState.CLOSED
    assert (await circuit.admit("send_email", "email")).allowed


async def test_without_a_fresh_worker_for_its_queue_an_actor_is_refused_at_once() -> None:
    clock = Clock()
    other_queue = WorkersSeen(fresh=1, queues=frozenset({"pdf"}), newest_age=2.0)
    circuit = breaker(clock, NONE_ALIVE, other_queue, ALIVE, cache_seconds=2.0)

    refused = await circuit.admit("send_email", "email")
    assert (refused.allowed, refused.reason, refused.retry_after) == (False, "no_workers", 15)
    assert gauge("send_email") == BreakerState.OPEN
    assert gauge("workers") == BreakerState.OPEN

    clock.now += 2.5  # the cached read expires
    assert not (await circuit.admit("send_email", "email")).allowed
    assert (await circuit.admit("render_receipt", "pdf")).allowed
    assert gauge("workers") == BreakerState.CLOSED

    clock.now += 2.5
    assert (await circuit.admit("send_email", "email")).allowed
    assert gauge("send_email") == BreakerState.CLOSED


async def test_an_unreadable_heartbeat_table_does_not_refuse_requests() -> None:
    async def broken(stale_seconds: float) -> WorkersSeen:
        raise OSError("database down")

    circuit = CircuitBreaker(read_workers=broken)

    assert (await circuit.admit("send_email", "email")).allowed
    assert (await circuit.workers()).error == "OSError"


async def test_read_heartbeats_counts_fresh_workers_and_their_queues() -> None:
    db = connections.get("default")
    assert (await read_heartbeats(30)).fresh == 0
    for row_id, queues, age in (
        ("w1:1", ["email", "pdf"], 1),
        ("w2:2", ["matching"], 90),  # stale
    ):
        await db.execute_query(
            "INSERT INTO worker_heartbeats (id, worker_name, pid, queues, beat_at) "
            "VALUES ($1, $1, 1, $2, now() - make_interval(secs => $3::integer))",
            [row_id, queues, age],
        )

    seen = await read_heartbeats(30)

    assert (seen.fresh, seen.queues) == (1, frozenset({"email", "pdf"}))
    assert seen.newest_age is not None
    assert seen.newest_age < 30
    assert seen.serves("pdf")
    assert not seen.serves("matching")
    await db.execute_query(
        "INSERT INTO worker_heartbeats (id, worker_name, pid, queues) "
        "VALUES ('w3:3', 'w3', 3, '{}')"
    )
    assert (await read_heartbeats(30)).serves("matching")  # no queue list: every queue


# -- run_job -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def runtime(waiter: JobWaiter, *seen: WorkersSeen) -> AsyncIterator[Any]:
    circuit = CircuitBreaker(read_workers=heartbeats(*(seen or (ALIVE,))))
    jobs = JobRuntime(waiter, circuit, JobRuntimeSettings(), started=True)
    yield SimpleNamespace(
        app=SimpleNamespace(ctx=SimpleNamespace(jobs=jobs)),
        ctx=SimpleNamespace(principal=None),
        headers={},
    )


async def worker_finishing(status: str, result: Any = None, error: Any = None) -> None:
    """Plays a worker: finishes the next queued job."""
    deadline = time.monotonic() + DEADLINE
    while True:
        job = await Job.filter(status="queued").first()
        if job is not None:
            await finish(job.id, status, result, error)
            return
        assert time.monotonic() < deadline, "run_job never enqueued"
        await asyncio.sleep(0.02)


async def test_run_job_answers_the_result_of_a_job_done_in_time(waiter: JobWaiter) -> None:
    async with runtime(waiter) as request:
        worker = asyncio.create_task(worker_finishing("succeeded", {"sent": True}))
        response = await run_job(
            cast(Any, request),
            SendEmail(template="notification", to="a@example.com"),
            wait_seconds=DEADLINE,
        )
        await worker

    assert response.status == 200
    assert json.loads(response.body or b"") == {"ok": True, "data": {"sent": True}}
    job = await Job.get()
    assert (job.requested_by_kind, job.requested_by_id) == ("system", None)


async def test_run_job_answers_500_job_failed_for_a_dead_job(waiter: JobWaiter) -> None:
    async with runtime(waiter) as request:
        worker = asyncio.create_task(worker_finishing("dead", error={"type": "X", "message": "m"}))
        with pytest.raises(ApiError) as raised:
            await run_job(
                cast(Any, request),
                SendEmail(template="notification", to="a@example.com"),
                wait_seconds=DEADLINE,
            )
        await worker

    assert raised.value.status_code == 500
    body = raised.value.body()
    assert (body["error"], body["err_code"]) == ("Job failed", "job_failed")
    assert body["data"]["statusUrl"] == f"/api/v1/jobs/{body['data']['jobId']}"


async def test_run_job_answers_202_with_the_job_address_past_the_deadline(
    waiter: JobWaiter,
) -> None:
    async with runtime(waiter) as request:
        request.headers = {"prefer": "respond-async, wait=0.2"}
        response = await run_job(
            cast(Any, request),
            SendEmail(template="notification", to="a@example.com"),
            wait_seconds=DEADLINE,
            accepted_message="E-mail accepted",
        )

    body = json.loads(response.body or b"")
    job = await Job.get()
    assert response.status == 202
    assert body == {
        "ok": True,
        "message": "E-mail accepted",
        "data": {"jobId": str(job.id), "status": "queued", "statusUrl": f"/api/v1/jobs/{job.id}"},
    }
    assert response.headers["location"] == f"/api/v1/jobs/{job.id}"


async def test_while_no_worker_is_alive_run_job_falls_back_at_once_and_enqueues_nothing(
    waiter: JobWaiter,
) -> None:
    generated = dt.datetime(2025, 7, 29, 16, 38, 17, 123000, tzinfo=dt.UTC)

    async def last_good() -> StaleResult:
        return StaleResult({"total": 3}, generated)

    message = SendEmail(template="notification", to="a@example.com")
    async with runtime(waiter, NONE_ALIVE) as request:
        stale = await run_job(
            cast(Any, request), message, wait_seconds=DEADLINE, fallback=last_good
        )
        with pytest.raises(ServiceUnavailable) as refused:
            await run_job(
                cast(Any, request),
                message,
                wait_seconds=DEADLINE,
                unavailable_message="E-mail workers unavailable",
            )

    assert stale.status == 200
    assert json.loads(stale.body or b"") == {
        "ok": True,
        "data": {"total": 3},
        "stale": True,
        "generatedAt": "2025-07-29T16:38:17.123Z",
    }
    assert refused.value.status_code == 503
    assert refused.value.body() == {"ok": False, "error": "E-mail workers unavailable"}
    assert refused.value.headers == {"Retry-After": "15"}
    assert await Job.all().count() == 0


def test_prefer_wait_shortens_the_deadline_but_never_lengthens_it() -> None:
    def request(prefer: str | None) -> Any:
        return SimpleNamespace(headers={"prefer": prefer} if prefer else {})

    assert requested_wait(request(None), 20) == 20
    assert requested_wait(request("wait=5"), 20) == 5
    assert requested_wait(request("respond-async, wait=60"), 20) == 20
    assert requested_wait(request(None), 120) == 30
