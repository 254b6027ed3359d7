"""The matching store on the real schema: load, set-based save, money, guards (matching.md §4-§10).

Rows are written with plain SQL (`Seed`) so that a test states exactly the data of a spec
example; `test_actor.py` reuses `Seed`, `money_total` and `fixture_f`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from actors.matching import store
from actors.matching.algorithm import decide
from actors.matching.config import MatchingConfig
from actors.matching.inputs import GENERAL_POOL_ID
from models.base import new_id

T0 = datetime(2025, 9, 1, 12, 0, 0)
CREATED = datetime(2025, 6, 1)
SYSTEM_USER = "general-public"


def day(month_day: str) -> datetime:
    month, dom = (int(part) for part in month_day.split("-"))
    return datetime(2025, month, dom, 9, 0, 0)


class Seed:
    """Rows of matching.md §14 fixture F, written with SQL on the test's connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def screening_type(self, type_id: str, name: str, price: float) -> None:
        await self.conn.execute(
            'INSERT INTO "ScreeningType" (id, name, "screeningTypeCategoryId", "agreedPrice") '
            "VALUES ($1, $2, 'cancer', $3)",
            type_id,
            name,
            price,
        )

    async def user(self, user_id: str) -> None:
        await self.conn.execute(
            'INSERT INTO "User" (id, "fullName", email, "passwordHash") VALUES ($1, $2, $3, $4)',
            user_id,
            f"Name {user_id}",
            f"{user_id.lower()}@example.com",
            "x",
        )

    async def patient(
        self,
        user_id: str,
        gender: str | None,
        born: date,
        state: str | None = None,
        lga: str | None = None,
    ) -> None:
        await self.user(user_id)
        await self.conn.execute(
            'INSERT INTO "PatientProfile" (id, "userId", gender, "dateOfBirth", state, city) '
            'VALUES ($1, $2, $3::"Gender", $4, $5, $6)',
            new_id(),
            user_id,
            gender,
            datetime(born.year, born.month, born.day),
            state,
            lga,
        )

    async def campaign(
        self,
        campaign_id: str,
        naira: float,
        types: Iterable[str],
        *,
        status: str = "ACTIVE",
        donor: str | None = None,
        created: datetime = CREATED,
        gender: str | None = None,
        total: float | None = None,
    ) -> str:
        donor = donor or f"donor-{campaign_id}"
        if not await self.conn.fetchval('SELECT 1 FROM "User" WHERE id = $1', donor):
            await self.user(donor)
        await self.conn.execute(
            'INSERT INTO "DonationCampaign" (id, "donorId", "totalAmount", "availableAmount", '
            'title, "targetGender", "targetStates", "targetLgas", status, "createdAt", '
            '"updatedAt") VALUES ($1, $2, $3, $4, $5, $6::"Gender", $7, $8, '
            '$9::"CampaignStatus", $10, $10)',
            campaign_id,
            donor,
            naira if total is None else total,
            naira,
            f"{campaign_id} title",
            gender,
            [],
            [],
            status,
            created,
        )
        for type_id in types:
            await self.conn.execute(
                'INSERT INTO "_DonationCampaignScreeningTypes" ("A", "B") VALUES ($1, $2)',
                campaign_id,
                type_id,
            )
        return campaign_id

    async def pool(self, naira: float) -> None:
        await self.conn.execute(
            'UPDATE "DonationCampaign" SET "availableAmount" = $1, "totalAmount" = $1 '
            "WHERE id = $2",
            naira,
            GENERAL_POOL_ID,
        )

    async def entry(
        self, entry_id: str, patient: str, type_id: str, joined: str, status: str = "PENDING"
    ) -> None:
        await self.conn.execute(
            'INSERT INTO "Waitlist" (id, "screeningTypeId", "patientId", status, "joinedAt") '
            'VALUES ($1, $2, $3, $4::"AllocationStatus", $5)',
            entry_id,
            type_id,
            patient,
            status,
            day(joined),
        )

    async def execution(
        self, execution_id: str, started: datetime, status: str = "COMPLETED"
    ) -> None:
        await self.conn.execute(
            'INSERT INTO matching_executions (id, "executionReference", "startedAt", status) '
            'VALUES ($1, $2, $3, $4::"MatchingExecutionStatus")',
            execution_id,
            f"EXEC_{execution_id}",
            started,
            status,
        )

    async def matched(
        self,
        entry_id: str,
        patient: str,
        type_id: str,
        joined: str,
        *,
        campaign: str,
        amount: float,
        execution: str | None = None,
        allocation_id: str | None = None,
    ) -> str:
        """A MATCHED entry with its unclaimed allocation (money already taken from `campaign`)."""
        await self.entry(entry_id, patient, type_id, joined, "MATCHED")
        allocation_id = allocation_id or f"A-{entry_id}"
        await self.conn.execute(
            'INSERT INTO "DonationAllocation" (id, "waitlistId", "patientId", "campaignId", '
            '"matchingExecutionId", "amountAllocated", "createdViaMatching") '
            "VALUES ($1, $2, $3, $4, $5, $6, true)",
            allocation_id,
            entry_id,
            patient,
            campaign,
            execution,
            amount,
        )
        return allocation_id


async def fixture_f(conn: asyncpg.Connection) -> Seed:
    """Screening types STA-STE and patients U1-U5 of §14 (no entries, no campaigns)."""
    seed = Seed(conn)
    for type_id, name, price in (
        ("STA", "Cervical Cancer Screening", 10000),
        ("STB", "Breast Cancer Screening", 15000),
        ("STC", "Prostate Cancer Screening", 12000),
        ("STD", "Other screening D", 10000),
        ("STE", "Other screening E", 10000),
    ):
        await seed.screening_type(type_id, name, price)
    await seed.patient("U1", "FEMALE", date(1990, 5, 10), "Lagos State", "Ikeja")
    await seed.patient("U2", "MALE", date(1970, 1, 20), "Kano State", "Nasarawa")
    await seed.patient("U3", "FEMALE", date(2001, 12, 31), "Lagos State", "Surulere")
    await seed.patient("U4", "FEMALE", date(1960, 9, 1), "Ogun State", "Abeokuta South")
    await seed.patient("U5", None, date(1985, 3, 3))
    return seed


async def money_total(conn: asyncpg.Connection) -> Decimal:
    """I2's S: every campaign's available money plus the money held by live allocations."""
    value = await conn.fetchval(
        """
        SELECT round(
            (SELECT coalesce(sum("availableAmount"::numeric), 0) FROM "DonationCampaign")
          + (SELECT coalesce(sum(a."amountAllocated"::numeric), 0)
             FROM "DonationAllocation" a JOIN "Waitlist" w ON w.id = a."waitlistId"
             WHERE w.status IN ('MATCHED', 'CLAIMED')), 2)
        """
    )
    assert isinstance(value, Decimal)
    return value


async def available(conn: asyncpg.Connection, campaign_id: str) -> float:
    value = await conn.fetchval(
        'SELECT "availableAmount" FROM "DonationCampaign" WHERE id = $1', campaign_id
    )
    return float(value)


async def statuses(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch('SELECT id, status::text FROM "Waitlist"')
    return {row["id"]: row["status"] for row in rows}


async def allocations(conn: asyncpg.Connection) -> dict[str, tuple[str, float]]:
    rows = await conn.fetch(
        'SELECT "waitlistId", "campaignId", "amountAllocated" FROM "DonationAllocation"'
    )
    return {row["waitlistId"]: (row["campaignId"], row["amountAllocated"]) for row in rows}


async def begin(conn: asyncpg.Connection, **batch: Any) -> tuple[store.Db, store.Execution]:
    db = store.Db(conn)
    config = {**MatchingConfig().batch_config(), **batch}
    execution = await store.start_execution(db, {**config, "trigger": {"source": "admin"}}, now=T0)
    return db, execution


async def decide_and_save(
    conn: asyncpg.Connection, config: MatchingConfig | None = None
) -> tuple[store.Execution, Any, store.SaveReport]:
    db, execution = await begin(conn)
    inputs = await store.load_inputs(db)
    decisions = decide(inputs, config or MatchingConfig(), execution.started_at, new_id=new_id)
    report = await store.save_decisions(db, execution, decisions, decided_at=T0)
    return execution, decisions, report


# ---------------------------------------------------------------------------------------------


async def test_load_gives_the_snapshot_of_section_5(db: asyncpg.Connection) -> None:
    seed = await fixture_f(db)
    await seed.campaign("C1", 10000, ["STA"])
    await seed.campaign("CS", 5000, ["STB"], status="SUSPENDED")
    await seed.campaign("CD", 0, ["STB"], status="DELETED")
    await seed.execution("E-old", datetime(2025, 7, 25, 12))
    await seed.matched("WX", "U3", "STB", "06-01", campaign="CD", amount=15000, execution="E-old")
    await seed.entry("W2", "U2", "STA", "08-04")
    await seed.entry("W1", "U1", "STA", "08-01")
    await seed.entry("W4", "U4", "STB", "08-01")
    await seed.entry("WC", "U1", "STC", "07-01", status="CLAIMED")

    inputs = await store.load_inputs(store.Db(db))

    assert [(e.id, e.patient_id, e.screening_type_id) for e in inputs.pending] == [
        ("W1", "U1", "STA"),
        ("W4", "U4", "STB"),
        ("W2", "U2", "STA"),
    ]
    assert {t.id: t.price_kobo for t in inputs.screening_types}["STB"] == 1_500_000
    patients = {p.id: p for p in inputs.patients}
    assert set(patients) == {"U1", "U2", "U4"}
    assert patients["U1"].lga == "Ikeja"
    assert patients["U1"].date_of_birth == date(1990, 5, 10)
    [held] = inputs.held
    assert held.id == "WX"
    assert held.allocation is not None
    assert held.allocation.amount_allocated_kobo == 1_500_000
    assert held.allocation.execution_started_at == datetime(2025, 7, 25, 12)
    campaigns = {c.id: c for c in inputs.campaigns}
    # ACTIVE ones, the pool, and the DELETED campaign a held allocation points at
    assert set(campaigns) == {"C1", "CD", GENERAL_POOL_ID}
    assert campaigns["C1"].screening_type_ids == frozenset({"STA"})
    assert campaigns[GENERAL_POOL_ID].screening_type_ids == frozenset()


async def test_save_writes_the_whole_run_and_conserves_money(db: asyncpg.Connection) -> None:
    seed = await fixture_f(db)
    await seed.campaign("CF", 10000, ["STA"], gender="FEMALE")
    await seed.campaign("CA", 50000, ["STA"])
    await seed.pool(15000)
    await seed.entry("W1", "U1", "STA", "08-01")
    await seed.entry("W2", "U2", "STA", "08-02")
    await seed.entry("W5", "U5", "STB", "08-03")
    before = await money_total(db)

    execution, decisions, report = await decide_and_save(db)

    assert await statuses(db) == {"W1": "MATCHED", "W2": "MATCHED", "W5": "MATCHED"}
    assert await allocations(db) == {
        "W1": ("CF", 10000.0),
        "W2": ("CA", 10000.0),
        "W5": (GENERAL_POOL_ID, 15000.0),
    }
    assert (await available(db, "CF"), await available(db, "CA")) == (0.0, 40000.0)
    assert await available(db, GENERAL_POOL_ID) == 0.0
    assert await money_total(db) == before
    row = await db.fetchrow("SELECT * FROM matching_executions WHERE id = $1", execution.id)
    assert row["status"] == "COMPLETED"
    assert row["successfulMatches"] == 3
    assert row["totalFundsAllocated"] == 35000.0
    assert row["generalPoolFundsUsed"] == 15000.0
    assert row["campaignsUsedCount"] == 3
    # MATCHED x3 + PATIENT_MATCHED x2 (none for the pool's system user)
    assert row["notificationsSent"] == report.notifications == 5
    assert row["completedAt"] is not None
    assert row["dbQueriesCount"] > 0
    results = {
        r["screeningTypeId"]: r
        for r in await db.fetch("SELECT * FROM matching_screening_type_results")
    }
    assert results["STA"]["matchesCreated"] == 2
    assert json.loads(results["STA"]["campaignsUsed"]) == ["CF", "CA"]
    assert results["STA"]["targetingMatches"] == 1
    assert results["STB"]["generalPoolUsed"] is True
    assert results["STB"]["generalPoolAmount"] == 15000.0
    # one allocation row per match, bookkept on the execution (I11)
    assert (
        await db.fetchval(
            'SELECT count(*) FROM "DonationAllocation" WHERE "matchingExecutionId" = $1',
            execution.id,
        )
        == 3
    )
    logs = await db.fetch(
        'SELECT level::text, message, "allocationId" FROM matching_execution_logs'
    )
    assert len(logs) == len(decisions.logs)
    assert sum(1 for r in logs if r["message"].startswith("Successfully matched")) == 3
    assert all(r["allocationId"] for r in logs if r["message"].startswith("Successfully"))
    kinds = await db.fetch(
        'SELECT n.type, r."userId", n.data FROM "Notification" n '
        'JOIN "NotificationRecipient" r ON r."notificationId" = n.id ORDER BY n.type, r."userId"'
    )
    assert [(k["type"], k["userId"]) for k in kinds] == [
        ("MATCHED", "U1"),
        ("MATCHED", "U2"),
        ("MATCHED", "U5"),
        ("PATIENT_MATCHED", "donor-CA"),
        ("PATIENT_MATCHED", "donor-CF"),
    ]
    matched_data = json.loads(kinds[0]["data"])
    assert matched_data["executionRef"] == execution.id
    assert matched_data["executionReference"] == execution.reference
    # one e-mail job per MATCHED notification, in the outbox, sent only after this commit
    jobs = await db.fetch(
        "SELECT j.actor_name, j.queue_name, j.args, o.message FROM jobs j "
        "JOIN outbox o ON o.job_id = j.id ORDER BY j.args->>'to'"
    )
    assert report.email_jobs == 3 == len(jobs)
    args = json.loads(jobs[0]["args"])
    assert (jobs[0]["actor_name"], jobs[0]["queue_name"]) == ("send_email", "email")
    assert args["to"] == "u1@example.com"
    assert args["context"]["title"] == "You have been matched to a donation campaign!"
    assert json.loads(jobs[0]["message"])["kwargs"] == args


async def test_expiry_refunds_once_and_deleted_campaign_money_goes_to_the_pool(
    db: asyncpg.Connection,
) -> None:
    seed = await fixture_f(db)
    await seed.campaign("C1", 0, ["STA"], total=10000)
    await seed.campaign("CD", 0, ["STB"], status="DELETED", total=0)
    await seed.execution("E-old", datetime(2025, 7, 25, 12))
    await seed.execution("E-new", datetime(2025, 8, 25, 12))
    await seed.matched("WX", "U3", "STA", "06-01", campaign="C1", amount=10000, execution="E-old")
    await seed.matched("WD", "U4", "STB", "06-01", campaign="CD", amount=15000, execution="E-old")
    await seed.matched("WY", "U2", "STB", "05-01", campaign="C1", amount=15000, execution="E-new")
    await seed.entry("W1", "U1", "STA", "08-01")
    before = await money_total(db)

    execution, decisions, _ = await decide_and_save(db)

    assert await statuses(db) == {
        "WX": "EXPIRED",
        "WD": "EXPIRED",
        "WY": "MATCHED",
        "W1": "MATCHED",
    }
    # WX's 10000 went back to C1 and was matched again to W1 in the same run (example 16)
    assert await allocations(db) == {
        "WX": ("C1", 10000.0),
        "WD": ("CD", 15000.0),
        "WY": ("C1", 15000.0),
        "W1": ("C1", 10000.0),
    }
    assert await available(db, "C1") == 0.0
    pool = await db.fetchrow(
        'SELECT "availableAmount", "totalAmount" FROM "DonationCampaign" WHERE id = $1',
        GENERAL_POOL_ID,
    )
    assert (pool["availableAmount"], pool["totalAmount"]) == (15000.0, 15000.0)
    assert await money_total(db) == before
    expired_at = await db.fetchval('SELECT "expiredAt" FROM "Waitlist" WHERE id = $1', "WX")
    assert expired_at is not None
    note = await db.fetchrow(
        """SELECT n.data FROM "Notification" n JOIN "NotificationRecipient" r
           ON r."notificationId" = n.id WHERE n.type = 'ALLOCATION_EXPIRED' AND r."userId" = 'U3'"""
    )
    data = json.loads(note["data"])
    assert data["amountReturned"] == 10000
    assert data["campaignTitle"] == "C1 title"
    assert data["executionRef"] == execution.id
    assert decisions.metrics.expired_allocations == 2

    # A second run at the same time changes nothing (I13): no double refund.
    again_before = await money_total(db)
    _, again, _ = await decide_and_save(db)
    assert again.metrics.expired_allocations == 0
    assert again.metrics.successful_matches == 0
    assert await money_total(db) == again_before


async def test_a_campaign_drained_concurrently_is_never_overdrawn(db: asyncpg.Connection) -> None:
    """The bulk save refuses as a whole; the per-match replay re-decides with the live amount."""
    seed = await fixture_f(db)
    await seed.campaign("C1", 20000, ["STA"])
    await seed.pool(10000)
    await seed.entry("W1", "U1", "STA", "08-01")
    await seed.entry("W3", "U3", "STA", "08-02")
    db_, execution = await begin(db)
    inputs = await store.load_inputs(db_)
    decisions = decide(inputs, MatchingConfig(), execution.started_at, new_id=new_id)
    assert [a.campaign_id for a in decisions.allocations] == ["C1", "C1"]

    # Meanwhile another request takes 15000 of C1's 20000 (e.g. an admin edit).
    await db.execute('UPDATE "DonationCampaign" SET "availableAmount" = 5000 WHERE id = $1', "C1")
    before = await money_total(db)
    with pytest.raises(store.SaveConflictError):
        await store.save_decisions(db_, execution, decisions, decided_at=T0)
    # Nothing of the run was written.
    assert await statuses(db) == {"W1": "PENDING", "W3": "PENDING"}
    assert await allocations(db) == {}
    assert await db.fetchval('SELECT count(*) FROM "Notification"') == 0
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0
    assert await available(db, "C1") == 5000.0

    # The replay with the same (stale) snapshot: C1 is refused, reloaded, W1 goes to the pool.
    replayed, report = await store.save_planned(db_, execution, inputs, MatchingConfig())
    assert report.path == "planned"
    assert "CampaignChanged" in report.conflicts
    assert await allocations(db) == {"W1": (GENERAL_POOL_ID, 10000.0)}
    assert await statuses(db) == {"W1": "MATCHED", "W3": "PENDING"}
    assert await available(db, "C1") == 5000.0
    assert await available(db, GENERAL_POOL_ID) == 0.0
    assert await money_total(db) == before
    assert await db.fetchval('SELECT min("availableAmount") FROM "DonationCampaign"') >= 0
    row = await db.fetchrow("SELECT * FROM matching_executions WHERE id = $1", execution.id)
    assert row["status"] == "COMPLETED"
    assert (row["successfulMatches"], row["skippedDueToNoFunding"]) == (1, 1)
    assert row["notificationsSent"] == 1  # MATCHED only: the pool's owner is not notified
    assert replayed.metrics.successful_matches == 1


async def test_an_entry_that_left_meanwhile_is_skipped_with_a_warning(
    db: asyncpg.Connection,
) -> None:
    seed = await fixture_f(db)
    await seed.campaign("C1", 20000, ["STA"])
    await seed.entry("W1", "U1", "STA", "08-01")
    await seed.entry("W3", "U3", "STA", "08-02")
    db_, execution = await begin(db)
    inputs = await store.load_inputs(db_)
    decisions = decide(inputs, MatchingConfig(), execution.started_at, new_id=new_id)
    await db.execute('DELETE FROM "Waitlist" WHERE id = $1', "W1")  # the patient left

    with pytest.raises(store.SaveConflictError):
        await store.save_decisions(db_, execution, decisions, decided_at=T0)
    await store.save_planned(db_, execution, inputs, MatchingConfig())

    assert await allocations(db) == {"W3": ("C1", 10000.0)}
    assert await available(db, "C1") == 10000.0
    row = await db.fetchrow("SELECT warnings FROM matching_executions WHERE id = $1", execution.id)
    [warning] = json.loads(row["warnings"])
    assert (warning["type"], warning["waitlistId"]) == ("ENTRY_CHANGED", "W1")
    assert (
        await db.fetchval(
            "SELECT count(*) FROM matching_execution_logs WHERE message = $1",
            "Waitlist entry W1 changed during matching",
        )
        == 1
    )


async def test_the_overdraw_guard_compares_cents_in_sql(db: asyncpg.Connection) -> None:
    """Example 2: 9999.99 does not fund a 10000 match; the pool does."""
    seed = await fixture_f(db)
    await seed.campaign("C1", 9999.99, ["STA"])
    await seed.pool(25000)
    await seed.entry("W1", "U1", "STA", "08-01")
    before = await money_total(db)

    await decide_and_save(db)

    assert await allocations(db) == {"W1": (GENERAL_POOL_ID, 10000.0)}
    assert await available(db, "C1") == 9999.99
    assert await available(db, GENERAL_POOL_ID) == 15000.0
    assert await money_total(db) == before


async def test_the_guard_refuses_a_decrement_the_campaign_cannot_cover(
    db: asyncpg.Connection,
) -> None:
    """Directly: the decided amount exceeds what the row holds by one kobo -> refused."""
    seed = await fixture_f(db)
    await seed.campaign("C1", 10000, ["STA"])
    await seed.entry("W1", "U1", "STA", "08-01")
    db_, execution = await begin(db)
    decisions = decide(
        await store.load_inputs(db_), MatchingConfig(), execution.started_at, new_id=new_id
    )
    await db.execute(
        'UPDATE "DonationCampaign" SET "availableAmount" = 9999.99 WHERE id = $1', "C1"
    )
    with pytest.raises(store.SaveConflictError, match="C1"):
        await store.save_decisions(db_, execution, decisions, decided_at=T0)
    assert await available(db, "C1") == 9999.99


async def test_one_running_execution_and_one_allocation_per_entry_are_constraints(
    db: asyncpg.Connection,
) -> None:
    seed = await fixture_f(db)
    await seed.execution("E1", T0, status="RUNNING")
    with pytest.raises(asyncpg.UniqueViolationError):
        await seed.execution("E2", T0, status="RUNNING")
    await seed.campaign("C1", 0, ["STA"], total=20000)
    await seed.matched("W1", "U1", "STA", "08-01", campaign="C1", amount=10000)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(
            'INSERT INTO "DonationAllocation" (id, "waitlistId", "patientId", "campaignId", '
            '"amountAllocated") VALUES ($1, $2, $3, $4, $5)',
            "A-second",
            "W1",
            "U1",
            "C1",
            10000,
        )


async def test_starting_marks_abandoned_runs_failed(db: asyncpg.Connection) -> None:
    seed = await fixture_f(db)
    await seed.execution("E-stuck", datetime(2025, 8, 1), status="RUNNING")

    _, execution = await begin(db)

    assert execution.abandoned == 1
    row = await db.fetchrow(
        "SELECT status::text, errors FROM matching_executions WHERE id = 'E-stuck'"
    )
    assert row["status"] == "FAILED"
    assert json.loads(row["errors"])[0]["message"] == store.ABANDONED_MESSAGE
    reference = await db.fetchval(
        'SELECT "executionReference" FROM matching_executions WHERE id = $1', execution.id
    )
    assert reference.startswith("EXEC_20250901120000_")
    assert len(reference) == 26
