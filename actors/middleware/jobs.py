"""JobTracking: keeps each message's ``jobs`` row current and tells the edge with NOTIFY.

Per attempt: ``running`` (attempts + 1, started_at, heartbeat) before the actor runs; then
``succeeded`` with the result, ``failed`` (a retry is scheduled) or ``dead`` (retries exhausted or
a permanent error) with ``{"type", "message"}``. Each outcome is one statement that also sends
``NOTIFY job_done '<job id>'``, so the notification is delivered only once the row is committed
(the payload is only a hint: listeners re-read the row, whose status says whether it is final).

A job runs at most once at a time, and never again once it succeeded. The claim is one UPDATE
that refuses (at-least-once delivery, BASELINE.md section 7, and operator requeues both make
several messages for one job id):

- a job that already ``succeeded``: the message is skipped;
- a message of an attempt chain an operator replaced: a requeue stamps its new message with the
  job's requeue count (``REQUEUE_OPTION``); older messages, such as the retry Dramatiq still
  holds for a ``failed`` job, are skipped when they come due;
- a job ``running`` under a live lease: its heartbeat is younger than ``lease_seconds`` (three
  heartbeat intervals, at least ``MIN_LEASE_SECONDS``). The message is enqueued again shortly
  (``JobBusyError``), without using up an attempt or a retry; once the job succeeded it is
  skipped, and once the lease has run out (the worker died: its message came back from RabbitMQ)
  it runs.

A rate-limited attempt puts the job back to ``queued`` without counting an attempt.

The SQL runs on the worker's AsyncIO loop through its own asyncpg pool (one connection per worker
thread), independent of the ORM (so it also works in processes whose ORM is elsewhere). Actors
declared through ``actors.policy`` claim their job and record their success in their own
coroutine (``begin_job``, ``finish_job``); the hooks, on worker threads, do it for any other
actor and always write failures, rate-limit waits and skips.
Must be added after ``AsyncIO`` and before ``Retries``: ``emit_after`` runs in reverse order,
so our ``after_process_message`` sees whether Retries gave up (``message.failed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import dramatiq
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware, MiddlewareError, SkipMessage

from actors.errors import RateLimitedError
from actors.middleware.database import abort_boot

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds between heartbeats of running jobs.
HEARTBEAT_INTERVAL = 10.0
#: Heartbeat intervals after which a running job's lease runs out (its worker is presumed dead).
LEASE_HEARTBEATS = 3
#: Shortest lease, whatever the heartbeat interval (a busy event loop can delay a heartbeat).
MIN_LEASE_SECONDS = 1.0
#: Message option: how many operator requeues the job had when this message was made. The edge
#: writes it (``edge.services.jobs.requeue``); Dramatiq's retries carry it along.
REQUEUE_OPTION = "zc_requeue"
#: Longest error message kept in ``jobs.error`` (exception text can be long).
MAX_ERROR_MESSAGE = 500

# $2: lease in seconds; $3: the message's requeue count. The row lock makes concurrent claims of
# one job wait for each other, and the loser re-checks the WHERE against the winner's row.
_CLAIM_SQL = """
UPDATE jobs
SET status = 'running', attempts = attempts + 1, started_at = now(), heartbeat_at = now(),
    finished_at = NULL, updated_at = now()
WHERE id = $1::uuid AND status <> 'succeeded'
  AND NOT (status = 'running' AND coalesce(heartbeat_at > now() - make_interval(secs => $2), false))
  AND $3 >= (SELECT count(*) FROM job_requeues WHERE job_id = $1::uuid)
RETURNING attempts
"""
# Why a claim was refused: NULL when the job has no row; else its status, the seconds left on its
# lease and whether the message belongs to an attempt chain a requeue replaced.
_REFUSAL_SQL = """
SELECT status,
       EXTRACT(EPOCH FROM heartbeat_at + make_interval(secs => $2) - now())::float8 AS lease_left,
       $3 < (SELECT count(*) FROM job_requeues WHERE job_id = $1::uuid) AS replaced
FROM jobs WHERE id = $1::uuid
"""
# A message that was not sent through the outbox (e.g. actor.send() in a shell) gets a row too.
_ADOPT_SQL = """
INSERT INTO jobs (id, actor_name, queue_name, args, status, attempts, requested_by_kind,
                  created_at, updated_at, started_at, heartbeat_at)
VALUES ($1::uuid, $2, $3, $4::jsonb, 'running', 1, 'system', now(), now(), now(), now())
ON CONFLICT (id) DO NOTHING
"""
_SUCCEEDED_SQL = """
WITH done AS (
    UPDATE jobs
    SET status = 'succeeded', result = $2::jsonb, error = NULL, finished_at = now(),
        heartbeat_at = now(), updated_at = now()
    WHERE id = $1::uuid
    RETURNING id
)
SELECT pg_notify('job_done', id::text) FROM done
"""
_FAILED_SQL = """
WITH done AS (
    UPDATE jobs
    SET status = $2, error = $3::jsonb, updated_at = now(),
        finished_at = CASE WHEN $2 = 'dead' THEN now() ELSE NULL END
    WHERE id = $1::uuid AND status <> 'succeeded'
    RETURNING id
)
SELECT pg_notify('job_done', id::text) FROM done
"""
_REQUEUED_SQL = """
UPDATE jobs SET status = 'queued', attempts = GREATEST(attempts - 1, 0), updated_at = now()
WHERE id = $1::uuid
"""
_HEARTBEAT_SQL = """
UPDATE jobs SET heartbeat_at = now() WHERE id = ANY($1::uuid[]) AND status = 'running'
"""
_PROGRESS_SQL = """
UPDATE jobs SET progress = $2::jsonb, heartbeat_at = now(), updated_at = now()
WHERE id = $1::uuid
"""


@dataclass(frozen=True, slots=True)
class JobContext:
    """What an actor may know about the job it runs."""

    job_id: str
    actor_name: str
    attempt: int
    options: dict[str, Any]


_current: ContextVar[JobContext | None] = ContextVar("zerocancer_current_job", default=None)
# The message a worker thread is about to run, for the actor wrapper: JobTracking sets it in the
# worker thread and the actor's coroutine sees it (the event loop runs the coroutine in a copy
# of that thread's context).
_message: ContextVar[MessageProxy | None] = ContextVar("zerocancer_job_message", default=None)
_tracker: JobTracking | None = None

#: Attribute that marks an actor function which claims and finishes its job itself (with
#: ``begin_job`` and ``finish_job``; ``actors.policy`` does it for every registered actor).
TRACKS_JOB = "zerocancer_tracks_job"


def current_job() -> JobContext | None:
    """The job being run by the calling actor, or None outside a tracked actor."""
    return _current.get()


async def begin_job() -> JobContext | None:
    """Claims the job of the message the calling actor runs and returns it (None when jobs are
    not tracked here, or JobTracking claimed it already). Raises ``SkipMessage`` or
    ``JobBusyError`` as ``JobTracking`` does.

    Called first thing by an actor marked with ``TRACKS_JOB``: the claim then runs in the
    actor's own coroutine, with no extra hand-over from the worker thread to the event loop.
    """
    tracker = _tracker
    message = _message.get()
    if tracker is None or tracker.pool is None or message is None:
        return None
    return await tracker.begin(message)


async def finish_job(job: JobContext | None, value: Any) -> None:
    """Marks the job of ``begin_job`` succeeded with ``value`` as its result."""
    tracker = _tracker
    if job is not None and tracker is not None and tracker.pool is not None:
        await tracker.succeed(job.job_id, value)


async def report_progress(done: int, total: int) -> None:
    """Writes ``{"done": done, "total": total}`` into the calling actor's job row."""
    job = _current.get()
    tracker = _tracker
    if job is None or tracker is None or tracker.pool is None:
        return
    await tracker.pool.execute(_PROGRESS_SQL, job.job_id, _dumps({"done": done, "total": total}))


class JobBusyError(dramatiq.Retry, MiddlewareError):
    """Another message of this job holds its lease; this one is enqueued again after ``delay``
    ms, without using up a retry (``PolicyRetries``), and JobTracking counts no attempt.

    A ``MiddlewareError``: Dramatiq's ``emit_before`` logs and swallows any other exception of a
    before-hook, and would run the actor anyway. A ``Retry``: the worker does not log it as an
    error.
    """

    def __init__(self, job_id: str, delay: int) -> None:
        super().__init__(f"job {job_id} is running elsewhere", delay=delay)


class JobTracking(Middleware):
    """Keeps ``jobs`` rows in step with message processing (see the module docstring).

    ``pool_size`` defaults to the worker's thread count: each thread runs one statement at a
    time, so more connections would only idle.
    """

    def __init__(
        self,
        database_url: str | None,
        *,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        pool_size: int | None = None,
    ) -> None:
        self.database_url = database_url
        self.heartbeat_interval = heartbeat_interval
        self.lease_seconds = max(LEASE_HEARTBEATS * heartbeat_interval, MIN_LEASE_SECONDS)
        self.pool_size = pool_size
        self.pool: asyncpg.Pool | None = None
        self._loop_thread: EventLoopThread | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._running: set[str] = set()
        self._running_lock = threading.Lock()
        # Jobs whose actor recorded its success itself (``succeed``), until the after-hook.
        self._succeeded: set[str] = set()

    # --- worker lifecycle ----------------------------------------------------------------

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        global _tracker
        if not self.database_url:
            abort_boot("DATABASE_URL is not set; jobs cannot be tracked")
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("JobTracking must come after the AsyncIO middleware")
        self._loop_thread = loop_thread
        size = self.pool_size or max(2, int(getattr(worker, "worker_threads", 4)))
        try:
            self.pool = loop_thread.run_coroutine(self._open(size))
        except Exception as error:
            abort_boot(f"job tracking cannot reach the database: {type(error).__name__}: {error}")
        _tracker = self

    async def _open(self, size: int) -> asyncpg.Pool:
        from models.db import asyncpg_dsn

        assert self.database_url is not None
        # reset=_keep_session: the pool runs only our own single statements, which leave no
        # session state behind, so the default reset query on every release is pure cost.
        pool = await asyncpg.create_pool(
            asyncpg_dsn(self.database_url),
            min_size=1,
            max_size=size,
            command_timeout=30,
            reset=_keep_session,
        )
        self._heartbeat = asyncio.create_task(self._beat(), name="job-heartbeat")
        return pool

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        global _tracker
        if self._loop_thread is not None and self.pool is not None:
            try:
                self._loop_thread.run_coroutine(self._close())
            except Exception:
                log.exception("closing the job-tracking pool failed")
        if _tracker is self:
            _tracker = None
        self.pool = None

    async def _close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if self.pool is not None:
            await self.pool.close()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            with self._running_lock:
                running = list(self._running)
            if running and self.pool is not None:
                try:
                    await self.pool.execute(_HEARTBEAT_SQL, running)
                except Exception as error:
                    log.warning("job heartbeat failed: %s", error)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self._loop_thread is not None, "JobTracking used before worker boot"
        return self._loop_thread.run_coroutine(coroutine)

    # --- per message ---------------------------------------------------------------------
    #
    # An actor marked with ``TRACKS_JOB`` claims its job and records its success itself, in its
    # coroutine (``begin_job``, ``finish_job``). For any other actor the claim and the success
    # update run here, each one a blocking hand-over to the event loop. The failure, rate-limit
    # and skip outcomes are always written here: only the after-hooks know whether Retries
    # gave up.

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if self.pool is None:
            return
        if getattr(broker.get_actor(message.actor_name).fn, TRACKS_JOB, False):
            _message.set(message)  # for begin_job in the actor's coroutine
            return
        _message.set(None)
        _current.set(self._run(self.begin(message)))

    async def begin(self, message: MessageProxy) -> JobContext:
        """Claims the job (see ``_claim``) and makes it the current job."""
        attempts = await self._claim(message)
        job_id = message.message_id
        with self._running_lock:
            self._running.add(job_id)
        job = JobContext(
            job_id=job_id, actor_name=message.actor_name, attempt=attempts, options=message.options
        )
        _current.set(job)
        return job

    async def succeed(self, job_id: str, value: Any) -> None:
        assert self.pool is not None
        await self.pool.execute(_SUCCEEDED_SQL, job_id, _dumps(value))
        with self._running_lock:
            self._running.discard(job_id)
            self._succeeded.add(job_id)

    async def _claim(self, message: MessageProxy) -> int:
        """Marks the job running and returns its attempt number. Raises ``SkipMessage`` when
        the job succeeded or a requeue replaced this message, ``JobBusyError`` while another
        message of the job holds its lease."""
        assert self.pool is not None
        job_id = message.message_id
        requeues = int(message.options.get(REQUEUE_OPTION) or 0)
        async with self.pool.acquire() as connection:
            attempts = await connection.fetchval(_CLAIM_SQL, job_id, self.lease_seconds, requeues)
            if attempts is not None:
                return int(attempts)
            refusal = await connection.fetchrow(_REFUSAL_SQL, job_id, self.lease_seconds, requeues)
            if refusal is None:
                await connection.execute(
                    _ADOPT_SQL,
                    job_id,
                    message.actor_name,
                    message.queue_name,
                    _dumps(dict(message.kwargs)),
                )
                return 1
        if refusal["status"] == "succeeded":
            log.info("job %s already succeeded; skipping redelivered message", job_id)
            raise SkipMessage("job already succeeded")
        if refusal["replaced"]:
            log.info("job %s was requeued; skipping a message of its earlier attempts", job_id)
            raise SkipMessage("job was requeued")
        # Running under a live lease (or it changed since the claim: look again shortly). Poll
        # at the heartbeat's pace: the holder may finish long before its lease would run out.
        left = refusal["lease_left"] or 0.0
        delay = min(max(left, 0.0), self.heartbeat_interval)
        log.info("job %s is running elsewhere; trying again in %.2f s", job_id, delay)
        raise JobBusyError(job_id, delay=max(10, int(delay * 1000)))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        job_id = message.message_id
        _message.set(None)
        _current.set(None)
        if isinstance(exception, JobBusyError):
            return  # never claimed: the row belongs to the message holding the lease
        with self._running_lock:
            self._running.discard(job_id)
            written = job_id in self._succeeded
            self._succeeded.discard(job_id)
        if self.pool is None:
            return
        if exception is None:
            if not written:
                self._run(self._finish(_SUCCEEDED_SQL, job_id, _dumps(result)))
        elif isinstance(exception, RateLimitedError):
            self._run(self._finish(_REQUEUED_SQL, job_id))
        else:
            status = "dead" if message.failed else "failed"
            self._run(self._finish(_FAILED_SQL, job_id, status, _dumps(error_info(exception))))
            if status == "dead":
                log.error(
                    "job %s (%s) is dead: %s", job_id, message.actor_name, type(exception).__name__
                )

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        # Our own skips (the job succeeded or was requeued) never ran and have nothing to write.
        job_id = message.message_id
        with self._running_lock:
            self._running.discard(job_id)
        _message.set(None)
        _current.set(None)
        if self.pool is not None and message.failed:
            # Another middleware gave up on it (e.g. AgeLimit).
            error = {"type": "Skipped", "message": "message was dropped before it ran"}
            self._run(self._finish(_FAILED_SQL, job_id, "dead", _dumps(error)))

    async def _finish(self, sql: str, *params: Any) -> None:
        assert self.pool is not None
        await self.pool.execute(sql, *params)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset hook: nothing to reset (see ``JobTracking._open``)."""


def error_info(exception: BaseException) -> dict[str, str]:
    """``{"type", "message"}`` for the job row: the class name and the first part of the text."""
    text = str(exception) or type(exception).__name__
    if len(text) > MAX_ERROR_MESSAGE:
        text = text[: MAX_ERROR_MESSAGE - 1] + "…"
    return {"type": type(exception).__name__, "message": text}


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), default=str)


def now_ms() -> int:
    return int(time.time() * 1000)
