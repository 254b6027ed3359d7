"""Waiting for jobs from the edge: ``JobWaiter``, ``CircuitBreaker`` and ``run_job``.

Endpoints whose contract is synchronous (the web client expects the answer in the response)
enqueue their job and wait for it with a deadline (ARCHITECTURE.md, "Jobs"):

    return await run_job(request, RunMatching(trigger_source="admin"), wait_seconds=30,
                         fallback=last_good_result)

- done in time: the job's result (``ok(job.result)``, or the endpoint's ``render``);
- deadline first: 202 ``{"jobId", "status", "statusUrl": "/api/v1/jobs/<id>"}``;
- breaker open (workers unavailable): at once, without enqueueing, the endpoint's ``fallback``
  (the last good result, answered with top-level ``"stale": true`` and ``"generatedAt"``) or
  503 with ``Retry-After`` in the error envelope. Never a hang.

``JobWaiter``: one per edge process. A dedicated asyncpg connection LISTENs on ``job_done``
(a pooled connection stops listening when released, BASELINE.md pitfall 9) and reconnects with
backoff. The NOTIFY payload is only a hint: every wake-up re-reads the job row, because
JobTracking also notifies for an attempt that failed and will be retried. After a reconnect
every waiter re-reads (notifications sent while disconnected are lost); while disconnected,
waiters re-read once a second; connected, they sleep until a NOTIFY or their deadline (plus a
slow safety re-read). A hard time bound wraps each wait, so a stuck database cannot hang it.

``CircuitBreaker`` (``edge.breaker``, re-exported here): per actor, opened by consecutive
failures or timeouts of its jobs, half-open probe after a pause, and closed to an actor while no
worker consuming its queue has a fresh heartbeat; exported as
``zerocancer_circuit_breaker_state``.

Settings (environment, read once by ``setup_jobs``): ``JOB_BREAKER_FAILURES`` (5),
``JOB_BREAKER_RESET_SECONDS`` (30), ``JOB_WORKER_STALE_SECONDS`` (30),
``JOB_UNAVAILABLE_RETRY_AFTER`` (15 s, the 503's Retry-After while no worker is alive).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from tortoise.transactions import in_transaction

from actors.contracts import Message, Requester, all_messages, enqueue
from edge.breaker import (
    Admission,
    CircuitBreaker,
    HeartbeatReader,
    WorkersSeen,
    read_heartbeats,
)
from edge.envelope import ok, respond
from edge.errors import ApiError, ServiceUnavailable
from edge.listen import listen
from edge.services.jobs import job_url, requester_for
from models.db import asyncpg_dsn
from models.jobs import Job, JobStatus

log = logging.getLogger("zerocancer.edge.jobs")

__all__ = [
    "DEFAULT_STOP_STATES",
    "FINAL_STATES",
    "MAX_WAIT_SECONDS",
    "Admission",
    "CircuitBreaker",
    "Fallback",
    "HeartbeatReader",
    "JobRuntime",
    "JobRuntimeSettings",
    "JobWaiter",
    "Renderer",
    "StaleResult",
    "Submitter",
    "WorkersSeen",
    "accepted_response",
    "default_render",
    "read_heartbeats",
    "readiness",
    "requested_wait",
    "run_job",
    "runtime_of",
    "setup_jobs",
]

#: Statuses after which nothing more happens to a job (``failed``: a retry is scheduled).
FINAL_STATES = (JobStatus.SUCCEEDED, JobStatus.DEAD)
#: What ``JobWaiter.wait`` stops on by default: any outcome of an attempt.
DEFAULT_STOP_STATES = ("succeeded", "failed", "dead")
#: Longest synchronous wait; the top bucket edge of the HTTP histogram.
MAX_WAIT_SECONDS = 30.0
#: Re-read interval of a waiter while the LISTEN connection is down.
DISCONNECTED_POLL_SECONDS = 1.0
#: Re-read interval while listening: a safety net, NOTIFY is the wake-up.
SAFETY_READ_SECONDS = 5.0
#: Extra time a wait may take past its deadline for its last row read, before giving up.
READ_GRACE_SECONDS = 5.0

_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


# -- settings ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobRuntimeSettings:
    failure_threshold: int = 5
    reset_seconds: float = 30.0
    worker_stale_seconds: float = 30.0
    unavailable_retry_after: int = 15

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> JobRuntimeSettings:
        def number(name: str, default: float, low: float) -> float:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number, not {raw!r}") from None
            if value < low:
                raise ValueError(f"{name} must be at least {low}, not {value}")
            return value

        return cls(
            failure_threshold=int(number("JOB_BREAKER_FAILURES", 5, 1)),
            reset_seconds=number("JOB_BREAKER_RESET_SECONDS", 30.0, 0.1),
            worker_stale_seconds=number("JOB_WORKER_STALE_SECONDS", 30.0, 1),
            unavailable_retry_after=int(number("JOB_UNAVAILABLE_RETRY_AFTER", 15, 1)),
        )


# -- JobWaiter -----------------------------------------------------------------------------


class JobWaiter:
    """Waits for job rows to change, woken by ``NOTIFY job_done`` (see the module docstring)."""

    def __init__(self, dsn: str, *, channel: str = "job_done") -> None:
        self._dsn = dsn
        self._channel = channel
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._listening = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None
        #: LISTEN connections made so far (a reconnect counts): for readiness and tests.
        self.connects = 0

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    @property
    def listener_pid(self) -> int | None:
        """The server process id of the LISTEN connection while it is up."""
        connection = self._connection
        if connection is None or connection.is_closed() or not self.listening:
            return None
        pid: int = connection.get_server_pid()
        return pid

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._listen(), name="job-waiter-listen")

    async def stop(self) -> None:
        self._stopping.set()
        self._listening.clear()
        self._wake_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            connection.terminate()

    async def wait_listening(self, seconds: float) -> bool:
        """True once the LISTEN is active (False after ``seconds``)."""
        try:
            await asyncio.wait_for(self._listening.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def wait(
        self,
        job_id: Any,
        timeout: float,  # noqa: ASYNC109 - a deadline for the wait, re-reads bounded inside
        stop_states: Iterable[str] = DEFAULT_STOP_STATES,
    ) -> Job | None:
        """The job row once its status is one of ``stop_states``; None when ``timeout``
        seconds pass first (or the job does not exist). Each wake-up re-reads the row."""
        try:
            key = str(uuid.UUID(str(job_id)))
        except ValueError:
            return None  # not a job id: no such job
        stops = frozenset(str(state) for state in stop_states)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        wake = asyncio.Event()
        self._waiters.setdefault(key, set()).add(wake)
        try:
            async with asyncio.timeout_at(deadline + READ_GRACE_SECONDS):
                while True:
                    # Registered before reading: a NOTIFY after this read wakes us.
                    wake.clear()
                    job = await Job.get_or_none(id=key)
                    if job is None:
                        return None
                    if str(job.status) in stops:
                        return job
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return None
                    pause = SAFETY_READ_SECONDS if self.listening else DISCONNECTED_POLL_SECONDS
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), min(remaining, pause))
        except TimeoutError:
            log.warning("gave up waiting for job %s: the database did not answer in time", key)
            return None
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(wake)
                if not waiters:
                    del self._waiters[key]

    # -- LISTEN --

    def _on_notify(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        for event in self._waiters.get(payload.strip(), ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def _listen(self) -> None:
        await listen(
            self._dsn,
            self._channel,
            self._on_notify,
            stopping=self._stopping,
            on_listening=self._on_listening,
            on_lost=self._on_lost,
            log=log,
            label="job_done LISTEN",
            connect_timeout=10,
        )

    def _on_listening(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        self.connects += 1
        self._listening.set()
        # NOTIFYs sent while we were away are lost: every waiter re-reads its row.
        self._wake_all()

    def _on_lost(self) -> None:
        self._listening.clear()
        self._wake_all()  # waiters fall back to slow re-reads until we are back
        self._connection = None


# -- run_job -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaleResult:
    """The last good result of an endpoint, answered while its workers are unavailable."""

    data: Any
    generated_at: datetime


Fallback = Callable[[], Awaitable[StaleResult | None]]
Renderer = Callable[[Job], HTTPResponse | Awaitable[HTTPResponse]]
Submitter = Callable[[], Awaitable[Job]]


@dataclass
class JobRuntime:
    """What ``setup_jobs`` puts on ``app.ctx.jobs``."""

    waiter: JobWaiter
    breaker: CircuitBreaker
    settings: JobRuntimeSettings
    started: bool = field(default=False)


def runtime_of(app: Sanic[Any, Any]) -> JobRuntime:
    runtime: JobRuntime = app.ctx.jobs
    return runtime


def requested_wait(request: Request, default: float) -> float:
    """The deadline for this request: ``Prefer: wait=N`` (RFC 7240) when shorter than
    ``default``; never longer than ``MAX_WAIT_SECONDS``."""
    limit = min(max(0.0, default), MAX_WAIT_SECONDS)
    found = _PREFER_WAIT.search(request.headers.get("prefer", "") or "")
    return limit if found is None else min(limit, float(found.group(1)))


async def run_job(
    request: Request,
    message: Message,
    *,
    wait_seconds: float,
    fallback: Fallback | None = None,
    requested_by: Requester | None = None,
    idempotency_key: str | None = None,
    render: Renderer | None = None,
    accepted_message: str = "Job accepted",
    unavailable_message: str = "Workers unavailable; try again later",
    submit: Submitter | None = None,
) -> HTTPResponse:
    """Enqueue ``message`` in its own transaction and answer with the job's outcome (module
    docstring). ``wait_seconds`` is the endpoint's deadline (a ``Prefer: wait=N`` header may
    shorten it); ``requested_by`` defaults to the caller; ``render`` turns the final job
    (succeeded or dead) into the response, by default ``ok(job.result)`` and a 500
    ``job_failed`` envelope.

    ``submit``, when given, replaces the enqueue: it returns the job to wait for, committed in
    its own transaction (e.g. an equivalent job already queued, joined instead of a new one).
    It runs only once the breaker admits the request; ``message`` then names the actor and
    queue for the breaker, and ``requested_by``/``idempotency_key`` are not used."""
    runtime = runtime_of(request.app)
    breaker = runtime.breaker
    actor = message.actor_name
    admission = await breaker.admit(actor, message.queue_name)
    if not admission.allowed:
        return await _fallback_response(fallback, admission, unavailable_message)
    outcome_known = False
    try:
        if submit is not None:
            job = await submit()
        else:
            async with in_transaction() as conn:
                job = await enqueue(
                    message,
                    using_db=conn,
                    requested_by=requested_by
                    or requester_for(getattr(request.ctx, "principal", None)),
                    idempotency_key=idempotency_key,
                )
        finished = await runtime.waiter.wait(
            job.id, requested_wait(request, wait_seconds), stop_states=FINAL_STATES
        )
        outcome_known = True
    finally:
        if not outcome_known and admission.probe:
            breaker.release(actor)
    if finished is None:
        breaker.record_failure(actor, "timeout")
        current = await Job.get_or_none(id=job.id) or job
        return accepted_response(current, accepted_message)
    if finished.status == JobStatus.SUCCEEDED:
        breaker.record_success(actor)
    else:
        breaker.record_failure(actor, "dead")
    if render is not None:
        answer = render(finished)
        return await answer if inspect.isawaitable(answer) else answer
    return default_render(finished)


def accepted_response(job: Job, message: str = "Job accepted") -> HTTPResponse:
    """202: the job is under way; its status is at ``statusUrl``."""
    status = str(job.status) if job.status in (JobStatus.QUEUED, JobStatus.RUNNING) else "running"
    url = job_url(job.id)
    return respond(
        {
            "ok": True,
            "message": message,
            "data": {"jobId": str(job.id), "status": status, "statusUrl": url},
        },
        status=202,
        headers={"Location": url},
    )


def default_render(job: Job) -> HTTPResponse:
    """``ok(result)`` for a succeeded job; 500 ``job_failed`` (with the job's address) for a
    dead one. The job's error text stays at its address, for the caller who owns it."""
    if job.status == JobStatus.SUCCEEDED:
        return ok(job.result)
    raise ApiError(
        "Job failed",
        status=500,
        err_code="job_failed",
        extra={
            "data": {"jobId": str(job.id), "status": str(job.status), "statusUrl": job_url(job.id)}
        },
    )


async def _fallback_response(
    fallback: Fallback | None, admission: Admission, message: str
) -> HTTPResponse:
    stale = await fallback() if fallback is not None else None
    if stale is not None:
        return respond(
            {"ok": True, "data": stale.data, "stale": True, "generatedAt": stale.generated_at}
        )
    raise ServiceUnavailable(message, retry_after=admission.retry_after or 1)


# -- readiness -----------------------------------------------------------------------------


async def readiness(app: Sanic[Any, Any]) -> dict[str, Any]:
    """The job runtime's part of ``/readyz``: broker (relay, outbox backlog), workers (fresh
    heartbeats) and the ``job_done`` listener. Informational: the edge still serves without
    them (the outbox keeps jobs, the breaker answers fallbacks)."""
    from edge.relay_task import broker_status

    runtime: JobRuntime | None = getattr(app.ctx, "jobs", None)
    result: dict[str, Any] = {"broker": await broker_status(app)}
    if runtime is None:
        return result
    seen = await runtime.breaker.workers(refresh=True)
    result["workers"] = {
        "status": "unknown" if seen.error else ("ok" if seen.fresh else "unavailable"),
        "fresh": seen.fresh,
        "lastHeartbeatAgeSeconds": None if seen.newest_age is None else round(seen.newest_age, 1),
    }
    result["listener"] = "ok" if runtime.waiter.listening else "reconnecting"
    return result


# -- setup ---------------------------------------------------------------------------------


def setup_jobs(app: Sanic[Any, Any], environ: Mapping[str, str] | None = None) -> None:
    """Creates the process's ``JobWaiter`` and ``CircuitBreaker`` (``app.ctx.jobs``) and
    starts/stops the LISTEN connection with the server."""
    settings = JobRuntimeSettings.from_env(os.environ if environ is None else environ)

    async def start_jobs(app: Sanic[Any, Any]) -> None:
        dsn = asyncpg_dsn(app.ctx.settings.database_url)
        breaker = CircuitBreaker(
            failure_threshold=settings.failure_threshold,
            reset_seconds=settings.reset_seconds,
            stale_seconds=settings.worker_stale_seconds,
            unavailable_retry_after=settings.unavailable_retry_after,
        )
        for message_class in all_messages():
            breaker.register(message_class.actor_name, message_class.queue_name)
        runtime = JobRuntime(JobWaiter(dsn), breaker, settings)
        app.ctx.jobs = runtime
        await runtime.waiter.start()
        await breaker.workers(refresh=True)
        runtime.started = True

    async def stop_jobs(app: Sanic[Any, Any]) -> None:
        runtime: JobRuntime | None = getattr(app.ctx, "jobs", None)
        if runtime is not None and runtime.started:
            await runtime.waiter.stop()
            runtime.started = False

    app.before_server_start(start_jobs)
    app.after_server_stop(stop_jobs)
