"""models.fair_pool: connections are handed out in the order they were asked for."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tortoise import connections

from models import db
from models.fair_pool import FairPool, create_fair_pool


async def keep_session(connection: Any) -> None:
    """No reset query: a release then hands the connection back without waiting."""


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[FairPool]:
    opened = await create_fair_pool(
        db.asyncpg_dsn(database_url), min_size=2, max_size=2, reset=keep_session
    )
    try:
        yield opened
    finally:
        await opened.close()


async def test_under_load_connections_go_out_in_the_order_they_were_asked_for(
    pool: FairPool,
) -> None:
    # 32 clients each asking 10 times for one of 2 connections, as requests do under load:
    # every ask takes a ticket; the tickets must come out in order. (asyncpg's own pool lets
    # an ask made in the same turn of the loop as a release overtake the queue.)
    tickets = itertools.count()
    served: list[int] = []
    # Other work between asks, a different number of loop turns each time, so that asks fall
    # in the same turns as releases (fixed seed: the same interleaving every run).
    turns = random.Random(7)

    async def client() -> None:
        for _ in range(10):
            for _ in range(turns.randrange(4)):
                await asyncio.sleep(0)
            ticket = next(tickets)
            async with pool.acquire() as connection:
                served.append(ticket)
                await connection.fetchval("SELECT 1")

    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(32))), 60)
    assert len(served) == 320
    overtaken = sum(1 for before, after in itertools.pairwise(served) if after < before)
    assert overtaken == 0


async def test_a_timed_out_wait_gives_its_turn_back(pool: FairPool) -> None:
    held = [await pool.acquire() for _ in range(2)]
    with pytest.raises(asyncio.TimeoutError):
        await pool.acquire(timeout=0.05)
    await pool.release(held.pop())
    again = await pool.acquire(timeout=5)  # the timed-out waiter left no claim behind
    await pool.release(again)
    await pool.release(held.pop())


async def test_releasing_twice_frees_one_turn(pool: FairPool) -> None:
    first = await pool.acquire()
    await pool.release(first)
    await pool.release(first)  # asyncpg ignores it; so must the turns
    held = [await pool.acquire() for _ in range(2)]
    with pytest.raises(asyncio.TimeoutError):
        await pool.acquire(timeout=0.05)
    for connection in held:
        await pool.release(connection)


async def test_the_orm_runs_on_a_fair_pool(orm: None) -> None:
    rows = await db.fetch_rows("SELECT $1::int AS n", 7)
    assert [row["n"] for row in rows] == [7]
    client: Any = connections.get(db.CONNECTION)
    assert isinstance(client._pool, FairPool)
