"""Session fixtures on real services: PostgreSQL, RabbitMQ, Redis, SMTP, and a real edge process.

The environment is set here, at import, before any of our packages reads its settings, so the
test process and every process it starts see the same per-run database, vhost and Redis db.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.harness.processes import Process, free_port, python_module
from tests.harness.smtp import Mailbox, SmtpServer

RUN_ID = uuid.uuid4().hex[:8]
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE_NAME = f"zc_test_{RUN_ID}"
DATABASE_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{DATABASE_NAME}"
VHOST = f"zc_test_{RUN_ID}"
REDIS_DB = 1 + int(RUN_ID, 16) % 15
SMTP_PORT = free_port()
VAR = Path(__file__).resolve().parents[1] / "var" / f"test-{RUN_ID}"

TEST_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{VHOST}",
    "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": str(SMTP_PORT),
    "SMTP_SECURE": "false",
    "SMTP_FROM": "ZeroCancer <no-reply@zerocancer.test>",
    "JWT_TOKEN_SECRET": "test-secret-" + RUN_ID + "-with-enough-length-for-hs256",
    "FRONTEND_URL": "http://frontend.test",
    "CRON_API_KEY": "test-cron-key-" + RUN_ID,
    "STORAGE_DIR": str(VAR / "storage"),
    "ZEROCANCER_METRICS_DIR": str(VAR / "metrics"),
    "PAYSTACK_SECRET_KEY": "sk_test_" + RUN_ID,
    "PAYSTACK_BASE_URL": f"http://127.0.0.1:{free_port()}",  # tests/sandbox/conftest_paystack.py
    "ZEROCANCER_ENV": "test",
}
os.environ.update(TEST_ENV)
os.environ.pop("ZEROCANCER_EMBEDDED", None)


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    rabbitmqctl("add_vhost", VHOST)
    rabbitmqctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
    yield TEST_ENV["BROKER_URL"]
    rabbitmqctl("delete_vhost", VHOST)


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(TEST_ENV["REDIS_URL"])
    client.flushdb()
    client.close()
    return TEST_ENV["REDIS_URL"]


@pytest.fixture(scope="session")
def smtp() -> Iterator[Mailbox]:
    server = SmtpServer(SMTP_PORT).start()
    yield server.mailbox
    server.stop()


@pytest.fixture
def mailbox(smtp: Mailbox) -> Mailbox:
    smtp.clear()
    return smtp


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    from models.migrate import migrate

    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}"')
        await admin.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        await admin.close()
    await migrate(DATABASE_URL)
    yield DATABASE_URL
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def orm(database_url: str) -> AsyncIterator[None]:
    from models.db import connect, disconnect

    await connect(database_url)
    yield
    await disconnect()


#: Tables that hold the schema's own bookkeeping, kept between tests.
KEPT_TABLES = frozenset({"schema_version"})


@pytest.fixture
async def db(orm: None, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A clean database: every app table truncated, the fixed rows back in place."""
    connection = await asyncpg.connect(database_url)
    try:
        tables = [
            row["tablename"]
            for row in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
            if row["tablename"] not in KEPT_TABLES
        ]
        if tables:
            names = ", ".join(f'"{name}"' for name in tables)
            await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        for path in fixed_row_files():
            await connection.execute(path.read_text())
        yield connection
    finally:
        await connection.close()


def fixed_row_files() -> list[Path]:
    migrations = Path(__file__).resolve().parents[1] / "models" / "migrations"
    return sorted(migrations.glob("*fixed_rows*.sql"))


def edge_process(database_url: str, **env: str) -> Process:
    port = free_port()
    process = Process(
        "edge",
        python_module("edge", "--host", "127.0.0.1", "--port", str(port)),
        {**TEST_ENV, "DATABASE_URL": database_url, **env},
        url=f"http://127.0.0.1:{port}",
    )
    return process


@pytest.fixture(scope="session")
def edge_url(database_url: str, rabbitmq_url: str, smtp: Mailbox) -> Iterator[str]:
    process = edge_process(database_url).start()
    try:
        process.wait_http(f"{process.url}/api/v1/healthz", timeout=60)
        yield process.url
    finally:
        process.stop()


@pytest.fixture(scope="session")
async def client(edge_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge_url, timeout=30.0) as http:
        yield http
