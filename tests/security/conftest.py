"""Fixtures of the security suite: its own edge process, a client that keeps no cookies, and a
database reset for module-scoped worlds.

The security edge runs on the session database with settings that keep the suite fast and
deterministic, and are otherwise the test settings of tests/conftest.py:

- job-backed endpoints answer at once (`MATCHING_TRIGGER_WAIT_SECONDS=0`,
  `ANALYTICS_WAIT_SECONDS=0`; every request also sends `Prefer: wait=0`), since no worker runs:
  they answer 202 with the job's address, which is what the matrix expects;
- analytics snapshots stay fresh for a day (`ANALYTICS_MAX_AGE_SECONDS`), so seeded ones answer;
- small upload limits (`RESULT_FILE_MAX_BYTES` 256 KiB, `RESULT_FILES_MAX_PER_REQUEST` 3), so
  the oversize and too-many-files attacks need little data;
- its own `STORAGE_DIR` under a fresh temporary directory, so "nothing written outside
  STORAGE_DIR" can be checked on the whole tree around it;
- no way out to the internet: HTTPS goes to a dead local proxy (the Paystack sandbox and the
  other local services are plain HTTP on 127.0.0.1, excluded by `NO_PROXY`). Whatever the edge
  would fetch from the internet fails the same way on an offline and an online machine.
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import KEPT_TABLES, TEST_ENV, edge_process, fixed_row_files
from tests.harness.processes import Process
from tests.harness.smtp import Mailbox
from tests.sandbox.conftest_paystack import sandbox_server
from tests.sandbox.paystack import PaystackSandbox

#: Per-file limit of the security edge (bytes) and the text its 413 message prints.
MAX_FILE_BYTES = 256 * 1024
MAX_FILE_TEXT = "0.25MB"
#: Files one multipart upload may carry on the security edge.
MAX_FILES = 3
#: Sent with every request: job-backed endpoints answer 202 at once instead of waiting.
NO_WAIT = {"Prefer": "wait=0"}

SECURITY_ENV = {
    "MATCHING_TRIGGER_WAIT_SECONDS": "0",
    "ANALYTICS_WAIT_SECONDS": "0",
    "ANALYTICS_MAX_AGE_SECONDS": "86400",
    "RESULT_FILE_MAX_BYTES": str(MAX_FILE_BYTES),
    "RESULT_FILES_MAX_PER_REQUEST": str(MAX_FILES),
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


@pytest.fixture(scope="session")
def security_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh directory holding only the security edge's `storage/`."""
    return tmp_path_factory.mktemp("security")


@pytest.fixture(scope="session")
def security_storage(security_root: Path) -> Path:
    storage = security_root / "storage"
    storage.mkdir()
    return storage


@pytest.fixture(scope="session")
def paystack_sandbox() -> PaystackSandbox:
    """The Paystack sandbox on `PAYSTACK_BASE_URL` (one per test process)."""
    return sandbox_server()


@pytest.fixture(scope="session")
def security_edge(
    database_url: str,
    rabbitmq_url: str,
    smtp: Mailbox,
    security_storage: Path,
    paystack_sandbox: PaystackSandbox,
) -> Iterator[Process]:
    process = edge_process(database_url, STORAGE_DIR=str(security_storage), **SECURITY_ENV)
    process.start()
    try:
        process.wait_http(f"{process.url}/api/v1/healthz", timeout=60)
        yield process
    finally:
        process.stop()


def cookieless_jar() -> http.cookiejar.CookieJar:
    """A jar that refuses every cookie: a login answer's refresh cookie must not turn the next
    "anonymous" request into an authenticated one."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


@pytest.fixture(scope="session")
async def sclient(security_edge: Process) -> AsyncIterator[httpx.AsyncClient]:
    """An `httpx.AsyncClient` for the security edge; it never stores cookies."""
    async with httpx.AsyncClient(
        base_url=security_edge.url, timeout=30.0, cookies=cookieless_jar(), headers=NO_WAIT
    ) as http_client:
        yield http_client


@pytest.fixture(scope="session")
def cron_key() -> str:
    return TEST_ENV["CRON_API_KEY"]


async def reset_database(database_url: str) -> None:
    """What the `db` fixture does, once: every app table truncated, the fixed rows back."""
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
    finally:
        await connection.close()
