"""WorkerHeartbeat: every few seconds each worker process says it is alive.

A daemon thread per worker process sets ``zerocancer_worker_heartbeat_timestamp_seconds`` for
Prometheus (label ``worker``: ``WORKER_NAME``, else the host name) and upserts the process's row
of ``worker_heartbeats`` (``"<name>:<pid>"``, the queues it consumes, ``beat_at = now()`` by the
database's clock). The edge's circuit breaker and readiness check read that table: an idle but
healthy worker must count as alive, which ``jobs.heartbeat_at`` (moving only while a job runs)
cannot say. A clean shutdown deletes the row, so the edge sees at once that the worker is gone;
a killed process leaves a row that goes stale.

The SQL runs on the worker's AsyncIO loop (its own asyncpg connection, reopened after a
failure), called from the thread with a timeout, so a stuck database never stops the metric. A
loop too busy to answer shows as a stale row: async actors could not run either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Coroutine
from typing import Any

import asyncpg
import dramatiq
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread
from dramatiq.middleware import Middleware

log = logging.getLogger(__name__)

#: Environment variable naming this worker in metrics and in ``worker_heartbeats``.
WORKER_NAME_ENV = "WORKER_NAME"
#: Longest one heartbeat write may take before the thread gives up on it.
WRITE_TIMEOUT = 5.0

_BEAT_SQL = """
INSERT INTO worker_heartbeats (id, worker_name, pid, queues, started_at, beat_at)
VALUES ($1, $2, $3, $4::text[], now(), now())
ON CONFLICT (id) DO UPDATE
SET beat_at = now(), queues = EXCLUDED.queues, worker_name = EXCLUDED.worker_name
"""
_FORGET_SQL = "DELETE FROM worker_heartbeats WHERE id = $1"
# Rows of processes that were killed (no clean shutdown) are kept a day for operators.
_PRUNE_SQL = "DELETE FROM worker_heartbeats WHERE beat_at < now() - interval '1 day'"


def default_worker_name() -> str:
    return os.environ.get(WORKER_NAME_ENV, "").strip() or socket.gethostname()


def canonical_queues(names: set[str] | frozenset[str]) -> list[str]:
    """Queue names without Dramatiq's ``.DQ``/``.XQ`` suffixes, sorted."""
    return sorted({name.removesuffix(".DQ").removesuffix(".XQ") for name in names})


class WorkerHeartbeat(Middleware):
    """Writes this worker process's heartbeat (see the module docstring)."""

    def __init__(
        self,
        database_url: str | None,
        *,
        interval: float = 10.0,
        worker_name: str | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.database_url = database_url
        self.interval = interval
        self.worker_name = worker_name or default_worker_name()
        self.row_id = ""
        self.queues: list[str] = []
        self._loop_thread: EventLoopThread | None = None
        self._connection: asyncpg.Connection | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._loop_thread = get_event_loop_thread()
        if self._loop_thread is None:
            raise RuntimeError("WorkerHeartbeat must come after the AsyncIO middleware")
        whitelist = getattr(worker, "consumer_whitelist", None)
        self.queues = canonical_queues(set(whitelist or broker.get_declared_queues()))
        self.row_id = f"{self.worker_name}:{os.getpid()}"
        self._stop.clear()
        self._write(self._prune())
        self.beat()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(WRITE_TIMEOUT + 1)
            self._thread = None
        if self._loop_thread is not None:
            self._write(self._forget())
            self._write(self._close())
        self._loop_thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        """One heartbeat: the Prometheus gauge, then the database row."""
        from monitoring import metrics

        metrics.WORKER_HEARTBEAT.labels(worker=self.worker_name).set_to_current_time()
        self._write(self._upsert())

    # --- SQL on the worker's loop ------------------------------------------------------

    def _write(self, coroutine: Coroutine[Any, Any, None]) -> None:
        loop_thread = self._loop_thread
        if loop_thread is None or not loop_thread.loop.is_running():
            coroutine.close()
            return
        future = asyncio.run_coroutine_threadsafe(coroutine, loop_thread.loop)
        try:
            future.result(timeout=WRITE_TIMEOUT)
        except Exception as error:
            future.cancel()
            log.warning("worker heartbeat write failed: %s: %s", type(error).__name__, error)

    async def _execute(self, sql: str, *args: Any) -> None:
        if not self.database_url:
            return
        if self._connection is None or self._connection.is_closed():
            from models.db import asyncpg_dsn

            self._connection = await asyncpg.connect(
                asyncpg_dsn(self.database_url), timeout=WRITE_TIMEOUT
            )
        try:
            await self._connection.execute(sql, *args, timeout=WRITE_TIMEOUT)
        except Exception:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                connection.terminate()
            raise

    async def _upsert(self) -> None:
        await self._execute(_BEAT_SQL, self.row_id, self.worker_name, os.getpid(), self.queues)

    async def _prune(self) -> None:
        await self._execute(_PRUNE_SQL)

    async def _forget(self) -> None:
        await self._execute(_FORGET_SQL, self.row_id)

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            await connection.close(timeout=WRITE_TIMEOUT)
