"""GET /api/v1/admin/system/health: the matching health metrics of analytics.md §8 and the
runtime's parts (database, outbox, jobs, workers), which are reported, never raised."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import httpx
import pytest
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from edge.services.admin_overview import system_health
from models.base import utc_now
from models.enums import AllocationStatus, MatchingExecutionStatus
from models.jobs import Job, JobStatus
from models.matching import MatchingExecution
from models.waitlists import DonationAllocation
from tests.edge.factories_appointments import (
    assert_error,
    make_campaign,
    make_entry,
    make_execution,
)
from tests.factories import (
    bearer,
    make_admin,
    make_donor,
    make_patient,
    make_screening_type,
)

pytestmark = pytest.mark.usefixtures("db")

URL = "/api/v1/admin/system/health"

#: Every column of matching_executions (§8: `lastExecution` is the full row).
EXECUTION_COLUMNS = {
    "id",
    "executionReference",
    "startedAt",
    "completedAt",
    "status",
    "screeningTypesProcessed",
    "patientsEvaluated",
    "successfulMatches",
    "skippedDueToLimits",
    "skippedDueToNoFunding",
    "skippedDueToExistingMatch",
    "totalFundsAllocated",
    "generalPoolFundsUsed",
    "campaignsUsedCount",
    "processingTimeMs",
    "dbQueriesCount",
    "notificationsSent",
    "errors",
    "warnings",
    "batchConfig",
}

Status = MatchingExecutionStatus


async def health(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(URL, headers=bearer(await make_admin()))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    data: dict[str, Any] = body["data"]
    return data


async def execution(
    status: MatchingExecutionStatus, hours_ago: float, processing_ms: int | None = None
) -> MatchingExecution:
    made = await make_execution(status=status, started_at=utc_now() - dt.timedelta(hours=hours_ago))
    if processing_ms is not None:
        made.processing_time_ms = processing_ms
        await made.save()
    return made


async def test_a_quiet_system_is_healthy(client: httpx.AsyncClient) -> None:
    data = await health(client)

    assert data["status"] == "healthy"
    assert data["metrics"] == {
        "totalExecutions": 0,
        "successfulExecutions": 0,
        "failedExecutions": 0,
        "successRate": 0,
        "averageProcessingTimeMs": 0,
        "pendingWaitlistCount": 0,
        "recentAllocations": 0,
    }
    assert data["lastExecution"] is None
    components = data["components"]
    assert set(components) == {
        "database",
        "matching",
        "outbox",
        "jobs",
        "workers",
        "circuitBreakers",
    }
    assert components["database"]["status"] == "up"
    assert components["matching"] == {"status": "up"}
    outbox = components["outbox"]
    assert (outbox["pending"], outbox["due"], outbox["oldestDueAgeSeconds"]) == (0, 0, None)
    assert outbox["relay"] == "in-process"
    assert components["jobs"] == {
        "status": "up",
        "queued": 0,
        "running": 0,
        "failed": 0,
        "dead": 0,
        "deadLast24h": 0,
    }
    workers = components["workers"]
    assert workers["status"] == "down"
    assert (workers["fresh"], workers["total"], workers["lastHeartbeatAt"]) == (0, 0, None)
    assert isinstance(data["checkedAt"], str)


async def test_metrics_cover_the_executions_of_the_last_24_hours(
    client: httpx.AsyncClient,
) -> None:
    old = await execution(Status.FAILED, hours_ago=25, processing_ms=999)
    first = await execution(Status.COMPLETED, hours_ago=5, processing_ms=100)
    await execution(Status.COMPLETED, hours_ago=4, processing_ms=201)
    await execution(Status.FAILED, hours_ago=3)
    await execution(Status.COMPLETED, hours_ago=2)
    newest = await execution(Status.RUNNING, hours_ago=1)
    screening = await make_screening_type()
    campaign = await make_campaign()
    for runs in (first, first, old, None):
        patient = await make_patient()
        entry = await make_entry(patient, screening, status=AllocationStatus.MATCHED)
        await DonationAllocation.create(
            waitlist_id=entry.id,
            patient_id=patient.id,
            campaign_id=campaign.id,
            amount_allocated=None,
            matching_execution_id=runs.id if runs else None,
        )
    for _ in range(2):
        await make_entry(await make_patient(), screening)

    data = await health(client)

    assert data["metrics"] == {
        "totalExecutions": 5,
        "successfulExecutions": 3,
        "failedExecutions": 1,
        "successRate": 60.0,
        # Mean over the runs that have a time (D-AN-10), rounded half up: (100 + 201) / 2.
        "averageProcessingTimeMs": 151,
        "pendingWaitlistCount": 2,
        # Allocations of runs started in the window; the old run's and the manual one's are not.
        "recentAllocations": 2,
    }
    assert data["status"] == "warning"  # 1 failure < 5 / 2
    last = data["lastExecution"]
    assert set(last) == EXECUTION_COLUMNS
    assert (last["id"], last["status"], last["completedAt"]) == (newest.id, "RUNNING", None)
    assert last["executionReference"] == newest.execution_reference


async def test_only_the_ten_newest_count_and_half_failed_is_critical(
    client: httpx.AsyncClient,
) -> None:
    for hours in (23, 22):  # beyond the ten newest: not counted
        await execution(Status.FAILED, hours_ago=hours)
    for hours in range(10, 0, -1):
        await execution(Status.FAILED if hours % 2 else Status.COMPLETED, hours_ago=hours)

    data = await health(client)

    metrics = data["metrics"]
    assert (metrics["totalExecutions"], metrics["failedExecutions"]) == (10, 5)
    assert (metrics["successfulExecutions"], metrics["successRate"]) == (5, 50.0)
    assert data["status"] == "critical"  # 5 failures is not under 10 / 2


@pytest.fixture
async def lock_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def test_outbox_jobs_and_workers_are_reported(
    client: httpx.AsyncClient, db: asyncpg.Connection, lock_connection: asyncpg.Connection
) -> None:
    for status, finished_days_ago in (
        (JobStatus.QUEUED, None),
        (JobStatus.FAILED, None),
        (JobStatus.DEAD, 0),
        (JobStatus.DEAD, 3),
        (JobStatus.SUCCEEDED, 0),
    ):
        finished = (
            None
            if finished_days_ago is None
            else dt.datetime.now(dt.UTC) - dt.timedelta(days=finished_days_ago)
        )
        await Job.create(
            actor_name="send_email", queue_name="email", status=status, finished_at=finished
        )
    job = await Job.create(actor_name="send_email", queue_name="email")
    insert = (
        "INSERT INTO outbox (job_id, queue_name, message, available_at) "
        "VALUES ($1, 'email', '{}'::jsonb, now() + interval '1 hour') RETURNING id"
    )
    later = await db.fetchval(insert, job.id)
    due = await db.fetchval(insert, job.id)
    # The edge's relay would publish a due row at once. A KEY SHARE lock keeps it away (the
    # relay claims with FOR UPDATE SKIP LOCKED) while still letting the row become due.
    transaction = lock_connection.transaction()
    await transaction.start()
    try:
        await lock_connection.execute("SELECT 1 FROM outbox WHERE id = $1 FOR KEY SHARE", due)
        await db.execute(
            "UPDATE outbox SET available_at = now() - interval '2 minutes' WHERE id = $1", due
        )
        heartbeat = (
            "INSERT INTO worker_heartbeats (id, worker_name, pid, queues, started_at, beat_at) "
            "VALUES ($1, $1, 1, $2::text[], now(), now() - make_interval(secs => $3))"
        )
        await db.execute(heartbeat, "email-worker", ["email"], 0.0)
        await db.execute(heartbeat, "gone-worker", [], 3600.0)

        partly = await health(client)

        await db.execute(heartbeat, "any-worker", [], 0.0)
        served = await health(client)
        await lock_connection.execute("DELETE FROM outbox WHERE id = ANY($1)", [due, later])
    finally:
        await transaction.commit()

    components = partly["components"]
    outbox = components["outbox"]
    assert (outbox["pending"], outbox["due"]) == (2, 1)
    assert outbox["oldestDueAgeSeconds"] >= 119
    assert outbox["status"] == "degraded"  # the oldest due row waits for over a minute
    assert components["jobs"] == {
        "status": "degraded",  # a job died within the last 24 hours
        "queued": 2,
        "running": 0,
        "failed": 1,
        "dead": 2,
        "deadLast24h": 1,
    }
    workers = components["workers"]
    assert (workers["status"], workers["fresh"], workers["total"]) == ("degraded", 1, 2)
    assert workers["matchingQueueServed"] is False
    assert workers["lastHeartbeatAt"] is not None
    assert workers["lastHeartbeatAgeSeconds"] < workers["staleAfterSeconds"]
    served_workers = served["components"]["workers"]
    assert (served_workers["status"], served_workers["fresh"]) == ("up", 2)
    assert served_workers["matchingQueueServed"] is True
    assert partly["status"] == "healthy"  # the contract's status is about matching runs only


# -- parts that are down: reported, never raised (the service, in this process) ---------------


class BrokenDatabase:
    """A connection whose every statement fails as an unreachable server would."""

    async def execute_query_dict(self, query: str, values: Any = None) -> Any:
        raise ConnectionRefusedError("connection refused")

    def __getattr__(self, name: str) -> Any:
        raise ConnectionRefusedError("connection refused")


class HangingDatabase:
    """A connection whose statements never finish."""

    async def execute_query_dict(self, query: str, values: Any = None) -> Any:
        await asyncio.Event().wait()


class NoHeartbeatTable:
    """The real connection, except that `worker_heartbeats` cannot be read."""

    def __init__(self, real: BaseDBAsyncClient) -> None:
        self._real = real

    async def execute_query_dict(self, query: str, values: Any = None) -> Any:
        if "worker_heartbeats" in query:
            raise asyncpg.UndefinedTableError('relation "worker_heartbeats" does not exist')
        return await self._real.execute_query_dict(query, values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def as_client(fake: object) -> BaseDBAsyncClient:
    return cast(BaseDBAsyncClient, fake)


async def test_an_unreachable_database_is_reported_down() -> None:
    report = await system_health(stale_seconds=30, conn=as_client(BrokenDatabase()))

    assert report["status"] == "critical"
    assert report["metrics"] == {
        "totalExecutions": None,
        "successfulExecutions": None,
        "failedExecutions": None,
        "successRate": None,
        "averageProcessingTimeMs": None,
        "pendingWaitlistCount": None,
        "recentAllocations": None,
    }
    assert report["lastExecution"] is None
    components = report["components"]
    assert components["database"] == {"status": "down", "error": "ConnectionRefusedError"}
    for part in ("matching", "outbox", "jobs", "workers"):
        assert components[part] == {"status": "unknown", "error": "DatabaseDown"}


async def test_a_database_that_does_not_answer_is_reported_down_by_the_deadline() -> None:
    report = await system_health(
        stale_seconds=30, conn=as_client(HangingDatabase()), budget_seconds=0.2
    )

    assert report["components"]["database"] == {"status": "down", "error": "Timeout"}
    assert report["status"] == "critical"


async def test_one_failing_part_leaves_the_others_answered() -> None:
    await make_execution(status=Status.COMPLETED)
    real = connections.get("default")

    report = await system_health(stale_seconds=30, conn=as_client(NoHeartbeatTable(real)))

    components = report["components"]
    assert components["workers"] == {"status": "unknown", "error": "UndefinedTableError"}
    assert components["database"]["status"] == "up"
    assert components["outbox"]["status"] == "up"
    assert report["status"] == "healthy"
    assert report["metrics"]["totalExecutions"] == 1
    assert report["lastExecution"]["status"] == "COMPLETED"


# -- access ---------------------------------------------------------------------------------


async def test_only_admins_may_read_system_health(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(URL), 401, "Unauthorized")
    for account in (await make_patient(), await make_donor()):
        refused = await client.get(URL, headers=bearer(account))
        assert refused.status_code == 403, refused.text
        assert refused.json() == {
            "ok": False,
            "message": "Forbidden: actor mismatch",
            "error": "Forbidden: actor mismatch",
        }
