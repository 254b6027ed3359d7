"""The real commands: ``zerocancer worker``, ``relay`` and ``scheduler`` as separate processes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from actors.contracts import SendEmail, enqueue
from actors.settings import WorkerSettings
from tests.actors.runtime import wait_for_job
from tests.harness.processes import ROOT, Process
from tests.harness.smtp import Mailbox


def zerocancer(name: str, *args: str, env: dict[str, str]) -> Process:
    return Process(name, [sys.executable, str(ROOT / "zerocancer.py"), name, *args], env)


@pytest.fixture
def env(runtime_settings: WorkerSettings, smtp: Mailbox) -> dict[str, str]:
    settings = runtime_settings
    assert settings.database_url
    assert settings.broker_url
    assert settings.redis_url
    return {
        "DATABASE_URL": settings.database_url,
        "BROKER_URL": settings.broker_url,
        "REDIS_URL": settings.redis_url,
        "RATE_LIMIT_PREFIX": settings.rate_limit_prefix,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(settings.smtp_port),
        "SMTP_FROM": settings.mail_from,
        "FRONTEND_URL": settings.frontend_url,
        "STORAGE_DIR": str(settings.storage_dir),
    }


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


async def test_worker_and_relay_processes_deliver_an_email_job(
    runtime_db: asyncpg.Connection,
    runtime_database_url: str,
    env: dict[str, str],
    mailbox: Mailbox,
    processes: list[Process],
) -> None:
    processes += [
        zerocancer("worker", "--processes", "1", "--threads", "2", env=env).start(),
        zerocancer("relay", env=env).start(),
    ]
    async with in_transaction() as connection:
        job = await enqueue(
            SendEmail(template="donor_verification", to="don@example.com", context={"token": "p"}),
            using_db=connection,
        )

    try:
        finished = await wait_for_job(runtime_database_url, job.id, ["succeeded"], seconds=30)
    except AssertionError:
        raise AssertionError("\n".join(p.output()[-3000:] for p in processes)) from None
    [message] = await asyncio.to_thread(mailbox.wait_for, "don@example.com")
    assert message["X-ZeroCancer-Email-Type"] == "E-2"
    assert finished["attempts"] == 1
    for process in processes:
        assert process.stop() == 0, process.output()[-3000:]


async def test_the_worker_refuses_to_start_on_another_schema_fingerprint(
    runtime_db: asyncpg.Connection, env: dict[str, str]
) -> None:
    version = await runtime_db.fetchval("SELECT max(version) FROM schema_version")
    recorded = await runtime_db.fetchval(
        "SELECT fingerprint FROM schema_version WHERE version = $1", version
    )
    await runtime_db.execute(
        "UPDATE schema_version SET fingerprint = 'other' WHERE version = $1", version
    )
    try:
        worker = zerocancer("worker", "--processes", "1", "--threads", "1", env=env).start()
        assert worker.popen is not None
        code = await asyncio.to_thread(worker.popen.wait, 30)
    finally:
        await runtime_db.execute(
            "UPDATE schema_version SET fingerprint = $1 WHERE version = $2", recorded, version
        )
    assert code != 0
    assert "schema mismatch: the database records schema fingerprint other" in worker.output()


async def test_scheduler_once_enqueues_the_due_maintenance_job(
    runtime_db: asyncpg.Connection, env: dict[str, str]
) -> None:
    scheduler = zerocancer("scheduler", "--once", env=env).start()
    assert scheduler.popen is not None

    assert await asyncio.to_thread(scheduler.popen.wait, 30) == 0, scheduler.output()
    keys = [row[0] for row in await runtime_db.fetch("SELECT idempotency_key FROM jobs")]
    assert any(key.startswith("schedule:purge_expired_tokens:") for key in keys), keys
