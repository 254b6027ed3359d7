"""One dedicated asyncpg LISTEN connection, kept up: reconnect with backoff, probe when quiet.

Used by ``edge.jobs.JobWaiter`` (``job_done``) and ``edge.notification_stream.NotificationHub``
(``notification_created``). The connection is not taken from the ORM pool: a pooled connection
stops listening when it is released (BASELINE.md pitfall 9). NOTIFYs sent while disconnected are
lost, so the caller re-reads what it waits for in ``on_listening`` (called again after every
reconnect) and falls back to polling in ``on_lost``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

#: Waits between LISTEN reconnection attempts (the last one repeats).
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
#: A quiet LISTEN connection is probed this often, so a dead socket is noticed.
LIVENESS_SECONDS = 30.0

#: What a connection that failed or dropped raises; anything else is logged as unexpected.
CONNECTION_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)

Notify = Callable[[Any, int, str, str], None]


async def listen(
    dsn: str,
    channel: str,
    on_notify: Notify,
    *,
    stopping: asyncio.Event,
    on_listening: Callable[[asyncpg.Connection], None],
    on_lost: Callable[[], None],
    log: logging.Logger,
    label: str = "LISTEN",
    connect_timeout: float = 60.0,
) -> None:
    """Listens on ``channel`` until ``stopping`` is set (or the task is cancelled).

    ``on_listening(connection)`` runs once each connection listens; ``on_lost()`` once it is
    gone, before it is terminated. ``label`` starts the log lines (e.g. ``"job_done LISTEN"``).
    """
    failures = 0
    while not stopping.is_set():
        try:
            connection = await asyncpg.connect(dsn, timeout=connect_timeout)
        except CONNECTION_ERRORS as exc:
            delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
            failures += 1
            log.warning("%s connection failed (%s); retrying in %ss", label, exc, delay)
            await asyncio.sleep(delay)
            continue
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
        try:
            await connection.add_listener(channel, on_notify)
            failures = 0
            on_listening(connection)
            await watch(connection, lost)
        except CONNECTION_ERRORS as exc:
            log.warning("%s connection lost (%s); reconnecting", label, exc)
        except Exception:
            log.exception("%s connection failed unexpectedly; reconnecting", label)
            await asyncio.sleep(RECONNECT_DELAYS[-1])
        finally:
            on_lost()
            if not connection.is_closed():
                connection.terminate()


async def watch(connection: asyncpg.Connection, lost: asyncio.Event) -> None:
    """Returns when the connection is gone; probes it when it has been quiet a while."""
    while not lost.is_set():
        try:
            await asyncio.wait_for(lost.wait(), LIVENESS_SECONDS)
        except TimeoutError:
            await connection.execute("SELECT 1", timeout=5)
