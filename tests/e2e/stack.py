"""The real processes of an end-to-end test, on a database and a RabbitMQ vhost of their own.

    async with Stack.create("e2e") as stack:
        edge = stack.start_edge()                  # python -m edge, relay in-process
        worker = stack.start_worker()              # python -m zerocancer worker --processes 1
        await stack.wait_for_worker()              # its heartbeat row is there
        async with stack.client() as http: ...

Scratch database and vhost: processes started by other tests (the session edge and its relay
among them) never take these rows or messages, and leftovers of one test never reach the next.
Processes are started in a session of their own, so killing one kills its children too (the
Dramatiq launcher and its worker processes), as a crashed machine would. Rows are read with
asyncpg; nothing here needs the test's ORM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from edge.auth.guards import Principal
from tests.conftest import PG_ADMIN_URL, TEST_ENV, edge_process
from tests.factories import bearer
from tests.harness.processes import ROOT, Process
from tests.harness.tcp_proxy import TcpProxy

#: Generous: CI has 2 cores under load.
DEADLINE = 30.0
AMQP_PORT = 5672


class GroupProcess(Process):
    """A process started in its own session: `kill_group()` SIGKILLs it and its children."""

    def start(self) -> GroupProcess:
        log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill_group(self) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self, timeout: float = 20.0) -> int | None:
        code = super().stop(timeout)
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)  # leftovers of an unclean stop
        return code


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def admin_headers() -> dict[str, str]:
    """A valid admin token (the edge checks the signature, not an account row)."""
    return bearer(Principal(kind="admin", id=str(uuid.uuid4()), email="ops@example.com"))


@dataclass
class Stack:
    name: str
    database_url: str
    vhost: str
    proxy: TcpProxy
    workdir: Path
    processes: list[Process] = field(default_factory=list)

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def create(cls, prefix: str) -> AsyncIterator[Stack]:
        from models.migrate import migrate

        name = f"zc_{prefix}_{uuid.uuid4().hex[:8]}"
        database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        await asyncio.to_thread(rabbitmqctl, "add_vhost", name)
        stack: Stack | None = None
        try:
            await asyncio.to_thread(
                rabbitmqctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"
            )
            await migrate(database_url)
            workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
            stack = cls(name, database_url, name, TcpProxy(AMQP_PORT).start(), workdir)
            yield stack
        finally:
            if stack is not None:
                stack.stop_all()
                stack.proxy.stop()
                shutil.rmtree(stack.workdir, ignore_errors=True)
            await asyncio.to_thread(rabbitmqctl, "delete_vhost", name)
            admin = await asyncpg.connect(PG_ADMIN_URL)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in self.processes)

    # -- processes ---------------------------------------------------------------------------

    def broker_url(self, *, through_proxy: bool) -> str:
        port = self.proxy.port if through_proxy else AMQP_PORT
        return f"amqp://guest:guest@127.0.0.1:{port}/{self.vhost}"

    def env(self, role: str, **extra: str) -> dict[str, str]:
        metrics_dir = self.workdir / f"metrics-{role}-{uuid.uuid4().hex[:6]}"
        return {
            **TEST_ENV,
            "DATABASE_URL": self.database_url,
            "BROKER_URL": self.broker_url(through_proxy=False),
            "RATE_LIMIT_PREFIX": f"{self.name}:rl",
            "STORAGE_DIR": str(self.workdir / "storage"),
            "ZEROCANCER_METRICS_DIR": str(metrics_dir),
            "WORKER_NAME": f"{self.name}-{role}",
            **extra,
        }

    def start_edge(self, **extra: str) -> Process:
        """The edge; its in-process relay reaches RabbitMQ through the proxy."""
        env = self.env(
            "edge",
            BROKER_URL=self.broker_url(through_proxy=True),
            JOB_WORKER_STALE_SECONDS="5",
            **extra,
        )
        process = edge_process(self.database_url, **env)
        self.processes.append(process.start())
        process.wait_http(f"{process.url}/api/v1/healthz", timeout=60)
        return process

    def start_worker(self, *args: str, **extra: str) -> GroupProcess:
        """`python -m zerocancer worker --processes 1 --threads 2`, heartbeats every second."""
        argv = [sys.executable, "-m", "zerocancer", "worker", "--processes", "1"]
        argv += ["--threads", "2", *args]
        env = self.env("worker", JOB_HEARTBEAT_SECONDS="1", **extra)
        process = GroupProcess(f"worker-{len(self.processes)}", argv, env)
        self.processes.append(process.start())
        return process

    def start_relay(self, *args: str, **extra: str) -> GroupProcess:
        argv = [sys.executable, "-m", "zerocancer", "relay", *args]
        process = GroupProcess("relay", argv, self.env("relay", **extra))
        self.processes.append(process.start())
        return process

    # -- reading rows ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        connection = await asyncpg.connect(self.database_url)
        try:
            yield connection
        finally:
            await connection.close()

    async def job(self, job_id: Any) -> dict[str, Any] | None:
        async with self.connection() as connection:
            row = await connection.fetchrow("SELECT * FROM jobs WHERE id = $1::uuid", str(job_id))
        return None if row is None else _decoded(dict(row))

    async def wait_for_job(
        self, job_id: Any, statuses: Sequence[str], *, seconds: float = DEADLINE
    ) -> dict[str, Any]:
        """The job row once its status is one of `statuses` (LISTEN job_done, re-reading)."""
        async with self.connection() as connection:
            woken: asyncio.Queue[str] = asyncio.Queue()
            await connection.add_listener("job_done", lambda *args: woken.put_nowait(args[-1]))
            deadline = time.monotonic() + seconds
            while True:
                row = await connection.fetchrow(
                    "SELECT * FROM jobs WHERE id = $1::uuid", str(job_id)
                )
                if row is not None and row["status"] in statuses:
                    return _decoded(dict(row))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"job {job_id} never reached {statuses}: {row and dict(row)}\n"
                        + self.logs()
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.get(), min(remaining, 0.5))

    async def wait_for_worker(self, *, seconds: float = DEADLINE) -> None:
        """Until a worker process of this stack has written its heartbeat row."""

        async def beating() -> bool:
            async with self.connection() as connection:
                count = await connection.fetchval(
                    "SELECT count(*) FROM worker_heartbeats WHERE beat_at > now() - interval '5s'"
                )
            return bool(count)

        await wait_until(beating, seconds=seconds, what=f"a worker heartbeat\n{self.logs()}")

    # -- HTTP --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def client(self, edge: Process) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=edge.url, timeout=60.0) as http:
            yield http


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, seconds: float = DEADLINE, what: str = ""
) -> None:
    """Re-checks `predicate` (a row, an answer) until it holds; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.1)


async def readiness(http: httpx.AsyncClient) -> dict[str, Any]:
    """The job runtime part of `/readyz` (it re-reads the worker heartbeats)."""
    response = await http.get("/api/v1/readyz")
    jobs: dict[str, Any] = response.json()["data"]["jobs"]
    return jobs


def workers_are(http: httpx.AsyncClient, status: str) -> Callable[[], Awaitable[bool]]:
    """A `wait_until` predicate: the edge reports its workers `ok` or `unavailable`."""

    async def check() -> bool:
        workers: dict[str, Any] = (await readiness(http))["workers"]
        return bool(workers["status"] == status)

    return check


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("args", "progress", "result", "error"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row
