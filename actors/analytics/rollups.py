"""Analytics rollups: small tables of the base tables, kept exact by recomputing changed keys.

`models/migrations/0012_analytics_rollups.sql` creates the rollup tables and the triggers. The
triggers compute nothing: every write statement on a base table appends the keys it touched to
`analytics.dirty_keys`. `bring_up_to_date(conn)` (first thing in every refresh transaction)
takes those keys and recomputes exactly those rollup rows from the base tables, set-based, one
statement per source; the reports are then built from the rollups (`queries.py`).

| source | key, day | rollup rows recomputed (tables of schema `analytics`) |
|---|---|---|
| `appointment` | centre, creation day | `appointment_center_days`, then their months in |
| | | `appointment_months` (the reports read months: 36 rows per centre, not 1,100) |
| `appointment_day` | creation day | `appointment_days` |
| `link` | transaction id | `shared_transactions` (transactions of several appointments) |
| `transaction` | DONATION's campaign or NULL, day | `transaction_days`, |
| | | `campaign_donation_months`, then their campaigns in `campaign_donations` |
| `user` | creation day | `user_days` |
| `state` | patient profile state | `states` |
| `waitlist` | its patient's state, day joined | `waitlist_days` (state, day; a whole state |
| | (NULL: the whole state) | when a profile was deleted or changed) |
| `allocation` | campaign | `campaign_allocations` |

The refresh itself queues `appointment_month` (centre, month) and `campaign` keys for the
second level of the two-level rollups.

Every sum is `numeric`, so a rollup row recomputed alone equals the same row of a full rebuild
exactly, whatever the order the rows were read in. Each source is taken and recomputed in ONE
statement (one snapshot): a key is removed only together with the recomputation that saw the
change that recorded it; keys committed meanwhile stay for the next refresh.

A full rebuild runs when `analytics.rollup_state` has no row (first refresh after the
migration, after a TRUNCATE of a base table, which deletes it, or after a crash, which empties
the unlogged analytics tables) or when asked
(`refresh(rebuild=True)`, `python -m actors.analytics.rollups --rebuild`). One refresh at a
time updates the rollups (a transaction-level advisory lock).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

#: Advisory lock serialising rollup updates ("zcrollup" in ASCII).
LOCK_KEY = 0x7A63726F6C6C7570

#: Rollup tables, emptied by a full rebuild.
TABLES = (
    "analytics.appointment_center_days",
    "analytics.appointment_months",
    "analytics.appointment_days",
    "analytics.transaction_days",
    "analytics.campaign_donation_months",
    "analytics.campaign_donations",
    "analytics.campaign_allocations",
    "analytics.user_days",
    "analytics.states",
    "analytics.waitlist_days",
    "analytics.shared_transactions",
)

# -- what one rollup row holds, from a row source -------------------------------------------------
# Appointments: `src` has center_id, day, status, appointment_at, uploaded_at (of its screening
# result, NULL when none), amount (of its COMPLETED transaction, NULL when none).
_APPOINTMENT_DAY_COLUMNS = """src.center_id, src.day,
           count(*), count(*) FILTER (WHERE src.status = 'COMPLETED'),
           count(*) FILTER (WHERE src.status IN ('IN_PROGRESS', 'COMPLETED')),
           count(*) FILTER (WHERE src.status IN ('SCHEDULED', 'IN_PROGRESS')),
           count(src.uploaded_at),
           COALESCE(sum(extract(epoch FROM src.uploaded_at - src.appointment_at)), 0),
           COALESCE(sum(src.amount::numeric), 0),
           count(src.amount)"""

_APPOINTMENT_FIGURES = (
    "total, completed, progressed, pending, with_result, result_seconds, linked_revenue, "
    "linked_count"
)
_APPOINTMENT_DAY_NAMES = f"center_id, day, {_APPOINTMENT_FIGURES}"
_APPOINTMENT_MONTH_NAMES = f"center_id, month, {_APPOINTMENT_FIGURES}"
#: A month of a centre: the sums of its days (`d`: rows of `analytics.appointment_center_days`).
_APPOINTMENT_MONTH_SUMS = """d.center_id, date_trunc('month', d.day),
           sum(d.total), sum(d.completed), sum(d.progressed), sum(d.pending),
           sum(d.with_result), sum(d.result_seconds), sum(d.linked_revenue), sum(d.linked_count)"""

#: Revenue transactions (queries.py `_REVENUE`), as a filter on `t`.
_REVENUE = (
    "t.\"type\" IN ('DONATION', 'APPOINTMENT') AND t.\"paymentChannel\" IS DISTINCT FROM 'DONATION'"
)
_TRANSACTION_DAY_COLUMNS = f"""date_trunc('day', t."createdAt"),
           COALESCE(sum(t.amount::numeric) FILTER (WHERE {_REVENUE}), 0),
           count(*) FILTER (WHERE {_REVENUE}),
           COALESCE(sum(t.amount::numeric) FILTER (WHERE t."type" = 'DONATION'), 0)"""

# Waitlist entries: `src` has state (of the patient's profile, '' without one), day (joined),
# status, joined_at, claimed_at.
_WAITLIST_DAY_COLUMNS = """src.state, src.day, count(*),
           count(*) FILTER (WHERE src.status = 'PENDING'),
           count(*) FILTER (WHERE src.status IN ('MATCHED', 'CLAIMED')),
           count(src.claimed_at),
           COALESCE(sum(extract(epoch FROM src.claimed_at - src.joined_at)), 0)"""
_WAITLIST_DAY_NAMES = "state, day, entries, pending, matched, claimed, wait_seconds"

# -- full rebuild ----------------------------------------------------------------------------------
#: Settings of the rebuild statements (the caller's are restored afterwards): half a million
#: (centre, day) groups, which the planner expects to be a million, are hashed in memory
#: instead of a million rows sorted and spilled to disk.
REBUILD_SETTINGS = {"work_mem": "256MB"}

REBUILD = (
    "DELETE FROM analytics.dirty_keys",
    # Only refreshes touch the rollup tables, one at a time (the advisory lock).
    f"TRUNCATE {', '.join(TABLES)}",
    f"""INSERT INTO analytics.appointment_center_days
    SELECT {_APPOINTMENT_DAY_COLUMNS}
    FROM (
        SELECT a."centerId" AS center_id, date_trunc('day', a."createdAt") AS day, a.status,
               a."appointmentDateTime" AS appointment_at, r."uploadedAt" AS uploaded_at, t.amount
        FROM "Appointment" a
        LEFT JOIN "ScreeningResult" r ON r."appointmentId" = a.id
        LEFT JOIN "Transaction" t ON t.id = a."transactionId" AND t.status = 'COMPLETED'
    ) src
    GROUP BY 1, 2
    ORDER BY 1, 2""",
    f"""INSERT INTO analytics.appointment_months
    SELECT {_APPOINTMENT_MONTH_SUMS} FROM analytics.appointment_center_days d GROUP BY 1, 2""",
    """INSERT INTO analytics.appointment_days
    SELECT date_trunc('day', "createdAt"), count(*) FROM "Appointment" GROUP BY 1""",
    """INSERT INTO analytics.shared_transactions
    SELECT "transactionId" FROM "Appointment" WHERE "transactionId" IS NOT NULL
    GROUP BY 1 HAVING count(*) > 1""",
    f"""INSERT INTO analytics.transaction_days
    SELECT {_TRANSACTION_DAY_COLUMNS}
    FROM "Transaction" t WHERE t.status = 'COMPLETED' GROUP BY 1""",
    """INSERT INTO analytics.campaign_donation_months
    SELECT "relatedDonationId", date_trunc('month', "createdAt"), sum(amount::numeric), count(*)
    FROM "Transaction"
    WHERE status = 'COMPLETED' AND "type" = 'DONATION' AND "relatedDonationId" IS NOT NULL
    GROUP BY 1, 2""",
    """INSERT INTO analytics.campaign_donations
    SELECT campaign_id, sum(amount), sum(n) FROM analytics.campaign_donation_months
    GROUP BY 1""",
    """INSERT INTO analytics.campaign_allocations
    SELECT al."campaignId", count(*), count(*) FILTER (WHERE ap.status = 'COMPLETED')
    FROM "DonationAllocation" al LEFT JOIN "Appointment" ap ON ap.id = al."appointmentId"
    GROUP BY 1""",
    """INSERT INTO analytics.user_days
    SELECT date_trunc('day', "createdAt"), count(*) FROM "User" GROUP BY 1""",
    """INSERT INTO analytics.states
    SELECT state, count(*) FROM "PatientProfile" WHERE COALESCE(state, '') <> ''
    GROUP BY state""",
    f"""INSERT INTO analytics.waitlist_days
    SELECT {_WAITLIST_DAY_COLUMNS}
    FROM (
        SELECT COALESCE(p.state, '') AS state, date_trunc('day', w."joinedAt") AS day, w.status,
               w."joinedAt" AS joined_at, w."claimedAt" AS claimed_at
        FROM "Waitlist" w LEFT JOIN "PatientProfile" p ON p."userId" = w."patientId"
    ) src
    GROUP BY 1, 2""",
    """INSERT INTO analytics.rollup_state (id, built_at) VALUES (true, now())
    ON CONFLICT (id) DO UPDATE SET built_at = EXCLUDED.built_at""",
)


# -- recomputing the keys that changed -------------------------------------------------------------
def _replace(table: str, keys: str, columns: str, fresh: str, key_columns: Sequence[str]) -> str:
    """`upserted` and `removed` CTEs: rows of `fresh` replace `table`'s rows of `keys` (same
    key columns), rows of `keys` that `fresh` lacks are deleted (their group is now empty)."""
    match = " AND ".join(f"x.{c} = k.{c}" for c in key_columns)
    in_fresh = " AND ".join(f"f.{c} = x.{c}" for c in key_columns)
    conflict = ", ".join(key_columns)
    assignments = ", ".join(
        f"{c} = EXCLUDED.{c}" for c in columns.split(", ") if c not in key_columns
    )
    name = table.removeprefix("analytics.")
    action = f"UPDATE SET {assignments}" if assignments else "NOTHING"
    return f"""upserted_{name} AS (
        INSERT INTO {table} ({columns}) SELECT * FROM {fresh}
        ON CONFLICT ({conflict}) DO {action}
    ),
    removed_{name} AS (
        DELETE FROM {table} x USING {keys} k
        WHERE {match} AND NOT EXISTS (SELECT 1 FROM {fresh} f WHERE {in_fresh})
    )"""


# Per dirty (centre, day) one range scan of its appointments (index on "centerId",
# "createdAt"), the result and transaction of each by index (scalar subqueries: never a hash of
# the big tables, whatever the planner guesses about the number of keys). OFFSET 0 keeps the
# planner from flattening the per-key scan into a join over the whole table. The months of the
# recomputed days are queued for `UPDATE_APPOINTMENT_MONTHS`.
UPDATE_APPOINTMENTS = f"""
WITH taken AS (
    DELETE FROM analytics.dirty_keys WHERE source IN ('appointment', 'appointment_day')
    RETURNING source, key, day
),
center_day_keys AS (
    SELECT DISTINCT key AS center_id, day FROM taken WHERE source = 'appointment'
),
day_keys AS (SELECT DISTINCT day FROM taken WHERE source = 'appointment_day'),
fresh_center_days ({_APPOINTMENT_DAY_NAMES}) AS (
    SELECT {_APPOINTMENT_DAY_COLUMNS}
    FROM center_day_keys k
    CROSS JOIN LATERAL (
        SELECT k.center_id, k.day, a.status,
               a."appointmentDateTime" AS appointment_at,
               (SELECT r."uploadedAt" FROM "ScreeningResult" r
                WHERE r."appointmentId" = a.id) AS uploaded_at,
               (SELECT t.amount FROM "Transaction" t
                WHERE t.id = a."transactionId" AND t.status = 'COMPLETED') AS amount
        FROM "Appointment" a
        WHERE a."centerId" = k.center_id
          AND a."createdAt" >= k.day AND a."createdAt" < k.day + interval '1 day'
        OFFSET 0
    ) src
    GROUP BY 1, 2
),
fresh_days (day, n) AS (
    SELECT d.day, c.n FROM day_keys d
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM "Appointment" a
        WHERE a."createdAt" >= d.day AND a."createdAt" < d.day + interval '1 day'
    ) c
    WHERE c.n > 0
),
{_replace("analytics.appointment_center_days", "center_day_keys", _APPOINTMENT_DAY_NAMES,
          "fresh_center_days", ("center_id", "day"))},
{_replace("analytics.appointment_days", "day_keys", "day, n", "fresh_days", ("day",))},
queued AS (
    INSERT INTO analytics.dirty_keys (source, key, day)
    SELECT DISTINCT 'appointment_month', center_id, date_trunc('month', day)
    FROM center_day_keys
)
SELECT count(*) FROM taken"""  # fmt: skip

# A centre's month: the sums of its (already recomputed) days.
UPDATE_APPOINTMENT_MONTHS = f"""
WITH taken AS (
    DELETE FROM analytics.dirty_keys WHERE source = 'appointment_month' RETURNING key, day
),
month_keys AS (SELECT DISTINCT key AS center_id, day AS month FROM taken),
fresh ({_APPOINTMENT_MONTH_NAMES}) AS (
    SELECT {_APPOINTMENT_MONTH_SUMS}
    FROM month_keys k
    CROSS JOIN LATERAL (
        SELECT * FROM analytics.appointment_center_days d
        WHERE d.center_id = k.center_id
          AND d.day >= k.month AND d.day < k.month + interval '1 month'
        OFFSET 0
    ) d
    GROUP BY 1, 2
),
{_replace("analytics.appointment_months", "month_keys", _APPOINTMENT_MONTH_NAMES, "fresh",
          ("center_id", "month"))}
SELECT count(*) FROM taken"""  # fmt: skip

UPDATE_LINKS = f"""
WITH taken AS (DELETE FROM analytics.dirty_keys WHERE source = 'link' RETURNING key),
candidates AS (
    SELECT key AS transaction_id FROM taken
    UNION SELECT transaction_id FROM analytics.shared_transactions
),
fresh (transaction_id) AS (
    SELECT a."transactionId" FROM "Appointment" a
    WHERE a."transactionId" IN (SELECT transaction_id FROM candidates)
    GROUP BY 1 HAVING count(*) > 1
),
{_replace("analytics.shared_transactions", "candidates", "transaction_id", "fresh",
          ("transaction_id",))}
SELECT count(*) FROM taken"""  # fmt: skip

# Per dirty day its transactions, per dirty (campaign, month) its donations (indexes on
# "createdAt" and on ("relatedDonationId", "createdAt")); the campaigns of the recomputed months
# are queued for `UPDATE_CAMPAIGN_DONATIONS`. The general pool takes a donation every few
# minutes: only its current month is recounted, not its whole history.
UPDATE_TRANSACTIONS = f"""
WITH taken AS (
    DELETE FROM analytics.dirty_keys WHERE source = 'transaction' RETURNING key, day
),
day_keys AS (SELECT DISTINCT day FROM taken),
month_keys AS (
    SELECT DISTINCT key AS campaign_id, date_trunc('month', day) AS month FROM taken
    WHERE key IS NOT NULL
),
fresh_days (day, revenue, revenue_n, donations) AS (
    SELECT {_TRANSACTION_DAY_COLUMNS}
    FROM day_keys d
    CROSS JOIN LATERAL (
        SELECT * FROM "Transaction" t
        WHERE t."createdAt" >= d.day AND t."createdAt" < d.day + interval '1 day'
          AND t.status = 'COMPLETED'
        OFFSET 0
    ) t
    GROUP BY 1
),
fresh_months (campaign_id, month, amount, n) AS (
    SELECT k.campaign_id, k.month, sum(t.amount::numeric), count(*)
    FROM month_keys k
    CROSS JOIN LATERAL (
        SELECT t.amount FROM "Transaction" t
        WHERE t."relatedDonationId" = k.campaign_id
          AND t."createdAt" >= k.month AND t."createdAt" < k.month + interval '1 month'
          AND t.status = 'COMPLETED' AND t."type" = 'DONATION'
        OFFSET 0
    ) t
    GROUP BY 1, 2
),
{_replace("analytics.transaction_days", "day_keys", "day, revenue, revenue_n, donations",
          "fresh_days", ("day",))},
{_replace("analytics.campaign_donation_months", "month_keys", "campaign_id, month, amount, n",
          "fresh_months", ("campaign_id", "month"))},
queued AS (
    INSERT INTO analytics.dirty_keys (source, key)
    SELECT DISTINCT 'campaign', campaign_id FROM month_keys
)
SELECT count(*) FROM taken"""  # fmt: skip

UPDATE_CAMPAIGN_DONATIONS = f"""
WITH taken AS (DELETE FROM analytics.dirty_keys WHERE source = 'campaign' RETURNING key),
campaign_keys AS (SELECT DISTINCT key AS campaign_id FROM taken),
fresh (campaign_id, amount, n) AS (
    SELECT k.campaign_id, sum(m.amount), sum(m.n)
    FROM campaign_keys k
    CROSS JOIN LATERAL (
        SELECT m.amount, m.n FROM analytics.campaign_donation_months m
        WHERE m.campaign_id = k.campaign_id
        OFFSET 0
    ) m
    GROUP BY 1
),
{_replace("analytics.campaign_donations", "campaign_keys", "campaign_id, amount, n", "fresh",
          ("campaign_id",))}
SELECT count(*) FROM taken"""  # fmt: skip

UPDATE_USERS = f"""
WITH taken AS (DELETE FROM analytics.dirty_keys WHERE source = 'user' RETURNING day),
day_keys AS (SELECT DISTINCT day FROM taken),
fresh (day, n) AS (
    SELECT d.day, c.n FROM day_keys d
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM "User" u
        WHERE u."createdAt" >= d.day AND u."createdAt" < d.day + interval '1 day'
    ) c
    WHERE c.n > 0
),
{_replace("analytics.user_days", "day_keys", "day, n", "fresh", ("day",))}
SELECT count(*) FROM taken"""  # fmt: skip

UPDATE_STATES = f"""
WITH taken AS (DELETE FROM analytics.dirty_keys WHERE source = 'state' RETURNING key),
state_keys AS (SELECT DISTINCT key AS state FROM taken),
fresh (state, patients) AS (
    SELECT state, count(*) FROM "PatientProfile"
    WHERE state IN (SELECT state FROM state_keys)
    GROUP BY state
),
{_replace("analytics.states", "state_keys", "state, patients", "fresh", ("state",))}
SELECT count(*) FROM taken"""  # fmt: skip

# Per dirty day one range scan of the entries that joined then (index on "joinedAt"), the
# state of each entry's patient by index. A whole state (day NULL: a profile was deleted or
# changed) is recounted from its profiles (index on state) and their entries.
UPDATE_WAITLIST = f"""
WITH taken AS (DELETE FROM analytics.dirty_keys WHERE source = 'waitlist' RETURNING key, day),
whole_states AS (SELECT DISTINCT key AS state FROM taken WHERE day IS NULL),
day_pairs AS (
    SELECT DISTINCT key AS state, day FROM taken
    WHERE day IS NOT NULL AND key NOT IN (SELECT state FROM whole_states)
),
keys AS (
    SELECT state, day FROM day_pairs
    UNION SELECT x.state, x.day FROM analytics.waitlist_days x
    WHERE x.state IN (SELECT state FROM whole_states)
),
day_keys AS (SELECT DISTINCT day FROM day_pairs),
fresh ({_WAITLIST_DAY_NAMES}) AS (
    SELECT {_WAITLIST_DAY_COLUMNS}
    FROM (
        SELECT src.* FROM day_keys d
        CROSS JOIN LATERAL (
            SELECT COALESCE((SELECT p.state FROM "PatientProfile" p
                             WHERE p."userId" = w."patientId"), '') AS state,
                   d.day, w.status, w."joinedAt" AS joined_at, w."claimedAt" AS claimed_at
            FROM "Waitlist" w
            WHERE w."joinedAt" >= d.day AND w."joinedAt" < d.day + interval '1 day'
            OFFSET 0
        ) src
        WHERE (src.state, src.day) IN (SELECT state, day FROM day_pairs)
        UNION ALL
        SELECT p.state, date_trunc('day', w."joinedAt"), w.status, w."joinedAt", w."claimedAt"
        FROM "PatientProfile" p JOIN "Waitlist" w ON w."patientId" = p."userId"
        WHERE p.state IN (SELECT state FROM whole_states)
    ) src
    GROUP BY 1, 2
),
{_replace("analytics.waitlist_days", "keys", _WAITLIST_DAY_NAMES, "fresh", ("state", "day"))}
SELECT count(*) FROM taken"""  # fmt: skip

UPDATE_ALLOCATIONS = f"""
WITH taken AS (DELETE FROM analytics.dirty_keys WHERE source = 'allocation' RETURNING key),
campaign_keys AS (SELECT DISTINCT key AS campaign_id FROM taken WHERE key IS NOT NULL),
fresh (campaign_id, matched, completed) AS (
    SELECT al."campaignId", count(*), count(*) FILTER (WHERE ap.status = 'COMPLETED')
    FROM "DonationAllocation" al LEFT JOIN "Appointment" ap ON ap.id = al."appointmentId"
    WHERE al."campaignId" IN (SELECT campaign_id FROM campaign_keys)
    GROUP BY 1
),
{_replace("analytics.campaign_allocations", "campaign_keys", "campaign_id, matched, completed",
          "fresh", ("campaign_id",))}
SELECT count(*) FROM taken"""  # fmt: skip

#: Settings of the update statements (the caller's are restored afterwards): the planner
#: expects a day or month of one key to hold 0.5 % of a table and would read it with bitmap
#: heap scans; it holds far less, and counts come from index-only scans.
UPDATE_SETTINGS = {"enable_bitmapscan": "off"}

UPDATES = (
    UPDATE_APPOINTMENTS,
    UPDATE_APPOINTMENT_MONTHS,
    UPDATE_LINKS,
    UPDATE_TRANSACTIONS,
    UPDATE_CAMPAIGN_DONATIONS,
    UPDATE_USERS,
    UPDATE_STATES,
    UPDATE_WAITLIST,
    UPDATE_ALLOCATIONS,
)


async def bring_up_to_date(conn: Any, *, rebuild: bool = False) -> str:
    """Brings the rollups up to date inside the caller's transaction: `"rebuilt"` (a full
    rebuild: asked for, or the rollups were never built or a base table was truncated) or
    `"updated"` (only the keys recorded since the last refresh were recomputed).

    Outside a transaction (tests, tools) every statement commits on its own: each one is still
    exact, but another refresh may run in between and the planner settings do not apply."""
    await conn.execute_query_dict("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY])
    built = await conn.execute_query_dict("SELECT built_at FROM analytics.rollup_state")
    if rebuild or not built:
        await _run(conn, REBUILD, REBUILD_SETTINGS)
        return "rebuilt"
    await _run(conn, UPDATES, UPDATE_SETTINGS)
    return "updated"


async def _run(conn: Any, statements: Sequence[str], settings: dict[str, str]) -> None:
    names = list(settings)
    rows = await conn.execute_query_dict(
        "SELECT name, setting FROM unnest($1::text[]) AS name, current_setting(name) AS setting",
        [names],
    )
    previous = {row["name"]: row["setting"] for row in rows}
    for name, value in settings.items():
        await conn.execute_query_dict("SELECT set_config($1, $2, true)", [name, value])
    for statement in statements:
        await conn.execute_query_dict(statement)
    for name, value in previous.items():
        await conn.execute_query_dict("SELECT set_config($1, $2, true)", [name, value])


async def _rebuild_command(url: str) -> None:
    from tortoise.transactions import in_transaction

    from models.db import connect, disconnect

    await connect(url, max_size=1)
    try:
        async with in_transaction() as conn:
            await conn.execute_script("SET LOCAL work_mem = '64MB'")
            await bring_up_to_date(conn, rebuild=True)
    finally:
        await disconnect()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m actors.analytics.rollups --rebuild [--database-url URL]`: rebuilds every
    rollup from the base tables (the next refresh then only recomputes what changed)."""
    parser = argparse.ArgumentParser(description="Rebuild the analytics rollups.")
    parser.add_argument("--rebuild", action="store_true", required=True)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("no database: set DATABASE_URL or pass --database-url")
    asyncio.run(_rebuild_command(args.database_url))
    print("analytics rollups rebuilt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
