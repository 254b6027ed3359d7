"""DatabaseLifecycle: opens the ORM once per worker process and closes it on shutdown.

``models.db.connect`` runs on Dramatiq's AsyncIO loop thread, where the actors run, and with the
global fallback context, without which every actor query fails with "No TortoiseContext is
currently active" (BASELINE.md pitfall 1). So this middleware must come right after ``AsyncIO``:
``emit_before`` runs in list order (the loop exists first) and ``emit_after`` in reverse (the
ORM closes before the loop stops).

At boot the database's schema fingerprint is compared with this code's; on a mismatch the
worker process exits with the reason instead of running actors against another schema.
"""

from __future__ import annotations

import logging
from typing import NoReturn

import dramatiq
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread, set_event_loop_thread
from dramatiq.middleware import Middleware

log = logging.getLogger(__name__)


def abort_boot(problem: str) -> NoReturn:
    """Stops this worker process at boot with ``problem`` as the reason.

    SystemExit passes through Dramatiq's ``emit_before`` (it only catches Exception), so the
    process exits instead of running actors half set up. The AsyncIO loop thread is not a
    daemon, so it is stopped first or the process could not exit.
    """
    log.critical("%s", problem)
    loop_thread = get_event_loop_thread()
    if loop_thread is not None:
        loop_thread.stop()  # type: ignore[no-untyped-call]
        set_event_loop_thread(None)
    raise SystemExit(f"worker: {problem}")


class DatabaseLifecycle(Middleware):
    def __init__(
        self, database_url: str | None, *, max_size: int = 10, check_schema: bool = True
    ) -> None:
        self.database_url = database_url
        self.max_size = max_size
        self.check_schema = check_schema
        self._loop_thread: EventLoopThread | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if not self.database_url:
            abort_boot("DATABASE_URL is not set; cannot open the database")
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("DatabaseLifecycle must come right after the AsyncIO middleware")
        self._loop_thread = loop_thread
        try:
            problem = loop_thread.run_coroutine(self._open(self.database_url))
        except Exception as error:
            problem = f"cannot open the database: {type(error).__name__}: {error}"
        if problem is not None:
            abort_boot(problem)
        log.info("database opened (pool of %d)", self.max_size)

    async def _open(self, url: str) -> str | None:
        from models.db import connect, disconnect
        from models.fingerprint import SchemaMismatchError, check_schema

        await connect(url, max_size=self.max_size)
        if not self.check_schema:
            return None
        try:
            await check_schema(url)
        except SchemaMismatchError as error:
            await disconnect()
            return str(error)
        return None

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from models.db import disconnect

        if self._loop_thread is None:
            return
        try:
            self._loop_thread.run_coroutine(disconnect())
            log.info("database closed")
        except Exception:
            log.exception("closing the database failed")
        self._loop_thread = None
