"""``zerocancer scheduler``: the leader loop that enqueues due schedule entries.

One leader at a time: a session advisory lock held on a dedicated connection (it goes with the
connection, so a dead leader frees it). Only the leader looks for due slots, every 30 s, and
enqueues them through the outbox with the slot's idempotency key, so even two schedulers that
both believe they lead (or a restart within a slot) never enqueue a slot twice. The scheduler
never runs job code itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient

from actors.contracts.outbox import Requester, enqueue
from actors.schedule import CronEntry, Entry, IntervalEntry, entries
from actors.settings import WorkerSettings

log = logging.getLogger(__name__)

#: Advisory lock key of the scheduler leader ("zcschedl" in ASCII).
LOCK_KEY = int.from_bytes(b"zcschedl", "big")
#: Seconds between ticks (spec/scheduled-jobs.md section 3).
TICK_SECONDS = 30.0

_ACTIVE_JOB_SQL = """
SELECT EXISTS (SELECT 1 FROM jobs WHERE actor_name = $1 AND status IN ('queued', 'running'))
AS active
"""


@dataclass(frozen=True)
class Fired:
    """One due slot handed to the outbox (``new`` is False when its key already had a job)."""

    entry: str
    idempotency_key: str
    job_id: str
    new: bool


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Scheduler:
    def __init__(
        self,
        settings: WorkerSettings,
        *,
        schedule: Sequence[Entry] | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        if not settings.database_url:
            raise ValueError("the scheduler needs DATABASE_URL")
        self.settings = settings
        self.schedule = list(entries(settings) if schedule is None else schedule)
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.leader = False
        self._lock_connection: asyncpg.Connection | None = None
        self._skipped: set[str] = set()

    async def try_lead(self) -> bool:
        """Takes (or keeps) leadership; False while another scheduler holds it."""
        from models.db import asyncpg_dsn

        connection = self._lock_connection
        if connection is not None:
            try:
                await connection.fetchval("SELECT 1")
            except Exception:
                log.warning("scheduler lock connection lost; leadership dropped")
                await self._drop_connection()
                connection = None
        if connection is None:
            assert self.settings.database_url is not None
            connection = await asyncpg.connect(asyncpg_dsn(self.settings.database_url))
            self._lock_connection = connection
            self.leader = False
        if not self.leader:
            self.leader = bool(
                await connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
            )
            if self.leader:
                log.info("scheduler is the leader")
        return self.leader

    async def tick(self) -> list[Fired]:
        """Enqueues every due slot (the caller makes sure this scheduler leads)."""
        from tortoise.transactions import in_transaction

        now = self.clock()
        fired: list[Fired] = []
        for entry in self.schedule:
            async with in_transaction() as connection:
                slot = await self._due_slot(entry, now, connection)
                if slot is None:
                    continue
                message = entry.message(slot)
                if message is None:
                    if entry.name not in self._skipped:
                        log.info("schedule entry %s skipped: no message class yet", entry.name)
                        self._skipped.add(entry.name)
                    continue
                key = entry.idempotency_key(slot)
                job = await enqueue(
                    message,
                    using_db=connection,
                    requested_by=Requester("scheduler"),
                    idempotency_key=key,
                )
                # A job inserted by this transaction carries its start time, now().
                [row] = await connection.execute_query_dict("SELECT now() AS now")
                new = job.created_at == row["now"]
            if new:
                log.info("scheduled %s for slot %s (job %s)", entry.name, key, job.id)
            fired.append(Fired(entry.name, key, str(job.id), new))
        return fired

    async def _due_slot(
        self, entry: Entry, now: dt.datetime, connection: BaseDBAsyncClient
    ) -> dt.datetime | None:
        if isinstance(entry, CronEntry):
            return entry.latest_slot(now)
        assert isinstance(entry, IntervalEntry)
        query = connection.execute_query_dict
        active = await query(_ACTIVE_JOB_SQL, [entry.actor_name])
        if active and active[0]["active"]:
            return None  # coalesce with the run already queued or running
        rows = await query(entry.last_started_sql)
        last = next(iter(rows[0].values())) if rows else None
        return entry.due_slot(now, last, self.settings)

    async def run_once(self) -> list[Fired]:
        """One tick if this scheduler leads (else nothing)."""
        if not await self.try_lead():
            return []
        return await self.tick()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.run_once()
                except Exception:
                    log.exception("scheduler tick failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.tick_seconds)
        finally:
            await self.close()

    async def close(self) -> None:
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        connection, self._lock_connection = self._lock_connection, None
        self.leader = False
        if connection is not None and not connection.is_closed():
            # Closing the session releases the advisory lock.
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)


def main(argv: Sequence[str] | None = None) -> int:
    """``zerocancer scheduler``: enqueue due scheduled jobs while leader, until SIGTERM."""
    parser = argparse.ArgumentParser(prog="zerocancer scheduler", description=main.__doc__)
    parser.add_argument("--once", action="store_true", help="one tick (if leader), then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = WorkerSettings.from_env()
    if not settings.database_url:
        log.error("zerocancer scheduler needs DATABASE_URL")
        return 2

    async def serve() -> None:
        from models.db import connect, disconnect

        await connect(settings.database_url or "", max_size=2)
        scheduler = Scheduler(settings)
        try:
            if args.once:
                fired = await scheduler.run_once()
                log.info("tick done: %d slot(s) due", len(fired))
                await scheduler.close()
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            names = ", ".join(e.name for e in scheduler.schedule) or "nothing"
            log.info("scheduler started: %s", names)
            await scheduler.run(stop)
        finally:
            await disconnect()

    asyncio.run(serve())
    return 0
