"""Opening and closing the ORM: one Tortoise app ``models`` on one asyncpg pool.

``connect``/``disconnect`` are for processes (edge lifecycle, the worker middleware): they set
the global fallback context, so actor tasks and request handlers created from other contexts
see the ORM (baseline pitfall 1). ``isolated`` is for short tools and tests that must not
disturb (or depend on) that global state, e.g. ``models.seed``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext

from models import MODEL_MODULES
from models.fair_pool import FairAsyncpgClient

#: Name of the one Tortoise connection.
CONNECTION = "default"
#: Tortoise's asyncpg engine on a pool that serves waiters in order (`models.fair_pool`).
FAIR_ENGINE = "models.fair_pool"

_SCHEMES = {"postgres", "postgresql", "asyncpg"}


def asyncpg_dsn(url: str) -> str:
    """``url`` (``postgresql://``, ``postgres://`` or ``asyncpg://``) as a DSN asyncpg accepts."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        raise ValueError(f"not a PostgreSQL URL: {scheme or url!r}")
    return f"postgresql://{rest}"


async def _keep_session(connection: Any) -> None:
    """A pool reset that sends nothing (see ``tortoise_config``'s ``reset_sessions``)."""


def tortoise_config(url: str, *, max_size: int = 10, reset_sessions: bool = True) -> dict[str, Any]:
    """The ``Tortoise.init(config=...)`` dict for ``url`` with a pool of at most ``max_size``.

    Accepts ``postgresql://`` and ``postgres://`` URLs; a ``sslmode`` query parameter is passed
    to asyncpg as ``ssl``. With ``reset_sessions=False`` a connection goes back to the pool
    without asyncpg's reset query (unlock advisory locks, UNLISTEN, RESET ALL): one round trip
    less per query, for processes that leave no session state behind (the edge uses only
    transaction-level locks and listens on dedicated connections).
    """
    parts = urllib.parse.urlsplit(asyncpg_dsn(url))
    query = urllib.parse.parse_qsl(parts.query)
    sslmode = [value for key, value in query if key == "sslmode"]
    rest = urllib.parse.urlencode([(key, value) for key, value in query if key != "sslmode"])
    connection = expand_db_url(urllib.parse.urlunsplit(parts._replace(query=rest)))
    credentials: dict[str, Any] = connection["credentials"]
    if sslmode:
        credentials["ssl"] = sslmode[-1]
    credentials["minsize"] = 1
    credentials["maxsize"] = max(1, max_size)
    if not reset_sessions:
        credentials["reset"] = _keep_session
    connection["engine"] = FAIR_ENGINE
    return {
        "connections": {CONNECTION: connection},
        "apps": {"models": {"models": list(MODEL_MODULES), "default_connection": CONNECTION}},
        "use_tz": True,
        "timezone": "UTC",
    }


async def connect(url: str, *, max_size: int = 10, reset_sessions: bool = True) -> None:
    """Initialise the ORM for this process (global fallback context; see module docstring)."""
    await Tortoise.init(
        config=tortoise_config(url, max_size=max_size, reset_sessions=reset_sessions),
        _enable_global_fallback=True,
    )


async def disconnect() -> None:
    """Close the pool opened by ``connect`` and drop the global context."""
    await Tortoise.close_connections()


async def fetch_rows(sql: str, *args: Any) -> list[asyncpg.Record]:
    """The rows of one read statement, for hot read paths.

    Outside a transaction it runs straight on the ORM's asyncpg pool: the ORM's per-query
    wrappers (exception translation, debug logging, a dict per row) cost about a tenth of a
    cheap GET. Inside an ORM transaction (`in_transaction()`) it runs on the transaction's
    connection. Errors are asyncpg's own.
    """
    client = connections.get(CONNECTION)
    # A transaction's client is another AsyncpgDBClient subclass: it runs on its connection.
    pool: asyncpg.Pool | None = getattr(client, "_pool", None)
    if type(client) is FairAsyncpgClient and pool is not None:
        rows: list[asyncpg.Record] = await pool.fetch(sql, *args)
        return rows
    async with client.acquire_connection() as connection:
        held: list[asyncpg.Record] = await connection.fetch(sql, *args)
        return held


@asynccontextmanager
async def isolated(url: str, *, max_size: int = 2) -> AsyncIterator[TortoiseContext]:
    """An ORM context of its own for the current task, closed on exit.

    Inside the ``async with`` block model queries use this context's pool, whatever
    ``connect`` may have set up globally.
    """
    context = TortoiseContext()
    async with context:
        await context.init(config=tortoise_config(url, max_size=max_size))
        yield context
