"""Fixtures of the job-runtime tests: a scratch database and vhost of their own, and settings
pointing at them (helpers live in ``tests/actors/runtime.py``).

The runtime tests get their own database and vhost (not the session ones of tests/conftest.py):
relays and workers started elsewhere in a run must not take their outbox rows or messages. The
ORM runs in an isolated context (``models.db.isolated``) so the global one stays untouched.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

import actors.emails.actor
import actors.scheduled
from actors.settings import WorkerSettings

RUN = uuid.uuid4().hex[:8]
SCRATCH = f"zc_rt_{RUN}"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SCRATCH_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{SCRATCH}"
AMQP_URL = f"amqp://guest:guest@127.0.0.1:5672/{SCRATCH}"
#: Tables the runtime tests write, emptied before each test (children first).
RUNTIME_TABLES = ("outbox", "jobs", "token_revocations", '"AdminResetToken"', '"Admins"')

_REGISTERED = (actors.emails.actor, actors.scheduled)  # imported for their actors


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
async def runtime_database_url() -> AsyncIterator[str]:
    from models.migrate import migrate

    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{SCRATCH}"')
    finally:
        await admin.close()
    try:
        await migrate(SCRATCH_URL)
        yield SCRATCH_URL
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def runtime_orm(runtime_database_url: str) -> AsyncIterator[None]:
    """The ORM on the scratch database, for this one test.

    Function scope on purpose: a session-scoped isolated context would stay current in every
    later test of the run (pytest-asyncio carries fixture contexts into tests), sending their
    queries to this scratch database instead of the session one.
    """
    from models.db import isolated

    async with isolated(runtime_database_url, max_size=4):
        yield


@pytest.fixture
async def runtime_db(
    runtime_orm: None, runtime_database_url: str
) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the scratch database with the runtime tables emptied."""
    connection = await asyncpg.connect(runtime_database_url)
    try:
        await connection.execute("".join(f"DELETE FROM {table};" for table in RUNTIME_TABLES))
        yield connection
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A vhost of our own, deleted at the end."""
    rabbitmqctl("add_vhost", SCRATCH)
    rabbitmqctl("set_permissions", "-p", SCRATCH, "guest", ".*", ".*", ".*")
    try:
        yield AMQP_URL
    finally:
        rabbitmqctl("delete_vhost", SCRATCH)


@pytest.fixture(scope="module")
def runtime_settings(
    runtime_database_url: str,
    amqp_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> WorkerSettings:
    tmp_path = tmp_path_factory.mktemp("runtime")
    return WorkerSettings(
        database_url=runtime_database_url,
        broker_url=amqp_url,
        redis_url=redis_url,
        rate_limit_prefix=f"zc_rt_{RUN}_{uuid.uuid4().hex[:6]}",
        smtp_host="127.0.0.1",
        smtp_port=int(os.environ["SMTP_PORT"]),
        smtp_from="ZeroCancer <no-reply@zerocancer.test>",
        frontend_url="http://frontend.test",
        storage_dir=tmp_path / "storage",
        mail_outbox_dir=tmp_path / "outbox-mail",
        job_heartbeat_seconds=0.05,
    )
