"""PostgreSQL unreachable for the edge and the worker, then back: real edge (relay in-process),
worker, PostgreSQL (through a TCP proxy we pause), RabbitMQ and SMTP.

While the database is away, readiness says so (503) and CRUD requests answer a 503 envelope at
once (no hang, the edge stays up); once it is back, readiness, CRUD reads and the worker's
heartbeat recover (the pools reconnect), and a job accepted just before the outage runs once.

`TcpProxy.pause()` refuses new connections and cuts the open ones (pooled connections, the
edge's LISTEN connection, the worker's pool), which is the outage played here.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from tests.e2e.stack import Stack, admin_headers, wait_until, workers_are
from tests.harness.processes import Process
from tests.harness.smtp import Mailbox
from tests.harness.tcp_proxy import TcpProxy

#: Real processes on 2 busy CI cores: more than the suite's default 120 s per test.
pytestmark = pytest.mark.timeout(300)

#: Generous deadlines for conditions (CI has 2 cores under load); nothing waits a fixed time.
DEADLINE = 60.0
#: Bound of each request under load: an answer slower than this counts as a hang.
REQUEST_TIMEOUT = 10.0
PG_PORT = 5432


@dataclass
class Answer:
    """One request of the background load: its phase, path, and status or exception name."""

    phase: str
    path: str
    status: int | None
    ok: bool | None = None
    error: str | None = None


@dataclass
class ReadLoad:
    """CRUD reads in a loop (a list read and a by-id read) from an async task, each bounded by
    `REQUEST_TIMEOUT`; every answer is kept with the phase it was sent in."""

    http: httpx.AsyncClient
    paths: tuple[str, ...]
    phase: str = "before"
    answers: list[Answer] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            for path in self.paths:
                phase = self.phase
                try:
                    response = await self.http.get(
                        path, headers=admin_headers(), timeout=REQUEST_TIMEOUT
                    )
                except httpx.HTTPError as error:
                    self.answers.append(Answer(phase, path, None, error=type(error).__name__))
                else:
                    body = response.json() if response.content else {}
                    self.answers.append(Answer(phase, path, response.status_code, body.get("ok")))
                await asyncio.sleep(0.05)

    def seen(self, phase: str, path: str, statuses: range) -> bool:
        return any(
            a.phase == phase and a.path == path and a.status in statuses for a in self.answers
        )

    def saw(self, phase: str, path: str, statuses: range) -> Callable[[], Awaitable[bool]]:
        """A `wait_until` predicate: `seen(phase, path, statuses)`."""

        async def check() -> bool:
            return self.seen(phase, path, statuses)

        return check

    def errors(self) -> list[Answer]:
        """Requests that got no HTTP answer at all (a timeout, a refused or reset connection)."""
        return [a for a in self.answers if a.status is None]


@contextlib.asynccontextmanager
async def running(load: ReadLoad) -> AsyncIterator[ReadLoad]:
    task = asyncio.create_task(load.run(), name="read-load")
    try:
        yield load
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def readyz(http: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    response = await http.get("/api/v1/readyz", timeout=REQUEST_TIMEOUT)
    return response.status_code, response.json()


def alive(*processes: Process) -> None:
    for process in processes:
        assert process.running(), f"{process.name} exited:\n{process.output()[-4000:]}"


async def test_the_edge_and_worker_ride_out_a_database_outage_and_run_the_pending_job_once(
    stack: Stack, mailbox: Mailbox
) -> None:
    with TcpProxy(PG_PORT) as db_proxy:
        through_proxy = db_proxy.url("postgresql", "/" + stack.name).replace(
            "postgresql://", "postgresql://" + _credentials(stack.database_url)
        )
        # Given RabbitMQ unreachable for the relay (so the job waits in the outbox, whatever
        # the timing), and an edge and a worker reaching PostgreSQL through the proxy
        stack.proxy.pause()
        edge = stack.start_edge(DATABASE_URL=through_proxy)
        worker = stack.start_worker(DATABASE_URL=through_proxy)
        await stack.wait_for_worker(seconds=DEADLINE)
        address = f"db-outage-{uuid.uuid4().hex[:8]}@example.com"

        async with stack.client(edge) as http:
            await wait_until(
                workers_are(http, "ok"),
                seconds=DEADLINE,
                what="the edge to see the worker\n" + stack.logs(),
            )
            # A job accepted just before the outage (202 at once: Prefer wait=0)
            response = await http.post(
                "/api/v1/jobs/email-check",
                json={"to": address},
                headers={**admin_headers(), "Prefer": "wait=0"},
            )
            assert response.status_code == 202, response.text
            job_id = response.json()["data"]["jobId"]
            by_id = f"/api/v1/jobs/{job_id}"
            load = ReadLoad(http, ("/api/v1/center", by_id))

            async with running(load):
                await wait_until(
                    load.saw("before", by_id, range(200, 201)),
                    seconds=DEADLINE,
                    what="CRUD reads to answer before the outage\n" + stack.logs(),
                )
                assert load.seen("before", "/api/v1/center", range(200, 201)), load.answers

                # When PostgreSQL becomes unreachable (new connections refused, open ones cut)
                load.phase = "outage"
                db_proxy.pause()
                assert db_proxy.paused

                # Then readiness reports the database fault
                async def not_ready() -> bool:
                    status, body = await readyz(http)
                    data = body.get("data")
                    return (
                        status == 503
                        and body.get("ok") is False
                        and isinstance(data, dict)
                        and data["checks"]["database"] == "unavailable"
                    )

                await wait_until(not_ready, seconds=DEADLINE, what="readyz 503\n" + stack.logs())
                # and CRUD reads answer 503 (retry later) in the error envelope, without a hang
                for path in load.paths:
                    await wait_until(
                        load.saw("outage", path, range(503, 504)),
                        seconds=DEADLINE,
                        what=f"a 503 answer to {path} during the outage\n{stack.logs()}",
                    )
                outage = [a for a in load.answers if a.phase == "outage" and a.status]
                assert all(
                    a.ok is False for a in outage if a.status is not None and a.status >= 500
                ), outage
                alive(edge, worker)
                # Nothing ran meanwhile: the job still waits in the outbox
                assert len(mailbox.to(address)) == 0
                row = await stack.job(job_id)
                assert row is not None
                assert (row["status"], row["attempts"]) == ("queued", 0)

                # RabbitMQ reachable again while the database is still away: nothing can be
                # published (the outbox cannot be read) until the database is back.
                stack.proxy.resume()

                # When PostgreSQL is reachable again
                load.phase = "after"
                db_proxy.resume()

                # Then readiness and CRUD reads recover (the pool reconnects)
                async def ready() -> bool:
                    status, body = await readyz(http)
                    return status == 200 and body.get("ok") is True

                await wait_until(ready, seconds=DEADLINE, what="readyz 200\n" + stack.logs())
                for path in load.paths:
                    await wait_until(
                        load.saw("after", path, range(200, 201)),
                        seconds=DEADLINE,
                        what=f"a 200 answer to {path} after the outage\n{stack.logs()}",
                    )

                # and the worker's heartbeat is back (its pool reconnects too)
                async def worker_beats() -> bool:
                    status, body = await readyz(http)  # a 503 has no `jobs` part: not yet
                    data = body.get("data")
                    jobs = data.get("jobs") if isinstance(data, dict) else None
                    return (
                        status == 200
                        and isinstance(jobs, dict)
                        and jobs.get("workers", {}).get("status") == "ok"
                    )

                await wait_until(
                    worker_beats,
                    seconds=DEADLINE,
                    what="the worker's heartbeat after the outage\n" + stack.logs(),
                )

                # And the job accepted before the outage runs, exactly once
                job = await stack.wait_for_job(job_id, ["succeeded"], seconds=DEADLINE)
                assert job["attempts"] == 1
                assert job["result"]["sent"] is True
                [message] = await asyncio.to_thread(mailbox.wait_for, address, 1, DEADLINE)
                assert message["Subject"] == "ZeroCancer - ZeroCancer job pipeline check"
                status = await http.get(by_id, headers=admin_headers())
                assert status.status_code == 200
                assert status.json()["data"]["status"] == "succeeded"

                async def outbox_drained() -> bool:
                    async with stack.connection() as connection:
                        unsent = await connection.fetchval(
                            "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
                        )
                    return bool(unsent == 0)

                await wait_until(outbox_drained, seconds=DEADLINE, what="an empty outbox")

            # No request of the load went unanswered (no hang, no dropped connection)
            assert load.errors() == [], load.errors()
            alive(edge, worker)
        assert len(mailbox.to(address)) == 1


def _credentials(url: str) -> str:
    """The `user[:password]@` part of a PostgreSQL URL ('' when it has none)."""
    rest = url.split("://", 1)[1]
    authority = rest.split("/", 1)[0]
    return authority.rsplit("@", 1)[0] + "@" if "@" in authority else ""
