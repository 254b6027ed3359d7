"""Loading a matching run's snapshot and saving its decisions (spec/matching.md §3-§10).

Everything here works on one raw asyncpg connection (the run holds its advisory lock on it) and
is set-based: a handful of queries load `MatchingInputs` (§5.2), and `save_decisions` writes a
whole run in one transaction with one statement per kind of row (`UPDATE ... FROM unnest(...)`,
`INSERT ... SELECT ... FROM unnest(...)`):

1. the execution row is locked and must still be `RUNNING` (nobody declared the run dead);
2. expiries: entries `MATCHED -> EXPIRED` (only while their allocation is still unclaimed and
   still on the campaign the decision saw), refunds added per campaign (to the general pool,
   `totalAmount` too, when the allocation's campaign is `DELETED`);
3. matches: entries `PENDING -> MATCHED`, one guarded decrement per campaign
   (`status = 'ACTIVE' AND round(availableAmount, 2) >= amount`), the allocation rows (the unique
   `waitlistId` refuses a second one);
4. notifications, recipients, the stream `NOTIFY`s and the e-mail jobs (jobs + outbox rows, the
   same rows `actors.contracts.enqueue` writes), so they exist only if the run commits and go
   out only after the commit (spec README decision 1);
5. logs, per-type results and the execution's counters.

Every guarded statement must change exactly the rows the decisions expect. When one does not
(another request claimed, left, expired or drained something since the load), the transaction
is rolled back and `SaveConflictError` raised: nothing of the run is half-applied, no money moved.
The caller then falls back to `save_planned`, which replays the algorithm's `plan` one expiry or
match per transaction (§4.2, §8.3) with the same statements on one-element arrays, reporting
each outcome (`EntryChanged`, `CampaignChanged`, ...) back to the algorithm.

Money: the database holds naira as double precision; amounts are passed as exact 2-decimal
`numeric` and every sum is rounded to 2 places in SQL, so no campaign is ever overdrawn
(I1) and what leaves a campaign is exactly what an allocation holds (I2).
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import asyncpg

from actors.contracts import outbox
from actors.contracts.messages import SendEmail
from actors.contracts.notifications import CHANNEL as NOTIFICATION_CHANNEL
from actors.contracts.notifications import EMAIL_TEMPLATE, SYSTEM_USER_ID, notify_payload
from actors.contracts.outbox import Requester
from actors.matching.algorithm import plan
from actors.matching.config import MatchingConfig
from actors.matching.decisions import Allocation, Decisions, Expiry, LogLine
from actors.matching.inputs import (
    GENERAL_POOL_ID,
    Campaign,
    ExistingAllocation,
    HeldEntry,
    MatchingInputs,
    Patient,
    ScreeningType,
    WaitingEntry,
)
from actors.matching.outcomes import COMMITTED, CampaignChanged, EntryChanged, Failed, Outcome
from actors.matching.units import kobo_to_float, kobo_to_naira, to_kobo
from models.base import new_id, utc_now

__all__ = [
    "ABANDONED_MESSAGE",
    "LOCK_NAME",
    "Db",
    "Execution",
    "ExecutionLostError",
    "SaveConflictError",
    "SaveReport",
    "fail_execution",
    "finished_execution_for_job",
    "load_inputs",
    "result_for",
    "save_decisions",
    "save_planned",
    "start_execution",
    "stored_overrides",
    "try_lock",
    "unlock",
]

log = logging.getLogger(__name__)

#: Text the run's session advisory lock key is derived from (§3.2).
LOCK_NAME: Final = "zerocancer:waitlist-matching"
#: `errors[0].message` of an execution found RUNNING by a later run (§3.2, D-MAT-14).
ABANDONED_MESSAGE: Final = "Execution abandoned (worker stopped)"

MATCHED_TITLE: Final = "You have been matched to a donation campaign!"
PATIENT_MATCHED_TITLE: Final = "A patient has been matched to your campaign!"
EXPIRED_TITLE: Final = "Your screening allocation has expired"

_REFERENCE_ALPHABET: Final = string.digits + string.ascii_uppercase
_LOCK_SQL: Final = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
_UNLOCK_SQL: Final = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"


class SaveConflictError(Exception):
    """A guarded write changed fewer rows than decided; the transaction was rolled back."""


class ExecutionLostError(Exception):
    """The run's execution row is no longer RUNNING (another run declared it abandoned)."""


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


def _ms_between(start: datetime, end: datetime) -> int:
    """Whole milliseconds, clamped to the INTEGER columns' range."""
    return min(max(0, round((end - start).total_seconds() * 1000)), 2**31 - 1)


class Db:
    """An asyncpg connection that counts statements (`dbQueriesCount`, informative)."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.queries = 0

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        self.queries += 1
        rows: list[asyncpg.Record] = await self.connection.fetch(sql, *args)
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        self.queries += 1
        return await self.connection.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.queries += 1
        return await self.connection.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        self.queries += 1
        status: str = await self.connection.execute(sql, *args)
        return status

    def transaction(self, **options: Any) -> Any:
        return self.connection.transaction(**options)


# ---------------------------------------------------------------------------------------------
# Lock, execution row


async def try_lock(connection: asyncpg.Connection) -> bool:
    """The run's session advisory lock, without waiting (False while another run holds it)."""
    return bool(await connection.fetchval(_LOCK_SQL, LOCK_NAME))


async def unlock(connection: asyncpg.Connection) -> None:
    await connection.fetchval(_UNLOCK_SQL, LOCK_NAME)


@dataclass(frozen=True, slots=True)
class Execution:
    """The `matching_executions` row of the run; `started_at` is T0 (naive UTC, ms)."""

    id: str
    reference: str
    started_at: datetime
    batch_config: Mapping[str, Any]
    abandoned: int = 0


def execution_reference(moment: datetime) -> str:
    """`EXEC_{YYYYMMDDHHMMSS}_{6 of 0-9A-Z from a CSPRNG}` (§3.3)."""
    suffix = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
    return f"EXEC_{moment:%Y%m%d%H%M%S}_{suffix}"


async def stored_overrides(db: Db) -> dict[str, Any] | None:
    """The one-row configuration saved by `PUT /admin/config/matching`, if any."""
    raw = await db.fetchval("SELECT overrides FROM matching_config_overrides WHERE id = 1")
    if raw is None:
        return None
    value = json.loads(raw) if isinstance(raw, str) else raw
    return dict(value) if isinstance(value, dict) and value else None


async def finished_execution_for_job(db: Db, job_id: str) -> asyncpg.Record | None:
    """The execution a job already completed (a redelivered message must not run again)."""
    return await db.fetchrow(
        """
        SELECT * FROM matching_executions
        WHERE ("batchConfig" -> 'trigger' ->> 'jobId') = $1
          AND status IN ('COMPLETED', 'PARTIALLY_COMPLETED')
        """,
        job_id,
    )


async def start_execution(
    db: Db, batch_config: Mapping[str, Any], *, now: datetime | None = None
) -> Execution:
    """Under the run lock: mark abandoned RUNNING executions FAILED, insert ours (§3.2 1-3)."""
    started = now or utc_now()
    async with db.transaction():
        abandoned = await db.execute(
            """
            UPDATE matching_executions
            SET status = 'FAILED', "completedAt" = $1, errors = $2::jsonb
            WHERE status = 'RUNNING'
            """,
            started,
            _json([{"message": ABANDONED_MESSAGE, "timestamp": _iso(started)}]),
        )
        execution_id = new_id()
        for _attempt in range(5):
            reference = execution_reference(started)
            try:
                async with db.transaction():  # a savepoint: a reference collision is retried
                    await db.execute(
                        """
                        INSERT INTO matching_executions
                            (id, "executionReference", "startedAt", status, "batchConfig")
                        VALUES ($1, $2, $3, 'RUNNING', $4::jsonb)
                        """,
                        execution_id,
                        reference,
                        started,
                        _json(batch_config),
                    )
            except asyncpg.UniqueViolationError as error:
                if error.constraint_name != "matching_executions_executionReference_key":
                    raise
                continue
            return Execution(
                execution_id,
                reference,
                started,
                dict(batch_config),
                abandoned=int(abandoned.split()[-1]),
            )
    raise RuntimeError("could not draw a unique execution reference")


async def fail_execution(
    db: Db, execution: Execution, message: str, *, now: datetime | None = None
) -> None:
    """A fatal error: the execution becomes FAILED with `errors = [{message, timestamp}]`."""
    ended = now or utc_now()
    if len(message) > 500:
        message = message[:499] + "…"
    await db.execute(
        """
        UPDATE matching_executions
        SET status = 'FAILED', "completedAt" = $2, "processingTimeMs" = $3,
            errors = coalesce(errors, '[]'::jsonb) || $4::jsonb, "dbQueriesCount" = $5
        WHERE id = $1 AND status = 'RUNNING'
        """,
        execution.id,
        ended,
        _ms_between(execution.started_at, ended),
        _json([{"message": message, "timestamp": _iso(ended)}]),
        db.queries + 1,
    )


_COUNTERS: Final = (
    "screeningTypesProcessed",
    "patientsEvaluated",
    "successfulMatches",
    "totalFundsAllocated",
    "generalPoolFundsUsed",
    "skippedDueToLimits",
    "skippedDueToNoFunding",
    "skippedDueToExistingMatch",
    "campaignsUsedCount",
    "notificationsSent",
    "dbQueriesCount",
    "processingTimeMs",
)


async def result_for(db: Db, row: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The job result of §3.2 5 rebuilt from a stored execution (a repeated message); the
    expiry totals come from the expiry phase's summary log."""
    context = await db.fetchval(
        """
        SELECT context FROM matching_execution_logs
        WHERE "executionId" = $1 AND message LIKE 'Expiry phase:%'
        ORDER BY "timestamp" DESC LIMIT 1
        """,
        row["id"],
    )
    expiry = json.loads(context) if isinstance(context, str) else (context or {})
    metrics = {key: row[key] for key in _COUNTERS}
    metrics["expiredAllocations"] = expiry.get("expiredAllocations", 0)
    metrics["fundsReturnedFromExpiry"] = expiry.get("fundsReturned", 0.0)
    return {
        "success": row["status"] in ("COMPLETED", "PARTIALLY_COMPLETED"),
        "executionId": row["id"],
        "executionReference": row["executionReference"],
        "status": row["status"],
        "metrics": metrics,
        **extra,
    }


# ---------------------------------------------------------------------------------------------
# Load (§5.2)


_TYPES_SQL: Final = 'SELECT id, name, "agreedPrice" FROM "ScreeningType"'
_PENDING_SQL: Final = """
SELECT id, "patientId", "screeningTypeId", "joinedAt"
FROM "Waitlist" WHERE status = 'PENDING'
ORDER BY "joinedAt", id
"""
_PROFILES_SQL: Final = """
SELECT p."userId", p.gender::text AS gender, p."dateOfBirth", p.state, p.city
FROM "PatientProfile" p
WHERE p."userId" IN (SELECT "patientId" FROM "Waitlist" WHERE status = 'PENDING')
"""
_HELD_SQL: Final = """
SELECT w.id, w."patientId", w."screeningTypeId", w."joinedAt",
       a.id AS allocation_id, a."campaignId", a."amountAllocated", a."claimedAt",
       a."appointmentId", e."startedAt" AS execution_started_at
FROM "Waitlist" w
LEFT JOIN "DonationAllocation" a ON a."waitlistId" = w.id
LEFT JOIN matching_executions e ON e.id = a."matchingExecutionId"
WHERE w.status = 'MATCHED'
"""
_CAMPAIGNS_SQL: Final = """
SELECT c.id, c."donorId", c.title, c.status::text AS status, c."availableAmount",
       c."totalAmount", c."createdAt", c."targetGender"::text AS target_gender,
       c."targetAgeRange", c."targetStates", c."targetLgas", c."expiryDate",
       coalesce(
           (SELECT array_agg(j."B") FROM "_DonationCampaignScreeningTypes" j WHERE j."A" = c.id),
           '{}'
       ) AS screening_type_ids
FROM "DonationCampaign" c
WHERE c.status = 'ACTIVE' OR c.id = $1 OR c.id = ANY($2::text[])
"""


def _campaign(row: asyncpg.Record) -> Campaign:
    return Campaign(
        id=row["id"],
        donor_id=row["donorId"],
        title=row["title"],
        status=row["status"],
        available_kobo=to_kobo(row["availableAmount"]),
        total_kobo=to_kobo(row["totalAmount"]),
        screening_type_ids=frozenset(row["screening_type_ids"]),
        created_at=row["createdAt"],
        target_gender=row["target_gender"],
        target_age_range=row["targetAgeRange"],
        target_states=tuple(row["targetStates"] or ()),
        target_lgas=tuple(row["targetLgas"] or ()),
        expiry_date=row["expiryDate"],
    )


async def load_campaigns(db: Db, ids: Iterable[str]) -> list[Campaign]:
    """Every ACTIVE campaign, the general pool and the campaigns named by `ids`."""
    rows = await db.fetch(_CAMPAIGNS_SQL, GENERAL_POOL_ID, sorted(set(ids)))
    return [_campaign(row) for row in rows]


async def load_inputs(db: Db) -> MatchingInputs:
    """The run's snapshot (§5.2) from one REPEATABLE READ transaction (five queries).

    Pending entries come sorted by (`joinedAt`, `id`); `held` are the `MATCHED` entries with
    their allocation (active counts, the existing-match check and the expiry candidates); the
    campaigns are every `ACTIVE` one, the pool and any campaign a held allocation points at.
    """
    async with db.transaction(isolation="repeatable_read", readonly=True):
        type_rows = await db.fetch(_TYPES_SQL)
        pending_rows = await db.fetch(_PENDING_SQL)
        profile_rows = await db.fetch(_PROFILES_SQL)
        held_rows = await db.fetch(_HELD_SQL)
        campaigns = await load_campaigns(
            db, (row["campaignId"] for row in held_rows if row["campaignId"] is not None)
        )
    types = [
        ScreeningType(row["id"], row["name"], to_kobo(row["agreedPrice"])) for row in type_rows
    ]
    pending = [WaitingEntry(*row) for row in pending_rows]
    patients = [
        Patient(
            id=row["userId"],
            gender=row["gender"],
            date_of_birth=row["dateOfBirth"].date() if row["dateOfBirth"] is not None else None,
            state=row["state"],
            lga=row["city"],
        )
        for row in profile_rows
    ]
    held = [
        HeldEntry(
            id=row["id"],
            patient_id=row["patientId"],
            screening_type_id=row["screeningTypeId"],
            status="MATCHED",
            joined_at=row["joinedAt"],
            allocation=None
            if row["allocation_id"] is None
            else ExistingAllocation(
                id=row["allocation_id"],
                campaign_id=row["campaignId"],
                amount_allocated_kobo=None
                if row["amountAllocated"] is None
                else to_kobo(row["amountAllocated"]),
                execution_started_at=row["execution_started_at"],
                claimed_at=row["claimedAt"],
                appointment_id=row["appointmentId"],
            ),
        )
        for row in held_rows
    ]
    return MatchingInputs(types, campaigns, patients, pending, held)


# ---------------------------------------------------------------------------------------------
# Save: the set-based statements


_LOCK_EXECUTION_SQL: Final = """
SELECT 1 FROM matching_executions WHERE id = $1 AND status = 'RUNNING' FOR UPDATE
"""
_EXPIRE_SQL: Final = """
UPDATE "Waitlist" w
SET status = 'EXPIRED', "expiredAt" = $4
FROM unnest($1::text[], $2::text[], $3::text[]) AS e(waitlist_id, allocation_id, campaign_id),
     "DonationAllocation" a
WHERE w.id = e.waitlist_id AND w.status = 'MATCHED'
  AND a.id = e.allocation_id AND a."waitlistId" = w.id AND a."campaignId" = e.campaign_id
  AND a."claimedAt" IS NULL AND a."appointmentId" IS NULL
RETURNING w.id
"""
# Refunds per campaign; a refund to a campaign other than the pool needs it not DELETED (a
# deleted campaign's refunds go to the pool, decided from the loaded status).
_REFUND_SQL: Final = """
UPDATE "DonationCampaign" c
SET "availableAmount" = round(c."availableAmount"::numeric + r.amount, 2)::float8,
    "totalAmount" = round(c."totalAmount"::numeric + r.total_amount, 2)::float8,
    "updatedAt" = $4
FROM unnest($1::text[], $2::numeric[], $3::numeric[]) AS r(id, amount, total_amount)
WHERE c.id = r.id AND (c.id = $5 OR c.status <> 'DELETED')
RETURNING c.id
"""
# Deleted campaigns whose refunds the decisions sent to the pool: still DELETED?
_STILL_DELETED_SQL: Final = """
SELECT count(*) FROM "DonationCampaign" WHERE id = ANY($1::text[]) AND status = 'DELETED'
"""
_MATCH_ENTRIES_SQL: Final = """
UPDATE "Waitlist" w SET status = 'MATCHED'
FROM unnest($1::text[]) AS m(id)
WHERE w.id = m.id AND w.status = 'PENDING'
RETURNING w.id
"""
# The overdraw guard (§8.3 2): per campaign, the summed amount must fit what it holds now.
_DECREMENT_SQL: Final = """
UPDATE "DonationCampaign" c
SET "availableAmount" = round(c."availableAmount"::numeric - d.amount, 2)::float8,
    "updatedAt" = $3
FROM unnest($1::text[], $2::numeric[]) AS d(id, amount)
WHERE c.id = d.id AND c.status = 'ACTIVE'
  AND round(c."availableAmount"::numeric, 2) >= d.amount
  AND (c.id = $4 OR c."expiryDate" IS NULL OR c."expiryDate" > $5)
RETURNING c.id
"""
_INSERT_ALLOCATIONS_SQL: Final = """
INSERT INTO "DonationAllocation" (
    id, "waitlistId", "appointmentId", "patientId", "campaignId", "claimedAt",
    "matchingExecutionId", "amountAllocated", "createdViaMatching"
)
SELECT a.id, a.waitlist_id, NULL, a.patient_id, a.campaign_id, NULL, $6, a.amount::float8, true
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[])
     AS a(id, waitlist_id, patient_id, campaign_id, amount)
ON CONFLICT DO NOTHING
RETURNING id
"""
_CAMPAIGN_NOW_SQL: Final = """
SELECT status::text AS status, "availableAmount" FROM "DonationCampaign" WHERE id = $1
"""
_INSERT_NOTIFICATIONS_SQL: Final = """
INSERT INTO "Notification" (id, type, title, message, data, "createdAt")
SELECT n.id, n.type, n.title, n.message, n.data::jsonb, $6
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
     AS n(id, type, title, message, data)
"""
_INSERT_RECIPIENTS_SQL: Final = """
INSERT INTO "NotificationRecipient" (id, "notificationId", "userId", read)
SELECT r.id, r.notification_id, r.user_id, false
FROM unnest($1::text[], $2::text[], $3::text[]) AS r(id, notification_id, user_id)
"""
_NOTIFY_SQL: Final = "SELECT count(pg_notify($1, p)) FROM unnest($2::text[]) AS p"
#: Who asks for the run's email jobs.
SYSTEM: Final = Requester("system")
_EMAILS_SQL: Final = 'SELECT id, email FROM "User" WHERE id = ANY($1::text[])'
_INSERT_LOGS_SQL: Final = """
INSERT INTO matching_execution_logs (
    id, "executionId", "timestamp", level, message, context,
    "patientId", "campaignId", "waitlistId", "screeningTypeId", "allocationId"
)
SELECT l.id, $1, $2, l.level::"LogLevel", l.message, l.context::jsonb,
       l.patient_id, l.campaign_id, l.waitlist_id, l.screening_type_id, l.allocation_id
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::text[], $11::text[])
     AS l(id, level, message, context, patient_id, campaign_id, waitlist_id,
          screening_type_id, allocation_id)
"""
_INSERT_RESULTS_SQL: Final = """
INSERT INTO matching_screening_type_results (
    id, "executionId", "screeningTypeId", "screeningTypeName", "patientsFound",
    "patientsProcessed", "matchesCreated", "skippedDueToLimits", "skippedDueToNoFunding",
    "skippedDueToExisting", "fundsAllocated", "campaignsUsed", "generalPoolUsed",
    "generalPoolAmount", "targetingMatches", "targetingMismatches", "processingStarted",
    "processingCompleted", "processingTimeMs"
)
SELECT r.id, $1, r.type_id, r.type_name, r.found, r.processed, r.matches, r.limits,
       r.no_funding, r.existing, r.funds::float8, r.campaigns::jsonb, r.pool_used,
       r.pool_amount::float8, r.targeted, r.untargeted, $2, $3, $4
FROM unnest($5::text[], $6::text[], $7::text[], $8::int[], $9::int[], $10::int[], $11::int[],
            $12::int[], $13::int[], $14::numeric[], $15::text[], $16::bool[], $17::numeric[],
            $18::int[], $19::int[])
     AS r(id, type_id, type_name, found, processed, matches, limits, no_funding, existing,
          funds, campaigns, pool_used, pool_amount, targeted, untargeted)
"""
_FINISH_EXECUTION_SQL: Final = """
UPDATE matching_executions SET
    status = $2::"MatchingExecutionStatus", "completedAt" = $3, "processingTimeMs" = $4,
    "screeningTypesProcessed" = $5, "patientsEvaluated" = $6, "successfulMatches" = $7,
    "skippedDueToLimits" = $8, "skippedDueToNoFunding" = $9, "skippedDueToExistingMatch" = $10,
    "totalFundsAllocated" = $11, "generalPoolFundsUsed" = $12, "campaignsUsedCount" = $13,
    "dbQueriesCount" = $14, "notificationsSent" = $15, errors = $16::jsonb,
    warnings = $17::jsonb
WHERE id = $1 AND status = 'RUNNING'
RETURNING id
"""


@dataclass(frozen=True, slots=True)
class _Note:
    """One notification with its single recipient."""

    id: str
    type: str
    title: str
    message: str
    data: Mapping[str, object]
    recipient_id: str
    email: bool


@dataclass
class SaveReport:
    """What a save wrote, for the execution row and the job result."""

    notifications: int = 0
    email_jobs: int = 0
    path: str = "bulk"
    conflicts: list[str] = field(default_factory=list)


def _expiry_notes(execution: Execution, expiries: Sequence[Expiry], now: datetime) -> list[_Note]:
    return [
        _Note(
            id=new_id(),
            type="ALLOCATION_EXPIRED",
            title=EXPIRED_TITLE,
            message=(
                f"Your allocation for {expiry.screening_type_name} has expired due to "
                "inactivity. You can rejoin the waitlist if you're still interested."
            ),
            data={
                "screeningTypeName": expiry.screening_type_name,
                "screeningTypeId": expiry.screening_type_id,
                "campaignTitle": expiry.campaign_title,
                "amountReturned": kobo_to_float(expiry.amount_kobo),
                "expiredAt": _iso(now),
                "executionRef": execution.id,
            },
            recipient_id=expiry.patient_id,
            email=True,
        )
        for expiry in expiries
    ]


def _match_notes(execution: Execution, allocations: Sequence[Allocation]) -> list[_Note]:
    notes = []
    for allocation in allocations:
        name = allocation.screening_type_name
        notes.append(
            _Note(
                id=new_id(),
                type="MATCHED",
                title=MATCHED_TITLE,
                message=(
                    f"You have been matched for a free screening: {name}. "
                    "Please check your appointments for details."
                ),
                data={
                    "screeningTypeId": allocation.screening_type_id,
                    "campaignId": allocation.campaign_id,
                    "executionRef": execution.id,
                    "waitlistId": allocation.waitlist_id,
                    "allocationId": allocation.id,
                    "executionReference": execution.reference,
                },
                recipient_id=allocation.patient_id,
                email=True,
            )
        )
        owner = allocation.campaign_owner_id
        if owner and owner != SYSTEM_USER_ID:  # D-NOT-4: never the pool's system user
            notes.append(
                _Note(
                    id=new_id(),
                    type="PATIENT_MATCHED",
                    title=PATIENT_MATCHED_TITLE,
                    message=f"A patient has been matched for a screening: {name}.",
                    data={
                        "screeningTypeId": allocation.screening_type_id,
                        "patientId": allocation.patient_id,
                        "allocation": True,
                        "executionRef": execution.id,
                        "campaignId": allocation.campaign_id,
                        "executionReference": execution.reference,
                        "allocationId": allocation.id,
                    },
                    recipient_id=owner,
                    email=False,
                )
            )
    return notes


def _sum_by(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for key, kobo in pairs:
        totals[key] = totals.get(key, 0) + kobo
    return totals


class _DecrementRefusedError(SaveConflictError):
    def __init__(self, campaign_ids: Sequence[str]) -> None:
        super().__init__(f"campaigns without enough money now: {', '.join(campaign_ids)}")
        self.campaign_ids = tuple(campaign_ids)


class _EntryConflictError(SaveConflictError):
    pass


async def _apply_expiries(db: Db, expiries: Sequence[Expiry], now: datetime) -> None:
    if not expiries:
        return
    expired = await db.fetch(
        _EXPIRE_SQL,
        [e.waitlist_id for e in expiries],
        [e.allocation_id for e in expiries],
        [e.campaign_id for e in expiries],
        now,
    )
    if len(expired) != len(expiries):
        raise _EntryConflictError(f"{len(expiries) - len(expired)} expiring entries changed")
    to_pool = {e.campaign_id for e in expiries if e.refunded_to_pool}
    if to_pool:
        still = await db.fetchval(_STILL_DELETED_SQL, sorted(to_pool))
        if still != len(to_pool):
            raise SaveConflictError("a campaign refunded to the pool is no longer DELETED")
    refunds = _sum_by((e.refund_campaign_id, e.amount_kobo) for e in expiries)
    totals = _sum_by((e.refund_campaign_id, e.amount_kobo) for e in expiries if e.refunded_to_pool)
    ids = sorted(refunds)
    refunded = await db.fetch(
        _REFUND_SQL,
        ids,
        [kobo_to_naira(refunds[i]) for i in ids],
        [kobo_to_naira(totals.get(i, 0)) for i in ids],
        now,
        GENERAL_POOL_ID,
    )
    if len(refunded) != len(ids):
        raise SaveConflictError("a refunded campaign was deleted meanwhile")


async def _apply_allocations(
    db: Db, execution: Execution, allocations: Sequence[Allocation], now: datetime
) -> None:
    if not allocations:
        return
    matched = await db.fetch(_MATCH_ENTRIES_SQL, [a.waitlist_id for a in allocations])
    if len(matched) != len(allocations):
        raise _EntryConflictError(f"{len(allocations) - len(matched)} pending entries changed")
    amounts = _sum_by((a.campaign_id, a.amount_kobo) for a in allocations)
    ids = sorted(amounts)
    decremented = await db.fetch(
        _DECREMENT_SQL,
        ids,
        [kobo_to_naira(amounts[i]) for i in ids],
        now,
        GENERAL_POOL_ID,
        execution.started_at,
    )
    if len(decremented) != len(ids):
        done = {row["id"] for row in decremented}
        raise _DecrementRefusedError([i for i in ids if i not in done])
    inserted = await db.fetch(
        _INSERT_ALLOCATIONS_SQL,
        [a.id for a in allocations],
        [a.waitlist_id for a in allocations],
        [a.patient_id for a in allocations],
        [a.campaign_id for a in allocations],
        [kobo_to_naira(a.amount_kobo) for a in allocations],
        execution.id,
    )
    if len(inserted) != len(allocations):
        raise _EntryConflictError(f"{len(allocations) - len(inserted)} entries already have one")


async def _write_notes(db: Db, notes: Sequence[_Note], now: datetime) -> int:
    """Notifications, recipients, stream NOTIFYs and e-mail jobs; returns the e-mail jobs."""
    if not notes:
        return 0
    await db.execute(
        _INSERT_NOTIFICATIONS_SQL,
        [n.id for n in notes],
        [n.type for n in notes],
        [n.title for n in notes],
        [n.message for n in notes],
        [_json(n.data) for n in notes],
        now,
    )
    await db.execute(
        _INSERT_RECIPIENTS_SQL,
        [new_id() for _ in notes],
        [n.id for n in notes],
        [n.recipient_id for n in notes],
    )
    # Delivered by PostgreSQL at COMMIT only: the stream never shows an uncommitted match.
    await db.fetchval(
        _NOTIFY_SQL, NOTIFICATION_CHANNEL, [notify_payload(n.id, [n.recipient_id]) for n in notes]
    )
    emailed = [n for n in notes if n.email]
    if not emailed:
        return 0
    addresses = {
        row["id"]: row["email"]
        for row in await db.fetch(_EMAILS_SQL, sorted({n.recipient_id for n in emailed}))
    }
    messages = [
        SendEmail(
            template=EMAIL_TEMPLATE,
            to=addresses[n.recipient_id],
            context={"type": n.type, "title": n.title, "message": n.message},
        )
        for n in emailed
        if addresses.get(n.recipient_id)
    ]
    return await enqueue_many(db, messages)


async def enqueue_many(db: Db, messages: Sequence[SendEmail]) -> int:
    """One jobs row and one outbox row per message in the caller's transaction (as `enqueue`)."""
    if not messages:
        return 0
    parameters = outbox.enqueue_many_parameters(messages, requested_by=SYSTEM)
    queued = await db.fetchval(outbox.ENQUEUE_MANY_SQL, *parameters)
    return int(queued)


async def _write_logs(db: Db, execution: Execution, logs: Sequence[LogLine], now: datetime) -> None:
    if not logs:
        return
    await db.execute(
        _INSERT_LOGS_SQL,
        execution.id,
        now,
        [new_id() for _ in logs],
        [line.level for line in logs],
        [line.message for line in logs],
        [_json(line.context) for line in logs],
        [line.patient_id for line in logs],
        [line.campaign_id for line in logs],
        [line.waitlist_id for line in logs],
        [line.screening_type_id for line in logs],
        [line.allocation_id for line in logs],
    )


async def _write_summary(
    db: Db,
    execution: Execution,
    decisions: Decisions,
    *,
    logs: Sequence[LogLine],
    notifications: int,
    decided_at: datetime,
    now: datetime,
) -> None:
    """Remaining logs, per-type results and the execution's final counters (§10)."""
    await _write_logs(db, execution, logs, now)
    results = decisions.screening_types
    if results:
        await db.execute(
            _INSERT_RESULTS_SQL,
            execution.id,
            decided_at,
            now,
            _ms_between(decided_at, now),
            [new_id() for _ in results],
            [r.screening_type_id for r in results],
            [r.screening_type_name for r in results],
            [r.patients_found for r in results],
            [r.patients_processed for r in results],
            [r.matches_created for r in results],
            [r.skipped_due_to_limits for r in results],
            [r.skipped_due_to_no_funding for r in results],
            [r.skipped_due_to_existing for r in results],
            [kobo_to_naira(r.funds_allocated_kobo) for r in results],
            [_json(list(r.campaigns_used)) for r in results],
            [r.general_pool_used for r in results],
            [kobo_to_naira(r.general_pool_amount_kobo) for r in results],
            [r.targeting_matches for r in results],
            [r.targeting_mismatches for r in results],
        )
    metrics = decisions.metrics
    finished = await db.fetchval(
        _FINISH_EXECUTION_SQL,
        execution.id,
        decisions.status,
        now,
        _ms_between(execution.started_at, now),
        metrics.screening_types_processed,
        metrics.patients_evaluated,
        metrics.successful_matches,
        metrics.skipped_due_to_limits,
        metrics.skipped_due_to_no_funding,
        metrics.skipped_due_to_existing_match,
        kobo_to_float(metrics.total_funds_allocated_kobo),
        kobo_to_float(metrics.general_pool_funds_used_kobo),
        metrics.campaigns_used_count,
        db.queries + 1,
        notifications,
        _json(list(decisions.errors)) if decisions.errors else None,
        _json(list(decisions.warnings)) if decisions.warnings else None,
    )
    if finished is None:
        raise ExecutionLostError(f"execution {execution.id} is no longer RUNNING")


async def _hold_execution(db: Db, execution: Execution) -> None:
    if await db.fetchval(_LOCK_EXECUTION_SQL, execution.id) is None:
        raise ExecutionLostError(f"execution {execution.id} is no longer RUNNING")


_CONFLICT_ERRORS: Final = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.LockNotAvailableError,
)


async def save_decisions(
    db: Db,
    execution: Execution,
    decisions: Decisions,
    *,
    decided_at: datetime,
    now: datetime | None = None,
) -> SaveReport:
    """Write a whole run's decisions in one transaction, or nothing (`SaveConflictError`)."""
    now = now or utc_now()
    notes = _expiry_notes(execution, decisions.expiries, now) + _match_notes(
        execution, decisions.allocations
    )
    try:
        async with db.transaction():
            await _hold_execution(db, execution)
            await _apply_expiries(db, decisions.expiries, now)
            await _apply_allocations(db, execution, decisions.allocations, now)
            emails = await _write_notes(db, notes, now)
            await _write_summary(
                db,
                execution,
                decisions,
                logs=decisions.logs,
                notifications=len(notes),
                decided_at=decided_at,
                now=now,
            )
    except _CONFLICT_ERRORS as error:
        raise SaveConflictError(f"{type(error).__name__}: {error}") from error
    return SaveReport(notifications=len(notes), email_jobs=emails)


# ---------------------------------------------------------------------------------------------
# Save, one proposal per transaction (the fallback after a conflict)


async def _commit_expiry(db: Db, execution: Execution, expiry: Expiry, now: datetime) -> int:
    notes = _expiry_notes(execution, [expiry], now)
    async with db.transaction():
        await _hold_execution(db, execution)
        await _apply_expiries(db, [expiry], now)
        await _write_notes(db, notes, now)
        await _write_logs(db, execution, [expiry.log], now)
    return len(notes)


async def _commit_allocation(
    db: Db, execution: Execution, allocation: Allocation, now: datetime
) -> int:
    notes = _match_notes(execution, [allocation])
    async with db.transaction():
        await _hold_execution(db, execution)
        await _apply_allocations(db, execution, [allocation], now)
        await _write_notes(db, notes, now)
        await _write_logs(db, execution, [allocation.log], now)
    return len(notes)


async def _outcome(
    db: Db, execution: Execution, proposal: Expiry | Allocation, report: SaveReport
) -> Outcome:
    now = utc_now()
    try:
        if isinstance(proposal, Expiry):
            report.notifications += await _commit_expiry(db, execution, proposal, now)
        else:
            report.notifications += await _commit_allocation(db, execution, proposal, now)
    except _DecrementRefusedError:
        row = await db.fetchrow(_CAMPAIGN_NOW_SQL, proposal.campaign_id)
        if row is None:
            return CampaignChanged("DELETED", 0)
        return CampaignChanged(row["status"], to_kobo(row["availableAmount"]))
    except _EntryConflictError:
        return EntryChanged()
    except ExecutionLostError:
        raise
    except SaveConflictError as conflict:
        return Failed(str(conflict))
    except Exception as error:  # rolled back; recorded by the algorithm, the run goes on
        log.exception("matching proposal for entry %s failed", proposal.waitlist_id)
        return Failed(f"{type(error).__name__}: {error}")
    return COMMITTED


async def save_planned(
    db: Db,
    execution: Execution,
    inputs: MatchingInputs,
    config: MatchingConfig,
    *,
    new_id_fn: Callable[[], str] = new_id,
) -> tuple[Decisions, SaveReport]:
    """Decide and write one expiry or match per transaction (§4.2, §8.3).

    Each proposal of `plan` is committed with its notifications, e-mail jobs and log row, or
    rolled back and reported: `EntryChanged` (the entry moved on), `CampaignChanged` (the
    guarded decrement refused; the campaign as it is now), `Failed` (anything else, recorded).
    Then the other logs, the per-type results and the execution's counters are written.
    """
    report = SaveReport(path="planned")
    decided_at = utc_now()
    steps = plan(inputs, config, execution.started_at, new_id=new_id_fn)
    written: set[int] = set()
    try:
        proposal = next(steps)
        while True:
            outcome = await _outcome(db, execution, proposal, report)
            if outcome is COMMITTED:
                written.add(id(proposal.log))
            elif not isinstance(outcome, Failed | EntryChanged | CampaignChanged):
                raise TypeError(outcome)  # pragma: no cover
            if outcome is not COMMITTED:
                report.conflicts.append(type(outcome).__name__)
            proposal = steps.send(outcome)
    except StopIteration as done:
        decisions: Decisions = done.value
    remaining = [line for line in decisions.logs if id(line) not in written]
    now = utc_now()
    async with db.transaction():
        await _hold_execution(db, execution)
        await _write_summary(
            db,
            execution,
            decisions,
            logs=remaining,
            notifications=report.notifications,
            decided_at=decided_at,
            now=now,
        )
    return decisions, report
