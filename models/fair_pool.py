"""An asyncpg pool that hands out connections in the order they were asked for, and the
Tortoise engine that uses it (`tortoise_config` names this module as the engine).

asyncpg's pool waits on an `asyncio.Queue`. A released connection wakes the oldest waiter,
but the waiter runs only on the next turn of the event loop; a request that asks in between
finds the connection free and takes it, and the woken waiter queues again at the back. Under
more concurrent requests than connections (64 against a pool of 10 in bench/edge_bench.py),
new requests kept overtaking old ones: half of the acquisitions took no time and the slowest
percent waited 137 ms, so the edge's p99 was ten times its median. Here a FIFO semaphore
(`asyncio.Semaphore` hands a released slot straight to its first waiter and lets nobody past
a queue) admits at most `max_size` holders to the pool, so a connection is always free for the
one admitted and the order of asking is the order of serving.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from tortoise.backends.asyncpg.client import AsyncpgDBClient


class FairPool(asyncpg.Pool):  # type: ignore[misc]  # asyncpg ships no types for Pool
    """`asyncpg.Pool` with first-come-first-served acquisition (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turns = asyncio.Semaphore(kwargs["max_size"])
        self._holding: set[PoolConnectionProxy] = set()

    # asyncpg's own signatures, hence a `timeout` parameter.
    async def _acquire(self, timeout: float | None) -> PoolConnectionProxy:  # noqa: ASYNC109
        if timeout is None:
            await self._turns.acquire()
        else:
            started = time.monotonic()
            await asyncio.wait_for(self._turns.acquire(), timeout)
            timeout = max(0.0, timeout - (time.monotonic() - started))
        try:
            proxy: PoolConnectionProxy = await super()._acquire(timeout)
        except BaseException:
            self._turns.release()
            raise
        self._holding.add(proxy)
        return proxy

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        try:
            await super().release(connection, timeout=timeout)
        finally:
            # Once per acquisition, whatever asyncpg did with the connection (released twice,
            # closed meanwhile, or not one of ours: asyncpg raises for that one).
            if connection in self._holding:
                self._holding.discard(connection)
                self._turns.release()


#: `asyncpg.create_pool`'s keyword defaults, which `asyncpg.Pool()` itself does not have.
_POOL_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(asyncpg.create_pool).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
}


def create_fair_pool(dsn: str | None = None, **kwargs: Any) -> FairPool:
    """`asyncpg.create_pool(dsn, **kwargs)`, as a `FairPool` (await it to open it)."""
    return FairPool(dsn, **{**_POOL_DEFAULTS, **kwargs})


class FairAsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client on a `FairPool`."""

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        pool: asyncpg.Pool = await create_fair_pool(None, **kwargs)
        return pool


#: What Tortoise looks up in an engine module.
client_class = FairAsyncpgClient
