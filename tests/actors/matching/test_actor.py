"""The matching actor end to end on the real schema: one run, reruns, the lock, failures."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from actors.errors import InvalidMessageError
from actors.matching import actor, store
from actors.matching.inputs import GENERAL_POOL_ID
from actors.middleware import jobs
from monitoring.metrics import MATCHING_RUN_DURATION
from tests.actors.matching.test_store import (
    allocations,
    available,
    fixture_f,
    money_total,
    statuses,
)


@pytest.fixture
async def connect(database_url: str) -> AsyncIterator[Any]:
    """Opens extra connections to the test database, closed at the end."""
    opened: list[asyncpg.Connection] = []

    async def open_one() -> asyncpg.Connection:
        connection = await asyncpg.connect(database_url)
        opened.append(connection)
        return connection

    yield open_one
    for connection in opened:
        await connection.close()


def observed(trigger: str, attempt: str, outcome: str) -> float:
    for metric in MATCHING_RUN_DURATION.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels == {
                "trigger": trigger,
                "attempt": attempt,
                "outcome": outcome,
            }:
                return sample.value
    return 0.0


async def example_1(db: asyncpg.Connection) -> None:
    """§14 example 1: W1 (STA, 08-01), C1 10000 [STA]."""
    seed = await fixture_f(db)
    await seed.campaign("C1", 10000, ["STA"])
    await seed.entry("W1", "U1", "STA", "08-01")


async def test_the_actor_runs_expiry_matching_and_writes_every_row(
    db: asyncpg.Connection,
) -> None:
    await example_1(db)
    job_id = str(uuid.uuid4())
    before = observed("admin", "first", "succeeded")
    token = jobs._current.set(jobs.JobContext(job_id, "run_matching", 1, {}))
    try:
        result = await actor.run_matching(trigger_source="admin", admin_id="admin-1")
    finally:
        jobs._current.reset(token)

    assert result["success"] is True
    assert result["status"] == "COMPLETED"
    assert result["executionReference"].startswith("EXEC_")
    metrics = result["metrics"]
    assert (metrics["successfulMatches"], metrics["totalFundsAllocated"]) == (1, 10000.0)
    assert (metrics["notificationsSent"], metrics["emailJobs"]) == (2, 1)
    assert (metrics["expiredAllocations"], metrics["fundsReturnedFromExpiry"]) == (0, 0.0)
    assert observed("admin", "first", "succeeded") == before + 1

    execution = await db.fetchrow("SELECT * FROM matching_executions")
    assert execution["id"] == result["executionId"]
    assert execution["status"] == "COMPLETED"
    batch = json.loads(execution["batchConfig"])
    assert batch["trigger"] == {"source": "admin", "adminId": "admin-1", "jobId": job_id}
    assert batch["patientsPerScreeningType"] == 50
    assert (execution["screeningTypesProcessed"], execution["patientsEvaluated"]) == (1, 1)
    assert execution["notificationsSent"] == 2
    assert await allocations(db) == {"W1": ("C1", 10000.0)}
    assert await available(db, "C1") == 0.0
    messages = [
        row["message"] for row in await db.fetch("SELECT message FROM matching_execution_logs")
    ]
    assert "Processing patient U1" in messages
    assert "Successfully matched patient U1" in messages
    assert "Expiry phase: 0 allocations expired, ₦0.00 returned" in messages
    result_row = await db.fetchrow("SELECT * FROM matching_screening_type_results")
    assert (result_row["screeningTypeId"], result_row["matchesCreated"]) == ("STA", 1)
    assert result_row["targetingMismatches"] == 1
    notes = {
        row["type"]: row["userId"]
        for row in await db.fetch(
            'SELECT n.type, r."userId" FROM "Notification" n '
            'JOIN "NotificationRecipient" r ON r."notificationId" = n.id'
        )
    }
    assert notes == {"MATCHED": "U1", "PATIENT_MATCHED": "donor-C1"}
    [email] = await db.fetch("SELECT args FROM jobs WHERE actor_name = 'send_email'")
    assert json.loads(email["args"])["to"] == "u1@example.com"
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1


async def test_a_repeated_message_does_nothing(db: asyncpg.Connection, connect: Any) -> None:
    await example_1(db)
    conn = await connect()
    job_id = str(uuid.uuid4())
    first = await actor.run(conn, trigger_source="schedule", job_id=job_id, environ={})
    await db.execute('UPDATE "DonationCampaign" SET "availableAmount" = 50000 WHERE id = $1', "C1")
    await db.execute(
        'INSERT INTO "Waitlist" (id, "screeningTypeId", "patientId", status, "joinedAt") '
        "VALUES ('W3', 'STA', 'U3', 'PENDING', '2025-08-02T09:00:00')"
    )

    again = await actor.run(conn, trigger_source="schedule", job_id=job_id, environ={})

    assert again.replayed is True
    assert again.result["executionId"] == first.result["executionId"]
    assert again.result["metrics"]["successfulMatches"] == 1
    assert await db.fetchval("SELECT count(*) FROM matching_executions") == 1
    assert await statuses(db) == {"W1": "MATCHED", "W3": "PENDING"}
    # another message (a new job id) does run
    other = await actor.run(conn, trigger_source="schedule", job_id=str(uuid.uuid4()), environ={})
    assert other.replayed is False
    assert other.result["metrics"]["successfulMatches"] == 1
    assert await statuses(db) == {"W1": "MATCHED", "W3": "MATCHED"}


async def test_a_run_finding_the_lock_taken_goes_back_to_the_queue(
    db: asyncpg.Connection, connect: Any
) -> None:
    await example_1(db)
    holder, conn = await connect(), await connect()
    assert await store.try_lock(holder)

    with pytest.raises(actor.MatchingBusyError) as busy:
        await actor.run(conn, trigger_source="cron", job_id=str(uuid.uuid4()), environ={})

    assert busy.value.delay == actor.BUSY_DELAY_MS
    assert await db.fetchval("SELECT count(*) FROM matching_executions") == 0
    await store.unlock(holder)
    done = await actor.run(conn, trigger_source="cron", environ={})
    assert done.result["metrics"]["successfulMatches"] == 1


async def test_two_simultaneous_triggers_allocate_once(
    db: asyncpg.Connection, connect: Any
) -> None:
    """§14's concurrency test: two triggers at once over example 1's data."""
    await example_1(db)
    before = await money_total(db)
    first, second = await connect(), await connect()

    outcomes = await asyncio.gather(
        actor.run(first, trigger_source="cron", job_id=str(uuid.uuid4()), environ={}),
        actor.run(second, trigger_source="admin", job_id=str(uuid.uuid4()), environ={}),
        return_exceptions=True,
    )

    ran = [o for o in outcomes if isinstance(o, actor.RunOutcome)]
    busy = [o for o in outcomes if isinstance(o, actor.MatchingBusyError)]
    assert len(ran) + len(busy) == 2, outcomes
    assert ran, outcomes
    assert sum(o.result["metrics"]["successfulMatches"] for o in ran) == 1
    assert await allocations(db) == {"W1": ("C1", 10000.0)}
    assert await available(db, "C1") == 0.0
    assert await money_total(db) == before
    assert (
        await db.fetchval('SELECT count(*) FROM matching_executions WHERE "successfulMatches" = 1')
        == 1
    )
    assert await db.fetchval("""SELECT count(*) FROM "Notification" WHERE type = 'MATCHED'""") == 1
    assert (
        await db.fetchval("SELECT count(*) FROM matching_executions WHERE status = 'RUNNING'") == 0
    )


async def test_configuration_request_over_stored_over_environment(
    db: asyncpg.Connection, connect: Any
) -> None:
    seed = await fixture_f(db)
    await seed.campaign("CA", 100000, ["STA"])
    for n, joined in ((1, "08-01"), (3, "08-02"), (4, "08-03")):
        await seed.entry(f"W{n}", f"U{n}", "STA", joined)
    await db.execute(
        "INSERT INTO matching_config_overrides (id, overrides) VALUES (1, $1::jsonb)",
        json.dumps({"patientsPerScreeningType": 2, "allocationExpiryDays": 10}),
    )
    conn = await connect()
    environ = {"WAITLIST_BATCH_SIZE": "3", "WAITLIST_EXPIRY_DAYS": "20", "WAITLIST_MAX_TOTAL": "7"}

    outcome = await actor.run(
        conn, trigger_source="admin", overrides={"patientsPerScreeningType": 1}, environ=environ
    )

    assert outcome.result["metrics"]["successfulMatches"] == 1
    batch = json.loads(await db.fetchval('SELECT "batchConfig" FROM matching_executions'))
    assert batch["patientsPerScreeningType"] == 1  # request
    assert batch["allocationExpiryDays"] == 10  # stored
    assert batch["maxTotalPatients"] == 7  # environment
    assert batch["enableGeographicTargeting"] is True  # default


async def test_bad_overrides_fail_the_job_permanently(db: asyncpg.Connection, connect: Any) -> None:
    await example_1(db)
    with pytest.raises(InvalidMessageError, match="patientsPerScreeningType"):
        await actor.run(
            await connect(), trigger_source="admin", overrides={"patientsPerScreeningType": 0}
        )
    assert await db.fetchval("SELECT count(*) FROM matching_executions") == 0


async def test_a_fatal_error_marks_the_execution_failed_and_a_retry_runs_again(
    db: asyncpg.Connection, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await example_1(db)
    conn = await connect()
    job_id = str(uuid.uuid4())
    real_load = store.load_inputs

    async def broken(db_: store.Db) -> Any:
        raise RuntimeError("the load query failed")

    monkeypatch.setattr(store, "load_inputs", broken)
    with pytest.raises(RuntimeError):
        await actor.run(conn, trigger_source="event", job_id=job_id, environ={})
    row = await db.fetchrow("SELECT status::text, errors FROM matching_executions")
    assert row["status"] == "FAILED"
    assert json.loads(row["errors"])[0]["message"] == "the load query failed"
    assert await statuses(db) == {"W1": "PENDING"}

    # The retry (same job id) is not a no-op: the failed execution completed nothing.
    monkeypatch.setattr(store, "load_inputs", real_load)
    retried = await actor.run(conn, trigger_source="event", job_id=job_id, environ={})
    assert retried.replayed is False
    assert retried.result["metrics"]["successfulMatches"] == 1
    assert await db.fetchval("SELECT count(*) FROM matching_executions") == 2
    assert await available(db, GENERAL_POOL_ID) == 0.0


async def test_a_conflicting_save_is_replayed_one_match_at_a_time(
    db: asyncpg.Connection, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent change between load and save: nothing of the bulk save stays, the run
    decides again on a fresh snapshot, one transaction per match."""
    seed = await fixture_f(db)
    await seed.campaign("C1", 20000, ["STA"])
    await seed.entry("W1", "U1", "STA", "08-01")
    await seed.entry("W3", "U3", "STA", "08-02")
    real_save = store.save_decisions

    async def drained_meanwhile(*args: Any, **kwargs: Any) -> Any:
        await db.execute(
            'UPDATE "DonationCampaign" SET "availableAmount" = 10000 WHERE id = $1', "C1"
        )
        return await real_save(*args, **kwargs)

    monkeypatch.setattr(store, "save_decisions", drained_meanwhile)
    before = await money_total(db)

    outcome = await actor.run(await connect(), trigger_source="event", environ={})

    assert outcome.result["savePath"] == "planned"
    assert outcome.result["metrics"]["successfulMatches"] == 1
    assert outcome.result["metrics"]["skippedDueToNoFunding"] == 1
    assert await allocations(db) == {"W1": ("C1", 10000.0)}
    assert await available(db, "C1") == 0.0
    assert await money_total(db) == before - 10000  # only what the concurrent change took
    assert await db.fetchval("""SELECT count(*) FROM "Notification" WHERE type = 'MATCHED'""") == 1
