"""JobTracking: keeps each message's ``jobs`` row current and tells the edge with NOTIFY.

Per attempt: ``running`` (attempts + 1, started_at, heartbeat) before the actor runs; then
``succeeded`` with the result, ``failed`` (a retry is scheduled) or ``dead`` (retries exhausted or
a permanent error) with ``{"type", "message"}``. Each outcome is one statement that also sends
``NOTIFY job_done '<job id>'``, so the notification is delivered only once the row is committed
(the payload is only a hint: listeners re-read the row, whose status says whether it is final).

A redelivered message whose job already succeeded is skipped (at-least-once delivery, BASELINE.md
section 7). A rate-limited attempt puts the job back to ``queued`` without counting an attempt.

The hooks run on worker threads; the SQL runs on the worker's AsyncIO loop through its own small
asyncpg pool, independent of the ORM (so it also works in processes whose ORM is elsewhere).
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
from dramatiq.middleware import Middleware, SkipMessage

from actors.errors import RateLimitedError
from actors.middleware.database import abort_boot

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds between heartbeats of running jobs.
HEARTBEAT_INTERVAL = 10.0
#: Longest error message kept in ``jobs.error`` (exception text can be long).
MAX_ERROR_MESSAGE = 500

_CLAIM_SQL = """
UPDATE jobs
SET status = 'running', attempts = attempts + 1, started_at = now(), heartbeat_at = now(),
    finished_at = NULL, updated_at = now()
WHERE id = $1::uuid AND status <> 'succeeded'
RETURNING attempts
"""
_STATUS_SQL = "SELECT status FROM jobs WHERE id = $1::uuid"
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
    WHERE id = $1::uuid
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
_tracker: JobTracking | None = None
# Results returned by registered actors, keyed by job id; the actor wrapper hands its return
# value over here (and returns None to Dramatiq, which would otherwise warn about it).
_results: dict[str, Any] = {}


def current_job() -> JobContext | None:
    """The job being run by the calling actor, or None outside a tracked actor."""
    return _current.get()


def set_result(value: Any) -> None:
    """Records the calling actor's result for its job row (used by ``actors.policy``)."""
    job = _current.get()
    if job is not None:
        _results[job.job_id] = value


async def report_progress(done: int, total: int) -> None:
    """Writes ``{"done": done, "total": total}`` into the calling actor's job row."""
    job = _current.get()
    tracker = _tracker
    if job is None or tracker is None or tracker.pool is None:
        return
    await tracker.pool.execute(_PROGRESS_SQL, job.job_id, _dumps({"done": done, "total": total}))


class JobTracking(Middleware):
    """Keeps ``jobs`` rows in step with message processing (see the module docstring)."""

    def __init__(
        self,
        database_url: str | None,
        *,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        pool_size: int = 4,
    ) -> None:
        self.database_url = database_url
        self.heartbeat_interval = heartbeat_interval
        self.pool_size = pool_size
        self.pool: asyncpg.Pool | None = None
        self._loop_thread: EventLoopThread | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._running: set[str] = set()
        self._running_lock = threading.Lock()
        self._skipped = threading.local()

    # --- worker lifecycle ----------------------------------------------------------------

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        global _tracker
        if not self.database_url:
            abort_boot("DATABASE_URL is not set; jobs cannot be tracked")
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("JobTracking must come after the AsyncIO middleware")
        self._loop_thread = loop_thread
        try:
            self.pool = loop_thread.run_coroutine(self._open())
        except Exception as error:
            abort_boot(f"job tracking cannot reach the database: {type(error).__name__}: {error}")
        _tracker = self

    async def _open(self) -> asyncpg.Pool:
        from models.db import asyncpg_dsn

        assert self.database_url is not None
        pool = await asyncpg.create_pool(
            asyncpg_dsn(self.database_url), min_size=1, max_size=self.pool_size, command_timeout=30
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

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self._skipped.message_id = None
        if self.pool is None:
            return
        attempts = self._run(self._claim(message))
        if attempts is None:
            log.info("job %s already succeeded; skipping redelivered message", message.message_id)
            self._skipped.message_id = message.message_id
            raise SkipMessage("job already succeeded")
        with self._running_lock:
            self._running.add(message.message_id)
        _current.set(
            JobContext(
                job_id=message.message_id,
                actor_name=message.actor_name,
                attempt=attempts,
                options=message.options,
            )
        )

    async def _claim(self, message: MessageProxy) -> int | None:
        """Marks the job running; returns its attempt number, or None when it already succeeded."""
        assert self.pool is not None
        job_id = message.message_id
        async with self.pool.acquire() as connection:
            attempts = await connection.fetchval(_CLAIM_SQL, job_id)
            if attempts is not None:
                return int(attempts)
            status = await connection.fetchval(_STATUS_SQL, job_id)
            if status == "succeeded":
                return None
            await connection.execute(
                _ADOPT_SQL,
                job_id,
                message.actor_name,
                message.queue_name,
                _dumps(dict(message.kwargs)),
            )
            return 1

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        job_id = message.message_id
        with self._running_lock:
            self._running.discard(job_id)
        _current.set(None)
        value = _results.pop(job_id, result)
        if self.pool is None:
            return
        if exception is None:
            self._run(self._finish(_SUCCEEDED_SQL, job_id, _dumps(value)))
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
        job_id = message.message_id
        with self._running_lock:
            self._running.discard(job_id)
        if getattr(self._skipped, "message_id", None) == job_id:
            return  # our own skip: the job already succeeded
        _current.set(None)
        if self.pool is not None and message.failed:
            # Another middleware gave up on it (e.g. AgeLimit).
            error = {"type": "Skipped", "message": "message was dropped before it ran"}
            self._run(self._finish(_FAILED_SQL, job_id, "dead", _dumps(error)))

    async def _finish(self, sql: str, *params: Any) -> None:
        assert self.pool is not None
        await self.pool.execute(sql, *params)


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
