"""Analytics benchmark: the snapshot refresh, its rollups, and the dashboard endpoint on 1M + 1M.

Run: `.venv/bin/python bench/analytics_bench.py [--appointments N] [--transactions N]
[--runs R] [--requests Q] [--keep] [--reuse NAME]`.

It creates a scratch database `zc_bench_<id>` on 127.0.0.1:5432 (user postgres), migrates it
with `models.migrate`, seeds it with set-based `INSERT ... SELECT generate_series` statements
(pseudo-random but deterministic attributes from `hashint8extended`; the analytics triggers are
bypassed, replica mode), runs `VACUUM ANALYZE`, turns parallel query off for the database (one
backend then does all of a refresh's work, and its CPU time read from /proc is the whole cost),
then:

- `first_refresh`: the first `actors.analytics.snapshots.refresh()`, which builds the rollups;
- `refresh`: the refresh as the schedule runs it, nothing changed since the last one, `--runs`
  times (wall time with the load average before each, backend CPU seconds, per-kind walls);
- `refresh_after_busy_writes`: the same, each after a very busy five minutes of writes
  (`BUSY_WRITES`) on recent rows; `refresh_after_scattered_busy_writes`: the same writes spread
  over the whole history;
- `cold_full_rebuild`: `refresh(rebuild=True)`, the forced full rollup rebuild;
- `trigger_overhead`: 10,000-row write statements with the analytics triggers and without
  (`DISABLE TRIGGER USER`), each rolled back; `trigger_overhead_one_row`: the same for
  one-row statements as the edge issues them;
- serves `GET /api/v1/analytics/dashboard` from the stored snapshot: against a started edge
  process (`python -m edge`) with `--requests` sequential httpx requests (p50/p99/max, after a
  warm-up), or, when the edge has no analytics route, times the snapshot read query instead.

Prints one JSON object and drops the database at the end (unless `--keep`; `--reuse` measures
on a database kept before, without seeding it again). Goals: refresh < 2 s, endpoint p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

STATES = [
    "Lagos", "Abuja", "Kano", "Oyo", "Rivers", "Kaduna", "Enugu", "Ogun", "Anambra", "Delta",
    "Edo", "Plateau", "Borno", "Kwara", "Osun", "Ondo", "Akwa Ibom", "Cross River",
]  # fmt: skip


def seed_steps(n: dict[str, int]) -> list[tuple[str, str]]:
    """(label, SQL) in dependency order. `r(i, stream, m)` is a deterministic value in [0, m)."""
    states = "ARRAY[" + ", ".join(f"'{s}'" for s in STATES) + "]"
    span = 3 * 365 * 86400  # rows are spread over the last three years
    ago = f"(now() AT TIME ZONE 'UTC') - make_interval(secs => pg_temp.r(i, {{s}}, {span}))"
    return [
        (
            "helpers",
            """CREATE FUNCTION pg_temp.r(i bigint, stream int, m bigint) RETURNS bigint
               LANGUAGE sql IMMUTABLE AS
               'SELECT (hashint8extended(i, stream) & 9223372036854775807) % m'""",
        ),
        (
            "screening types",
            f"""INSERT INTO "ScreeningType" (id, name, "screeningTypeCategoryId", "agreedPrice")
            SELECT 'bench-st-' || i, 'Bench screening ' || i, 'screening', 10000 + 500 * i
            FROM generate_series(1, {n["types"]}) i""",
        ),
        (
            "users",
            f"""INSERT INTO "User" (id, "fullName", email, phone, "passwordHash", "createdAt")
            SELECT md5('u' || i)::uuid::text, 'Bench User ' || i, 'u' || i || '@bench.test',
                   '0803' || lpad(i::text, 7, '0'), 'x', {ago.format(s=1)}
            FROM generate_series(1, {n["users"]}) i""",
        ),
        (
            "patient profiles",
            f"""INSERT INTO "PatientProfile" (id, "userId", gender, "dateOfBirth", city, state)
            SELECT md5('pp' || i)::uuid::text, md5('u' || i)::uuid::text,
                   (ARRAY['MALE', 'FEMALE'])[1 + pg_temp.r(i, 2, 2)]::"Gender",
                   TIMESTAMP '1960-01-01' + make_interval(days => pg_temp.r(i, 3, 15000)::int),
                   'LGA ' || pg_temp.r(i, 4, 20),
                   CASE WHEN pg_temp.r(i, 5, 20) = 0 THEN NULL
                        ELSE ({states})[1 + pg_temp.r(i, 6, {len(STATES)})] END
            FROM generate_series(1, {n["users"]}) i WHERE i % 5 <> 0""",
        ),
        (
            "donor profiles",
            f"""INSERT INTO "DonorProfile" (id, "userId", "organizationName", country)
            SELECT md5('dp' || i)::uuid::text, md5('u' || i)::uuid::text, '', 'Nigeria'
            FROM generate_series(5, {n["users"]}, 5) i""",
        ),
        (
            "centers",
            f"""INSERT INTO "ServiceCenter" (id, email, "passwordHash", "centerName", address,
                                             state, lga, status, "createdAt")
            SELECT md5('c' || i)::uuid::text, 'c' || i || '@bench.test', 'x',
                   'Bench Center ' || lpad(i::text, 4, '0'), i || ' Bench Road',
                   ({states})[1 + pg_temp.r(i, 7, {len(STATES)})], 'LGA ' || pg_temp.r(i, 8, 20),
                   (ARRAY['ACTIVE', 'ACTIVE', 'ACTIVE', 'INACTIVE', 'SUSPENDED'])
                       [1 + pg_temp.r(i, 9, 5)]::"ServiceCenterStatus",
                   {ago.format(s=10)}
            FROM generate_series(1, {n["centers"]}) i""",
        ),
        (
            "campaigns",
            f"""INSERT INTO "DonationCampaign" (id, "donorId", "totalAmount", "availableAmount",
                                                title, status, "targetStates", "targetLgas",
                                                "createdAt", "updatedAt")
            SELECT md5('k' || i)::uuid::text, md5('u' || (5 + 5 * pg_temp.r(i, 11,
                       {n["users"] // 5 - 1})))::uuid::text,
                   t.total, t.total - pg_temp.r(i, 12, 1 + t.total::bigint),
                   CASE WHEN i % 50 = 0 THEN '' ELSE 'Bench campaign ' || i END,
                   (ARRAY['ACTIVE', 'ACTIVE', 'COMPLETED', 'DELETED', 'PENDING'])
                       [1 + pg_temp.r(i, 13, 5)]::"CampaignStatus",
                   ARRAY[]::text[], ARRAY[]::text[], {ago.format(s=14)}, now()
            FROM generate_series(1, {n["campaigns"]}) i,
                 LATERAL (SELECT (50000 + 1000 * pg_temp.r(i, 15, 500))::float8 AS total) t""",
        ),
        (
            "transactions",
            f"""INSERT INTO "Transaction" (id, "type", status, amount, "relatedDonationId",
                                           "paymentReference", "paymentChannel", "createdAt")
            SELECT md5('t' || i)::uuid::text, k.kind::"TransactionType",
                   (CASE WHEN pg_temp.r(i, 16, 100) < 85 THEN 'COMPLETED'
                         WHEN pg_temp.r(i, 16, 100) < 95 THEN 'PENDING'
                         ELSE 'FAILED' END)::"TransactionStatus",
                   1000 + 500 * pg_temp.r(i, 17, 40),
                   CASE WHEN k.kind = 'APPOINTMENT' THEN NULL
                        WHEN pg_temp.r(i, 18, 10) = 0 THEN 'general-donor-pool'
                        ELSE md5('k' || (1 + pg_temp.r(i, 19, {n["campaigns"]})))::uuid::text
                   END,
                   'bench-ref-' || i, 'PAYSTACK', {ago.format(s=20)}
            FROM generate_series(1, {n["transactions"]}) i,
                 LATERAL (SELECT CASE WHEN i <= {n["linked"]} THEN 'APPOINTMENT'
                                      WHEN i % 20 = 0 THEN 'REFUND'
                                      ELSE 'DONATION' END AS kind) k""",
        ),
        (
            "appointments",
            f"""INSERT INTO "Appointment" (id, "patientId", "centerId", "screeningTypeId",
                                           "donationId", "isDonation", "appointmentDateTime",
                                           "transactionId", status, "createdAt")
            SELECT md5('a' || i)::uuid::text, md5('u' || p.user_no)::uuid::text,
                   md5('c' || (1 + pg_temp.r(i, 21, {n["centers"]})))::uuid::text,
                   'bench-st-' || (1 + pg_temp.r(i, 22, {n["types"]})),
                   CASE WHEN i > {n["linked"]}
                        THEN md5('k' || (1 + pg_temp.r(i, 23, {n["campaigns"]})))::uuid::text
                   END,
                   i > {n["linked"]},
                   c.created + make_interval(days => 1 + pg_temp.r(i, 24, 30)::int),
                   CASE WHEN i <= {n["linked"]} THEN md5('t' || i)::uuid::text END,
                   (CASE WHEN pg_temp.r(i, 25, 100) < 40 THEN 'COMPLETED'
                         WHEN pg_temp.r(i, 25, 100) < 60 THEN 'SCHEDULED'
                         WHEN pg_temp.r(i, 25, 100) < 65 THEN 'IN_PROGRESS'
                         WHEN pg_temp.r(i, 25, 100) < 80 THEN 'PENDING'
                         ELSE 'CANCELLED' END)::"AppointmentStatus",
                   c.created
            FROM generate_series(1, {n["appointments"]}) i,
                 LATERAL (SELECT {ago.format(s=26)} AS created) c,
                 LATERAL (SELECT 1 + 5 * pg_temp.r(i, 27, {n["users"] // 5 - 1})
                                 + pg_temp.r(i, 28, 4) AS user_no) p""",
        ),
        (
            "screening results",
            """INSERT INTO "ScreeningResult" (id, "appointmentId", notes, "uploadedAt")
            SELECT md5('sr' || a.id)::uuid::text, a.id, NULL,
                   a."appointmentDateTime" + make_interval(hours => 2 + pg_temp.r(
                       hashtext(a.id), 29, 96)::int)
            FROM "Appointment" a
            WHERE a.status = 'COMPLETED'
               OR (a.status = 'IN_PROGRESS' AND hashtext(a.id) % 2 = 0)""",
        ),
        (
            "waitlist",
            f"""INSERT INTO "Waitlist" (id, "screeningTypeId", "patientId", status, "joinedAt",
                                        "claimedAt")
            SELECT md5('w' || i)::uuid::text, 'bench-st-' || (1 + pg_temp.r(i, 30, {n["types"]})),
                   md5('u' || (1 + 5 * pg_temp.r(i, 31, {n["users"] // 5 - 1})
                               + pg_temp.r(i, 32, 4)))::uuid::text,
                   s.status::"AllocationStatus", j.joined,
                   CASE WHEN s.status = 'CLAIMED'
                        THEN j.joined + make_interval(hours => 1 + pg_temp.r(i, 33, 900)::int)
                   END
            FROM generate_series(1, {n["waitlist"]}) i,
                 LATERAL (SELECT (ARRAY['PENDING', 'MATCHED', 'CLAIMED', 'EXPIRED'])
                                     [1 + pg_temp.r(i, 34, 4)] AS status) s,
                 LATERAL (SELECT {ago.format(s=35)} AS joined) j""",
        ),
        (
            "allocations",
            f"""INSERT INTO "DonationAllocation" (id, "waitlistId", "appointmentId", "patientId",
                                                  "campaignId", "claimedAt", "amountAllocated",
                                                  "createdViaMatching")
            SELECT md5('al' || w.id)::uuid::text, w.id,
                   CASE WHEN w.status = 'CLAIMED'
                        THEN md5('a' || ({n["linked"]} + 1 + pg_temp.r(hashtext(w.id), 36,
                                  {n["appointments"] - n["linked"]})))::uuid::text END,
                   w."patientId",
                   md5('k' || (1 + pg_temp.r(hashtext(w.id), 37, {n["campaigns"]})))::uuid::text,
                   w."claimedAt", 10000, true
            FROM "Waitlist" w WHERE w.status IN ('MATCHED', 'CLAIMED', 'EXPIRED')""",
        ),
        (
            "payouts",
            f"""INSERT INTO payouts (id, "batchReference", "payoutNumber", "centerId", amount,
                                     "netAmount", status, "periodStart", "periodEnd", reason,
                                     "updatedAt")
            SELECT md5('po' || i)::uuid::text, 'PAY_BENCH', 'PO-BENCH-' || i,
                   md5('c' || (1 + pg_temp.r(i, 38, {n["centers"]})))::uuid::text,
                   t.amount, t.amount - 10,
                   (ARRAY['PENDING', 'SUCCESS', 'FAILED', 'PROCESSING'])
                       [1 + pg_temp.r(i, 39, 4)]::"PayoutStatus",
                   now(), now(), 'bench', now()
            FROM generate_series(1, {n["payouts"]}) i,
                 LATERAL (SELECT (1000 + 100 * pg_temp.r(i, 40, 500))::float8 AS amount) t""",
        ),
    ]


def sizes(appointments: int, transactions: int) -> dict[str, int]:
    return {
        "appointments": appointments,
        "transactions": transactions,
        # Self-pay appointments, each linked to its own APPOINTMENT transaction.
        "linked": min(appointments, transactions) * 3 // 5,
        "users": max(1000, appointments // 5),
        "centers": max(10, appointments // 2000),
        "types": 20,
        "campaigns": max(10, transactions // 100),
        "waitlist": max(100, appointments // 4),
        "payouts": max(10, appointments // 200),
    }


async def seed(url: str, n: dict[str, int]) -> dict[str, float]:
    timings: dict[str, float] = {}
    conn = await asyncpg.connect(url)
    try:
        # The generated rows are consistent by construction; skipping the foreign-key triggers
        # (superuser only) makes seeding several times faster.
        await conn.execute("SET session_replication_role = replica")
        for label, sql in seed_steps(n):
            started = time.perf_counter()
            await conn.execute(sql)
            timings[label] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        timings["vacuum analyze"] = round(time.perf_counter() - started, 2)
    finally:
        await conn.close()
    return timings


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def backend_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a local PostgreSQL backend, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(values: list[float], digits: int = 3) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "runs": [round(v, digits) for v in values],
    }


async def time_refreshes(
    url: str,
    n: dict[str, int],
    runs: int,
    *,
    rebuild: bool = False,
    writes: int = 0,
    scattered: bool = False,
) -> dict[str, Any]:
    """`snapshots.refresh()` as the schedule runs it (`rebuild`: a forced full rollup rebuild)
    `runs` times, each after `writes` rounds of `busy_writes` (0: nothing changed since the last
    refresh). Wall time with the load average, and the CPU seconds of the one database backend
    doing the work: the database runs without parallel query for the bench, so that figure is
    all the work and other processes do not inflate it."""
    from tortoise import connections

    from actors.analytics import snapshots
    from models.db import connect, disconnect

    walls: list[float] = []
    cpus: list[float] = []
    loads: list[list[float]] = []
    modes: list[str] = []
    await connect(url, max_size=1)
    try:
        conn = connections.get("default")
        pid = (await conn.execute_query_dict("SELECT pg_backend_pid() AS pid"))[0]["pid"]
        await snapshots.refresh()  # the rollups are current, the connection warm
        for run in range(runs):
            for round_ in range(writes):
                await busy_writes(
                    url,
                    n,
                    seed=1000 * run + round_ + int(time.time()) % 100_000,
                    scattered=scattered,
                )
            loads.append(load_average())
            before = backend_cpu_seconds(pid)
            started = time.perf_counter()
            refreshed = await snapshots.refresh(rebuild=rebuild)
            walls.append(time.perf_counter() - started)
            cpus.append(backend_cpu_seconds(pid) - before)
            modes.append(refreshed.rollup_update)
        per_kind: dict[str, float] = {}
        if not rebuild and not writes:
            for kind in ("dashboard", "time", "geographic", "centers", "campaigns"):
                started = time.perf_counter()
                await snapshots.refresh(kind)
                per_kind[kind] = round((time.perf_counter() - started) * 1000, 1)
    finally:
        await disconnect()
    result = {
        "wall_s": summary(walls),
        "cpu_s": summary(cpus, 2),
        "load_average_before_each": loads,
        "rollups": sorted(set(modes)),
    }
    if per_kind:
        result["single_kind_wall_ms"] = per_kind
    return result


async def first_refresh(url: str) -> dict[str, Any]:
    """The first refresh after seeding: the seed bypassed the triggers (replica mode) and the
    rollups were never built, so it rebuilds them."""
    from actors.analytics import snapshots
    from models.db import connect, disconnect

    await connect(url, max_size=1)
    try:
        load = load_average()
        started = time.perf_counter()
        refreshed = await snapshots.refresh()
        wall = time.perf_counter() - started
    finally:
        await disconnect()
    return {"wall_s": round(wall, 3), "load_average": load, "rollups": refreshed.rollup_update}


#: One round of `busy_writes` (a very busy five minutes: about 300 times the seeded average
#: rate): new bookings paid through, 1,000 status changes, 300 results, 200 users, 500
#: donations, 300 claimed waitlist entries. The changes hit appointments and entries of the last
#: 60 days (`{appointments}`, `{entries}`: how the targets are picked) or, `scattered`, rows
#: spread evenly over the three years of history (the worst case for the rollups: every
#: centre-month and day becomes a key to recompute). `$1` makes each round's rows differ.
BUSY_WRITES = (
    """INSERT INTO "Transaction" (id, "type", status, amount, "paymentReference",
                                  "paymentChannel", "createdAt")
       SELECT 'busy-t-' || $1::bigint || '-' || i, 'APPOINTMENT', 'PENDING', 1000 + 500 * (i % 40),
              'busy-ref-' || $1::bigint || '-' || i, 'PAYSTACK', now() AT TIME ZONE 'UTC'
       FROM generate_series(1, 600) i""",
    """INSERT INTO "Appointment" (id, "patientId", "centerId", "screeningTypeId",
                                  "appointmentDateTime", "transactionId", status, "createdAt")
       SELECT 'busy-a-' || $1::bigint || '-' || i, p.id, c.id, 'bench-st-' || (1 + i % 20),
              now() AT TIME ZONE 'UTC' + interval '3 days',
              CASE WHEN i <= 600 THEN 'busy-t-' || $1::bigint || '-' || i END, 'SCHEDULED',
              now() AT TIME ZONE 'UTC'
       FROM generate_series(1, 1000) i
       CROSS JOIN LATERAL (
           SELECT md5('u' || (1 + (hashint8(i + $1::bigint * 7919) & 65535) % {patients} * 5))
                      ::uuid::text AS id) p
       CROSS JOIN LATERAL (
           SELECT md5('c' || (1 + (hashint8(i * 31 + $1::bigint) & 65535) % {centers}))
                      ::uuid::text AS id) c""",
    """UPDATE "Transaction" SET status = 'COMPLETED'
       WHERE id LIKE 'busy-t-' || $1::bigint || '-%'""",
    """UPDATE "Appointment" SET status = 'COMPLETED'
       WHERE id IN ({appointments} LIMIT 1000)""",
    """INSERT INTO "ScreeningResult" (id, "appointmentId", "uploadedAt")
       SELECT 'busy-r-' || a.id, a.id, a."appointmentDateTime" + interval '5 hours'
       FROM "Appointment" a
       WHERE a.id IN ({appointments} OFFSET 1000 LIMIT 300)
       ON CONFLICT DO NOTHING""",
    """WITH u AS (
           INSERT INTO "User" (id, "fullName", email, "passwordHash", "createdAt")
           SELECT 'busy-u-' || $1::bigint || '-' || i, 'Busy',
                  'busy-' || $1::bigint || '-' || i || '@b.test', 'x', now() AT TIME ZONE 'UTC'
           FROM generate_series(1, 200) i RETURNING id)
       INSERT INTO "PatientProfile" (id, "userId", "dateOfBirth", state)
       SELECT 'pp-' || id, id, '1990-01-01', 'Lagos' FROM u""",
    """INSERT INTO "Transaction" (id, "type", status, amount, "relatedDonationId",
                                  "paymentReference", "paymentChannel", "createdAt")
       SELECT 'busy-d-' || $1::bigint || '-' || i, 'DONATION', 'COMPLETED', 5000,
              CASE WHEN i % 10 = 0 THEN 'general-donor-pool'
                   ELSE md5('k' || (1 + (hashint8(i + $1::bigint) & 65535) % {campaigns}))
                            ::uuid::text END,
              'busy-dref-' || $1::bigint || '-' || i, 'PAYSTACK', now() AT TIME ZONE 'UTC'
       FROM generate_series(1, 500) i""",
    """UPDATE "Waitlist" SET status = 'CLAIMED', "claimedAt" = "joinedAt" + interval '2 days'
       WHERE id IN ({entries} LIMIT 300)""",
)

_RECENT_APPOINTMENTS = """SELECT id FROM "Appointment"
    WHERE "createdAt" >= (now() AT TIME ZONE 'UTC') - interval '60 days'
    ORDER BY md5(id || $1::bigint)"""
_RECENT_ENTRIES = """SELECT id FROM "Waitlist"
    WHERE "joinedAt" >= (now() AT TIME ZONE 'UTC') - interval '60 days'
    ORDER BY md5(id || $1::bigint)"""
_SCATTERED_APPOINTMENTS = """SELECT md5('a' || (1 + (hashint8(i + $1::bigint * 104729)
                                & 2147483647) % {n_appointments}))::uuid::text
    FROM generate_series(1, 1300) i"""
_SCATTERED_ENTRIES = """SELECT md5('w' || (1 + (hashint8(i + $1::bigint * 15485863)
                                & 2147483647) % {n_waitlist}))::uuid::text
    FROM generate_series(1, 300) i"""


async def busy_writes(url: str, n: dict[str, int], *, seed: int, scattered: bool) -> None:
    sizes = {
        "patients": n["users"] // 5 - 1,
        "centers": n["centers"],
        "campaigns": n["campaigns"],
        "appointments": (_SCATTERED_APPOINTMENTS if scattered else _RECENT_APPOINTMENTS).format(
            n_appointments=n["appointments"]
        ),
        "entries": (_SCATTERED_ENTRIES if scattered else _RECENT_ENTRIES).format(
            n_waitlist=n["waitlist"]
        ),
    }
    conn = await asyncpg.connect(url)
    try:
        for sql in BUSY_WRITES:
            await conn.execute(sql.format(**sizes), seed)
    finally:
        await conn.close()


async def trigger_overhead(url: str, runs: int) -> dict[str, Any]:
    """Write statements with the analytics triggers and with them disabled (`DISABLE TRIGGER
    USER`), alternately, each in a transaction rolled back afterwards: statement wall time and
    backend CPU (10 ms ticks). The minimum is the figure least disturbed by other processes."""
    statements = {
        "insert 10,000 appointments": (
            "Appointment",
            """INSERT INTO "Appointment" (id, "patientId", "centerId", "screeningTypeId",
                                          "appointmentDateTime", status, "createdAt")
               SELECT 'ovh-a-' || i, md5('u' || (1 + i % 40000 * 5))::uuid::text,
                      md5('c' || (1 + i % 500))::uuid::text, 'bench-st-1',
                      now() AT TIME ZONE 'UTC', 'SCHEDULED',
                      now() AT TIME ZONE 'UTC' - make_interval(days => i % 30)
               FROM generate_series(1, 10000) i""",
        ),
        "insert 10,000 completed transactions": (
            "Transaction",
            """INSERT INTO "Transaction" (id, "type", status, amount, "relatedDonationId",
                                          "paymentReference", "createdAt")
               SELECT 'ovh-t-' || i, 'DONATION', 'COMPLETED', 1000,
                      md5('k' || (1 + i % 10000))::uuid::text, 'ovh-ref-' || i,
                      now() AT TIME ZONE 'UTC' - make_interval(days => i % 30)
               FROM generate_series(1, 10000) i""",
        ),
        "update the status of 10,000 appointments": (
            "Appointment",
            """UPDATE "Appointment" SET status = 'IN_PROGRESS'
               WHERE id IN (SELECT md5('a' || i)::uuid::text
                            FROM generate_series(1, 1000000, 100) i)""",
        ),
    }
    conn = await asyncpg.connect(url)
    result: dict[str, Any] = {"load_average": load_average()}
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        for label, (table, sql) in statements.items():
            measured: dict[str, dict[str, list[float]]] = {
                "with_triggers": {"ms": [], "cpu_ms": []},
                "without_triggers": {"ms": [], "cpu_ms": []},
            }
            for _ in range(runs):
                for variant in ("with_triggers", "without_triggers"):
                    transaction = conn.transaction()
                    await transaction.start()
                    try:
                        if variant == "without_triggers":
                            await conn.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
                        before = backend_cpu_seconds(pid)
                        started = time.perf_counter()
                        await conn.execute(sql)
                        measured[variant]["ms"].append((time.perf_counter() - started) * 1000)
                        measured[variant]["cpu_ms"].append(
                            (backend_cpu_seconds(pid) - before) * 1000
                        )
                    finally:
                        await transaction.rollback()
            result[label] = {
                variant: {key: summary(values, 1) for key, values in figures.items()}
                for variant, figures in measured.items()
            }
    finally:
        await conn.close()
    return result


async def single_row_overhead(url: str, rounds: int = 3) -> dict[str, Any]:
    """What the triggers add to one-row statements, as the edge issues them: 2,000 status
    updates of appointments and 2,000 inserts of PENDING transactions (no key recorded: only
    completed ones are in the rollups), one statement each, with and without the triggers,
    rolled back; per statement, the best of `rounds`."""
    conn = await asyncpg.connect(url)
    result: dict[str, Any] = {"load_average": load_average()}
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        ids = [
            row[0]
            for row in await conn.fetch('SELECT id FROM "Appointment" ORDER BY md5(id) LIMIT 2000')
        ]
        cases = {
            "update one appointment's status": (
                "Appointment",
                "UPDATE \"Appointment\" SET status = 'IN_PROGRESS' WHERE id = $1",
                ids,
            ),
            "insert one PENDING transaction": (
                "Transaction",
                """INSERT INTO "Transaction" (id, "type", status, amount, "paymentReference",
                                              "createdAt")
                   VALUES ($1, 'APPOINTMENT', 'PENDING', 1000, $1, now() AT TIME ZONE 'UTC')""",
                [f"one-row-{k}" for k in range(2000)],
            ),
        }
        for label, (table, sql, args) in cases.items():
            best: dict[str, dict[str, float]] = {}
            for _ in range(rounds):
                for variant in ("with_triggers", "without_triggers"):
                    transaction = conn.transaction()
                    await transaction.start()
                    try:
                        if variant == "without_triggers":
                            await conn.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
                        before = backend_cpu_seconds(pid)
                        started = time.perf_counter()
                        for arg in args:
                            await conn.execute(sql, arg)
                        wall = (time.perf_counter() - started) * 1000 / len(args)
                        used = (backend_cpu_seconds(pid) - before) * 1000 / len(args)
                    finally:
                        await transaction.rollback()
                    figures = best.setdefault(variant, {"wall_ms": wall, "cpu_ms": used})
                    figures["wall_ms"] = min(figures["wall_ms"], wall)
                    figures["cpu_ms"] = min(figures["cpu_ms"], used)
            result[label] = {
                variant: {key: round(value, 3) for key, value in figures.items()}
                for variant, figures in best.items()
            }
    finally:
        await conn.close()
    return result


async def set_parallel_query(admin_url: str, name: str, enabled: bool) -> None:
    """Parallel query on or off for new sessions of the bench database: off, one backend does
    all of a statement's work and its CPU time is the whole cost."""
    admin = await asyncpg.connect(admin_url)
    try:
        if enabled:
            await admin.execute(f'ALTER DATABASE "{name}" RESET max_parallel_workers_per_gather')
        else:
            await admin.execute(f'ALTER DATABASE "{name}" SET max_parallel_workers_per_gather = 0')
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def start_edge(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m edge` on 127.0.0.1:`port`, its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "edge", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def time_endpoint(url: str, requests: int) -> dict[str, Any]:
    """p50/p99 of GET /api/v1/analytics/dashboard against a started edge process."""
    import httpx

    from edge.auth.tokens import Claims, encode
    from edge.settings import EdgeSettings

    secret = "bench-" + uuid.uuid4().hex + "-secret-long-enough-for-hs256"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "JWT_TOKEN_SECRET": secret,
        "FRONTEND_URL": "http://frontend.bench",
        "ZEROCANCER_ENV": "bench",
        "ANALYTICS_MAX_AGE_SECONDS": "3600",
    }
    env.pop("ZEROCANCER_EMBEDDED", None)
    port = free_port()
    admin_id = str(uuid.uuid4())
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            'INSERT INTO "Admins" (id, "fullName", email, "passwordHash") VALUES ($1, $2, $3, $4)',
            admin_id,
            "Bench Admin",
            f"admin-{admin_id[:8]}@bench.test",
            "x",
        )
    finally:
        await conn.close()
    settings = EdgeSettings.from_env(env)
    now = int(time.time())
    token = encode(
        settings,
        Claims(id=admin_id, email="admin@bench.test", profile="ADMIN", typ="access", iat=now,
               exp=now + 3600),
    )  # fmt: skip
    log = Path(tempfile.gettempdir()) / f"zc-bench-edge-{port}.log"
    process = start_edge(port, env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10.0) as client:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"edge exited: {log.read_text()[-3000:]}")
                try:
                    if (await client.get("/api/v1/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"edge did not start: {log.read_text()[-3000:]}")
                await asyncio.sleep(0.2)
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(50):  # warm-up: connections, prepared statements
                response = await client.get("/api/v1/analytics/dashboard", headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"dashboard answered {response.status_code}")
            latencies: list[float] = []
            for _ in range(requests):
                started = time.perf_counter()
                response = await client.get("/api/v1/analytics/dashboard", headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200 or response.json().get("stale"):
                    raise RuntimeError(f"unexpected answer {response.status_code}")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    return {
        "mode": "edge",
        "requests": requests,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
    }


async def time_snapshot_read(url: str, requests: int) -> dict[str, Any]:
    """p50/p99 of the query the endpoint answers from (no edge route to call)."""
    conn = await asyncpg.connect(url)
    try:
        sql = (
            "SELECT data::text, computed_at FROM analytics_snapshots WHERE kind = $1 AND scope = $2"
        )
        latencies: list[float] = []
        for _ in range(requests):
            started = time.perf_counter()
            await conn.fetchrow(sql, "dashboard", "")
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
    return {
        "mode": "snapshot query",
        "requests": requests,
        "p50_ms": round(percentile(latencies, 50), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
    }


def edge_has_analytics() -> bool:
    return importlib.util.find_spec("edge.routes.analytics") is not None


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse",
        metavar="NAME",
        help="measure on a database seeded by an earlier run with --keep (same sizes): it is "
        "migrated, not seeded, and kept",
    )
    args = parser.parse_args(argv)

    from models.migrate import migrate

    name = args.reuse or f"zc_bench_{uuid.uuid4().hex[:8]}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    if not args.reuse:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
    result: dict[str, Any] = {
        "database": name,
        "started": datetime.now(UTC).isoformat(),
        "cpus": os.cpu_count(),
        # Other processes on the machine slow every figure: their load is reported with them.
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        await migrate(url)
        n = sizes(args.appointments, args.transactions)
        result["rows"] = n
        if not args.reuse:
            started = time.perf_counter()
            result["seed_s"] = await seed(url, n)
            result["seed_total_s"] = round(time.perf_counter() - started, 1)
        await set_parallel_query(PG_ADMIN_URL, name, enabled=False)
        try:
            result["first_refresh"] = await first_refresh(url)
            # The first refresh after seeding builds the rollups (the seed bypassed the
            # triggers); then the refresh as the schedule runs it, with nothing changed and
            # after a busy five minutes of writes; then forced full rebuilds.
            result["refresh"] = await time_refreshes(url, n, args.runs)
            result["refresh_after_busy_writes"] = await time_refreshes(url, n, args.runs, writes=1)
            result["refresh_after_scattered_busy_writes"] = await time_refreshes(
                url, n, args.runs, writes=1, scattered=True
            )
            result["cold_full_rebuild"] = await time_refreshes(url, n, args.runs, rebuild=True)
            result["trigger_overhead"] = await trigger_overhead(url, max(args.runs, 7))
            result["trigger_overhead_one_row"] = await single_row_overhead(url)
        finally:
            await set_parallel_query(PG_ADMIN_URL, name, enabled=True)
        if edge_has_analytics():
            result["endpoint"] = await time_endpoint(url, args.requests)
        else:
            result["endpoint"] = await time_snapshot_read(url, args.requests)
        result["goals"] = {
            "refresh_under_2s": result["refresh"]["wall_s"]["median"] < 2.0,
            "refresh_after_busy_writes_under_2s": (
                result["refresh_after_busy_writes"]["wall_s"]["median"] < 2.0
            ),
            "endpoint_p99_under_50ms": result["endpoint"]["p99_ms"] < 50.0,
        }
    finally:
        if not args.keep and not args.reuse:
            admin = await asyncpg.connect(PG_ADMIN_URL)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
