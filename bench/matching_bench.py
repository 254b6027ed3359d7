"""Time one full waitlist matching run (lock, load, decide, save) on a scratch database.

Run: `.venv/bin/python bench/matching_bench.py [--entries N] [--campaigns M] [--repeat R]
[--expiring E] [--admin-url URL]`.

Creates `zc_bench_<id>` on 127.0.0.1:5432 (user postgres), migrates it, and for each repeat
seeds fresh data with set-based SQL (`generate_series`; not timed): `--entries` PENDING waitlist
entries (default 100,000) of 60 % as many patients across 12 screening types, `--campaigns`
campaigns (default 500; 40 % targeted, 1-3 linked types) and the general pool, plus optionally
`--expiring` MATCHED entries whose allocations are past the expiry period. Then it times
`actors.matching.actor.run` end to end with the default configuration and prints one JSON
object with, per repeat, the wall time and its split (load, decide, save as measured by the
run) and what the run did. The database is dropped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg

from actors.matching import actor
from models.migrate import migrate

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
N_TYPES = 12
#: Tables emptied between repeats (the fixed rows come back from 0003_fixed_rows.sql).
SEEDED_TABLES = (
    '"NotificationRecipient"',
    '"Notification"',
    "outbox",
    "jobs",
    "matching_execution_logs",
    "matching_screening_type_results",
    '"DonationAllocation"',
    "matching_executions",
    '"Waitlist"',
    '"_DonationCampaignScreeningTypes"',
    '"DonationCampaign"',
    '"PatientProfile"',
    '"DonorProfile"',
    '"User"',
    '"ScreeningType"',
)

SEED_SQL = """
SELECT setseed($1);

INSERT INTO "ScreeningType" (id, name, "screeningTypeCategoryId", "agreedPrice")
SELECT 'st-' || i, 'Screening ' || i, 'cancer', (ARRAY[10000, 15000, 12000.5])[1 + i % 3]
FROM generate_series(0, {types} - 1) AS i;

INSERT INTO "User" (id, "fullName", email, "passwordHash", "createdAt")
SELECT 'u-' || i, 'Patient ' || i, 'patient' || i || '@bench.test', 'x', now()
FROM generate_series(0, {patients} - 1) AS i;

INSERT INTO "PatientProfile" (id, "userId", gender, "dateOfBirth", state, city)
SELECT 'pp-' || i, 'u-' || i,
       (ARRAY['MALE', 'FEMALE', NULL])[1 + floor(random() * 3)::int]::"Gender",
       timestamp '1940-01-01' + floor(random() * 70 * 365) * interval '1 day',
       'State ' || floor(random() * 37)::int, 'LGA ' || floor(random() * 120)::int
FROM generate_series(0, {patients} - 1) AS i;

INSERT INTO "User" (id, "fullName", email, "passwordHash", "createdAt")
SELECT 'd-' || i, 'Donor ' || i, 'donor' || i || '@bench.test', 'x', now()
FROM generate_series(0, 96) AS i;

INSERT INTO "DonationCampaign" (id, "donorId", "totalAmount", "availableAmount", title,
    "targetGender", "targetAgeRange", "targetStates", "targetLgas", status, "expiryDate",
    "createdAt", "updatedAt")
SELECT 'c-' || i, 'd-' || (i % 97), 600000,
       round((random() * 500000)::numeric, 2)::float8, 'Campaign ' || i,
       CASE WHEN t THEN (ARRAY['MALE', 'FEMALE', NULL])[1 + floor(random() * 3)::int] END::"Gender",
       CASE WHEN t THEN lo || '-' || (lo + 10 + floor(random() * 40)::int) END,
       CASE WHEN t AND random() < 0.5
            THEN ARRAY['State ' || floor(random() * 37)::int, 'State ' || floor(random() * 37)::int]
            ELSE ARRAY[]::text[] END,
       CASE WHEN t AND random() < 0.3
            THEN ARRAY['LGA ' || floor(random() * 120)::int, 'LGA ' || floor(random() * 120)::int]
            ELSE ARRAY[]::text[] END,
       (CASE WHEN random() < 0.95 THEN 'ACTIVE' ELSE 'COMPLETED' END)::"CampaignStatus",
       NULL, now() - floor(random() * 400) * interval '1 day' - i * interval '1 second',
       now()
FROM (SELECT i, random() < 0.4 AS t, floor(random() * 60)::int AS lo
      FROM generate_series(0, {campaigns} - 1) AS i) AS c;

INSERT INTO "_DonationCampaignScreeningTypes" ("A", "B")
SELECT DISTINCT 'c-' || i, 'st-' || ((i + k * 5) % {types})
FROM generate_series(0, {campaigns} - 1) AS i, generate_series(0, 2) AS k
WHERE k = 0 OR random() < 0.4;

UPDATE "DonationCampaign" SET "availableAmount" = 1000000, "totalAmount" = 1000000
WHERE id = 'general-donor-pool';

-- Pending entries: patient i % P, screening type skewed towards the first types; a patient
-- never has two entries of one type.
INSERT INTO "Waitlist" (id, "screeningTypeId", "patientId", status, "joinedAt")
SELECT 'w-' || i, 'st-' || ((i * 7 + i / {patients}) % {types}), 'u-' || (i % {patients}),
       'PENDING', now() - floor(random() * 180 * 24 * 60) * interval '1 minute'
FROM generate_series(0, {entries} - 1) AS i;
"""

EXPIRING_SQL = """
INSERT INTO matching_executions (id, "executionReference", "startedAt", status)
VALUES ('bench-old-run', 'EXEC_BENCH_OLD', now() - interval '45 days', 'COMPLETED');

INSERT INTO "Waitlist" (id, "screeningTypeId", "patientId", status, "joinedAt")
SELECT 'h-' || i, 'st-' || ((i * 5 + 3) % {types} + 0), 'u-' || ((i * 13) % {patients}),
       'MATCHED', now() - interval '60 days'
FROM generate_series(0, {expiring} - 1) AS i
ON CONFLICT DO NOTHING;

INSERT INTO "DonationAllocation" (id, "waitlistId", "patientId", "campaignId",
    "matchingExecutionId", "amountAllocated", "createdViaMatching")
SELECT 'a-' || w.id, w.id, w."patientId", 'c-' || (substr(w.id, 3)::int % {campaigns}),
       'bench-old-run', 10000, true
FROM "Waitlist" w WHERE w.status = 'MATCHED';
"""


async def seed(
    url: str, *, entries: int, campaigns: int, expiring: int, seed_value: float
) -> dict[str, int]:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f"TRUNCATE {', '.join(SEEDED_TABLES)} CASCADE")
        fixed = Path(__file__).resolve().parents[1] / "models/migrations/0003_fixed_rows.sql"
        await connection.execute(fixed.read_text())
        sizes = {
            "types": N_TYPES,
            "patients": max(1, int(entries * 0.6)),
            "campaigns": campaigns,
            "entries": entries,
            "expiring": expiring,
        }
        await connection.fetchval("SELECT setseed($1)", seed_value)
        await connection.execute(SEED_SQL.replace("SELECT setseed($1);", "").format(**sizes))
        if expiring:
            await connection.execute(EXPIRING_SQL.format(**sizes))
        await connection.execute("VACUUM ANALYZE")
        counts = await connection.fetchrow(
            """SELECT (SELECT count(*) FROM "Waitlist" WHERE status = 'PENDING') AS pending,
                      (SELECT count(*) FROM "Waitlist" WHERE status = 'MATCHED') AS matched,
                      (SELECT count(*) FROM "DonationCampaign") AS campaigns,
                      (SELECT count(*) FROM "PatientProfile") AS patients"""
        )
        return dict(counts)
    finally:
        await connection.close()


async def time_run(url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        outcome = await actor.run(
            connection, trigger_source="schedule", job_id=str(uuid.uuid4()), environ={}
        )
        wall = time.perf_counter() - started
    finally:
        await connection.close()
    result = outcome.result
    timings = result["timingsMs"]
    metrics = result["metrics"]
    return {
        "seconds": round(wall, 3),
        "split_ms": {
            "load": timings.get("load"),
            "decide": timings.get("decide"),
            "save": timings.get("save"),
            "other": round(
                wall * 1000 - sum(timings.get(k, 0.0) for k in ("load", "decide", "save")), 1
            ),
        },
        "save_path": result["savePath"],
        "status": result["status"],
        "matches": metrics["successfulMatches"],
        "expired": metrics["expiredAllocations"],
        "patients_evaluated": metrics["patientsEvaluated"],
        "no_funding": metrics["skippedDueToNoFunding"],
        "notifications": metrics["notificationsSent"],
        "email_jobs": metrics["emailJobs"],
        "db_queries": metrics["dbQueriesCount"],
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    name = f"zc_bench_{uuid.uuid4().hex[:8]}"
    url = args.admin_url.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(args.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        await migrate(url)
        runs = []
        for repeat in range(args.repeat):
            sizes = await seed(
                url,
                entries=args.entries,
                campaigns=args.campaigns,
                expiring=args.expiring,
                seed_value=0.1 + repeat / 10,
            )
            runs.append({"seeded": sizes, **await time_run(url)})
        seconds = [run["seconds"] for run in runs]
        return {
            "benchmark": "matching_run",
            "database": name,
            "python": sys.version.split()[0],
            "postgres": await _server_version(url),
            "config": "defaults (50 per type, 500 per run)",
            "entries": args.entries,
            "campaigns": args.campaigns,
            "expiring": args.expiring,
            "seconds_min": min(seconds),
            "seconds_median": statistics.median(seconds),
            "seconds_max": max(seconds),
            "goal_seconds": 5,
            "runs": runs,
        }
    finally:
        admin = await asyncpg.connect(args.admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _server_version(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--campaigns", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--expiring", type=int, default=0)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(main_async(args)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
