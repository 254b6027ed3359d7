"""Scratch PostgreSQL databases for the models tests: one per test module, plus ad hoc ones.

``scratch_database(label)`` creates ``zc_models_<label>_<random>``; every scratch database is
dropped when the session ends, all at once (``DROP DATABASE`` waits for a checkpoint, and
concurrent drops share one). ``module_database_url`` is an empty database shared by a module's
tests, ``migrated_url`` the same after ``models.migrate``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from models.migrate import migrate

ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

_created: list[str] = []


async def _admin(sql: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@asynccontextmanager
async def scratch_database(label: str) -> AsyncIterator[str]:
    """A new empty database; yields its URL. It is dropped at the end of the session."""
    name = f"zc_models_{label}_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    _created.append(name)
    # Throw-away data: commits need not wait for the disk (a shared, busy machine).
    await _admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session", autouse=True)
async def _drop_scratch_databases() -> AsyncIterator[None]:
    yield
    names, _created[:] = list(_created), []
    await asyncio.gather(*(_admin(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)') for n in names))


@pytest.fixture(scope="module")
async def module_database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    label = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    async with scratch_database(label) as url:
        yield url


@pytest.fixture(scope="module")
async def migrated_url(module_database_url: str) -> str:
    await migrate(module_database_url)
    return module_database_url


@pytest.fixture
async def conn(migrated_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(migrated_url)
    try:
        yield connection
    finally:
        await connection.close()
