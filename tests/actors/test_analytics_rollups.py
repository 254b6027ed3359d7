"""Analytics rollups (actors/analytics/rollups.py): after any writes to the base tables, the
reports built from incrementally updated rollups equal those of a full rebuild, and the time
reports equal a direct count over the base tables.

Programs of random writes come from hypothesis (derandomized, so a failure reproduces; the
failing program is in the assertion message). Each runs on real PostgreSQL: the triggers of
migration 0012 record what changed, the refresh recomputes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from tortoise import connections
from tortoise.transactions import in_transaction

from actors.analytics import queries, rollups, snapshots, windows
from actors.analytics.queries import Window
from tests.actors.test_analytics_queries import seed

NOW = datetime(2025, 6, 15, 12, 0, 0)
#: Windows with boundaries inside days (and one at midnight), beside the default ones.
WINDOWS = [
    *(windows.resolve(scope, NOW) for scope in windows.DEFAULT_TIME_SCOPES),
    Window("daily", datetime(2025, 5, 20, 7, 30, 0, 250000), datetime(2025, 6, 3, 10, 0)),
    Window("weekly", datetime(2025, 3, 1), datetime(2025, 6, 14, 23, 59, 59, 999000)),
]
CENTERS = ("c1", "c2", "c3")
PATIENTS = ("p1", "p2", "p3")
CAMPAIGNS = ("k1", "k2", "general-donor-pool")
STATES = ("Lagos", "Kano", "Oyo", "", None)
STATUSES = ("PENDING", "SCHEDULED", "IN_PROGRESS", "COMPLETED", "CANCELLED")
TX_STATUSES = ("PENDING", "COMPLETED", "FAILED")
TX_TYPES = ("DONATION", "APPOINTMENT", "REFUND")


def conn() -> Any:
    return connections.get("default")


async def incremental() -> dict[str, Any]:
    return await queries.compute(conn(), list(queries.KINDS), now=NOW, windows=WINDOWS)


async def rebuilt() -> dict[str, Any]:
    async with in_transaction() as tx:
        assert await rollups.bring_up_to_date(tx, rebuild=True) == "rebuilt"
        return await queries.compute(
            tx, list(queries.KINDS), now=NOW, windows=WINDOWS, rollups_current=True
        )


async def direct_time_reports(db: asyncpg.Connection) -> list[dict[str, Any]]:
    """The time reports counted straight from the base tables, one window at a time."""
    sources = {
        "revenueByDay": ("amount", '"Transaction"', "sum(amount)", queries._REVENUE),
        "appointmentsByDay": ("count", '"Appointment"', "count(*)", "TRUE"),
        "registrationsByDay": ("count", '"User"', "count(*)", "TRUE"),
    }
    growth_keys = {
        "revenueByDay": "revenueGrowthRate",
        "appointmentsByDay": "appointmentGrowthRate",
        "registrationsByDay": "userGrowthRate",
    }
    reports = []
    for w in WINDOWS:
        start, end = queries._to_ms(w.start), queries._to_ms(w.end)
        unit = queries.PERIOD_UNITS[w.period]
        report: dict[str, Any] = {}
        for series, (key, table, value, where) in sources.items():
            rows = await db.fetch(
                f"""SELECT to_char(date_trunc($3, "createdAt"), 'YYYY-MM-DD') AS date,
                           {value} AS total
                    FROM {table} t WHERE {where} AND "createdAt" >= $1 AND "createdAt" <= $2
                    GROUP BY 1 ORDER BY 1""",
                start,
                end,
                unit,
            )
            report[series] = [
                {"date": r["date"], key: pytest.approx(float(r["total"]))} for r in rows
            ]
            current = sum(float(r["total"]) for r in rows)
            previous = await db.fetchval(
                f"""SELECT COALESCE({value}, 0) FROM {table} t
                    WHERE {where} AND "createdAt" >= $1 AND "createdAt" < $2""",
                start - (end - start),
                start,
            )
            previous = float(previous)
            rate = (current - previous) * 100 / previous if previous else 0
            report[growth_keys[series]] = pytest.approx(rate)
        reports.append(report)
    return reports


# -- random programs of writes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One write statement: SQL and its arguments (it may fail on a constraint: then skipped)."""

    sql: str
    args: tuple[Any, ...] = ()

    def __repr__(self) -> str:
        return f"Op({' '.join(self.sql.split())[:90]!r}, {self.args!r})"


moments = st.builds(
    lambda days, ms: NOW - timedelta(days=days, milliseconds=ms),
    st.integers(0, 800),
    st.integers(0, 86_400_000),
)
amounts = st.sampled_from([1000.0, 2500.5, 0.1, 0.2, 7000.0, 1234.56, 33.33])
appointment_ids = st.sampled_from([f"a{i}" for i in range(1, 12)])
transaction_ids = st.sampled_from([f"t{i}" for i in range(1, 16)])
user_ids = st.sampled_from([*PATIENTS, "d1", "u9", "u10"])
waitlist_ids = st.sampled_from([f"w{i}" for i in range(1, 9)])


def ops() -> st.SearchStrategy[Op]:
    return st.one_of(
        st.builds(
            lambda i, p, c, tx, s, at: Op(
                """INSERT INTO "Appointment" (id, "patientId", "centerId", "screeningTypeId",
                       "appointmentDateTime", "transactionId", status, "createdAt")
                   VALUES ($1, $2, $3, 'st1', $6::timestamp + interval '2 days', $4, $5, $6)""",
                (i, p, c, tx, s, at),
            ),
            appointment_ids, st.sampled_from(PATIENTS), st.sampled_from(CENTERS),
            st.none() | transaction_ids, st.sampled_from(STATUSES), moments,
        ),
        st.builds(
            lambda i, s: Op('UPDATE "Appointment" SET status = $2 WHERE id = $1', (i, s)),
            appointment_ids, st.sampled_from(STATUSES),
        ),
        st.builds(
            lambda c, s: Op('UPDATE "Appointment" SET status = $2 WHERE "centerId" = $1', (c, s)),
            st.sampled_from(CENTERS), st.sampled_from(STATUSES),
        ),
        st.builds(
            lambda i, at: Op('UPDATE "Appointment" SET "createdAt" = $2 WHERE id = $1', (i, at)),
            appointment_ids, moments,
        ),
        st.builds(
            lambda i, c: Op('UPDATE "Appointment" SET "centerId" = $2 WHERE id = $1', (i, c)),
            appointment_ids, st.sampled_from(CENTERS),
        ),
        st.builds(
            lambda i, tx: Op(
                'UPDATE "Appointment" SET "transactionId" = $2 WHERE id = $1', (i, tx)
            ),
            appointment_ids, st.none() | transaction_ids,
        ),
        st.builds(lambda i: Op('DELETE FROM "Appointment" WHERE id = $1', (i,)), appointment_ids),
        st.builds(
            lambda i, kind, s, amount, k, channel, at: Op(
                """INSERT INTO "Transaction" (id, "type", status, amount, "relatedDonationId",
                                              "paymentChannel", "createdAt")
                   VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                (i, kind, s, amount, k, channel, at),
            ),
            transaction_ids, st.sampled_from(TX_TYPES), st.sampled_from(TX_STATUSES), amounts,
            st.none() | st.sampled_from(CAMPAIGNS),
            st.sampled_from(["PAYSTACK", "DONATION", None]), moments,
        ),
        st.builds(
            lambda i, s: Op('UPDATE "Transaction" SET status = $2 WHERE id = $1', (i, s)),
            transaction_ids, st.sampled_from(TX_STATUSES),
        ),
        st.builds(
            lambda i, amount, k: Op(
                'UPDATE "Transaction" SET amount = $2, "relatedDonationId" = $3 WHERE id = $1',
                (i, amount, k),
            ),
            transaction_ids, amounts, st.none() | st.sampled_from(CAMPAIGNS),
        ),
        st.builds(
            lambda at: Op(
                """UPDATE "Transaction" SET status = 'COMPLETED', "createdAt" = $1
                   WHERE status = 'PENDING'""",
                (at,),
            ),
            moments,
        ),
        st.builds(lambda i: Op('DELETE FROM "Transaction" WHERE id = $1', (i,)), transaction_ids),
        st.builds(
            lambda i, hours: Op(
                """INSERT INTO "ScreeningResult" (id, "appointmentId", "uploadedAt")
                   SELECT 'r-' || id, id, "appointmentDateTime" + make_interval(secs => $2::float8)
                   FROM "Appointment" WHERE id = $1""",
                (i, hours),
            ),
            appointment_ids, st.floats(0, 500_000, allow_nan=False).map(lambda x: round(x, 3)),
        ),
        st.builds(
            lambda i: Op("""DELETE FROM "ScreeningResult" WHERE "appointmentId" = $1""", (i,)),
            appointment_ids,
        ),
        st.builds(
            lambda at: Op('UPDATE "ScreeningResult" SET "uploadedAt" = $1', (at,)), moments
        ),
        st.builds(
            lambda u, at, state: Op(
                """WITH u AS (
                       INSERT INTO "User" (id, "fullName", email, "passwordHash", "createdAt")
                       VALUES ($1, $1, $1 || '@u.test', 'x', $2) RETURNING id)
                   INSERT INTO "PatientProfile" (id, "userId", "dateOfBirth", state)
                   SELECT 'pp-' || id, id, '1990-01-01', $3 FROM u""",
                (u, at, state),
            ),
            user_ids, moments, st.sampled_from(STATES),
        ),
        st.builds(
            lambda u, at: Op('UPDATE "User" SET "createdAt" = $2 WHERE id = $1', (u, at)),
            user_ids, moments,
        ),
        st.builds(lambda u: Op('DELETE FROM "User" WHERE id = $1', (u,)), user_ids),
        st.builds(
            lambda u, state: Op(
                'UPDATE "PatientProfile" SET state = $2 WHERE "userId" = $1', (u, state)
            ),
            user_ids, st.sampled_from(STATES),
        ),
        st.builds(
            lambda i, u, at, hours: Op(
                """INSERT INTO "Waitlist" (id, "screeningTypeId", "patientId", status,
                                           "joinedAt", "claimedAt")
                   VALUES ($1, 'st1', $2, 'PENDING', $3::timestamp,
                           $3::timestamp + make_interval(secs => $4::float8))""",
                (i, u, at, hours),
            ),
            waitlist_ids, user_ids, moments,
            st.none() | st.floats(0, 900_000, allow_nan=False).map(lambda x: round(x, 3)),
        ),
        st.builds(
            lambda i, at: Op('UPDATE "Waitlist" SET "claimedAt" = $2 WHERE id = $1', (i, at)),
            waitlist_ids, st.none() | moments,
        ),
        st.builds(
            lambda u, s: Op('UPDATE "Waitlist" SET status = $2 WHERE "patientId" = $1', (u, s)),
            user_ids, st.sampled_from(["PENDING", "MATCHED", "CLAIMED", "EXPIRED"]),
        ),
        st.builds(lambda i: Op('DELETE FROM "Waitlist" WHERE id = $1', (i,)), waitlist_ids),
        st.builds(
            lambda w, a, k: Op(
                """INSERT INTO "DonationAllocation" (id, "waitlistId", "appointmentId",
                                                     "patientId", "campaignId",
                                                     "amountAllocated")
                   SELECT 'al-' || id, id, $2, "patientId", $3, 10000
                   FROM "Waitlist" WHERE id = $1""",
                (w, a, k),
            ),
            waitlist_ids, st.none() | appointment_ids, st.sampled_from(CAMPAIGNS),
        ),
        st.builds(
            lambda w, a, k: Op(
                """UPDATE "DonationAllocation" SET "appointmentId" = $2, "campaignId" = $3
                   WHERE "waitlistId" = $1""",
                (w, a, k),
            ),
            waitlist_ids, st.none() | appointment_ids, st.sampled_from(CAMPAIGNS),
        ),
        st.builds(
            lambda w: Op('DELETE FROM "DonationAllocation" WHERE "waitlistId" = $1', (w,)),
            waitlist_ids,
        ),
    )  # fmt: skip


def programs(count: int) -> list[list[list[Op]]]:
    """`count` programs, each a few batches of writes (a refresh after each batch)."""
    found: list[list[list[Op]]] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(st.lists(ops(), min_size=1, max_size=8), min_size=1, max_size=3))
    def collect(program: list[list[Op]]) -> None:
        found.append(program)

    collect()
    return found


async def run(db: asyncpg.Connection, batch: list[Op]) -> None:
    for op in batch:
        # A write the schema refuses (unknown row, duplicate id) changes nothing.
        with contextlib.suppress(asyncpg.IntegrityConstraintViolationError, asyncpg.DataError):
            await db.execute(op.sql, *op.args)


def canonical(reports: dict[str, Any]) -> str:
    return json.dumps(reports, sort_keys=True)


async def reset(db: asyncpg.Connection) -> None:
    await db.execute(
        'TRUNCATE "DonationAllocation", "Waitlist", "ScreeningResult", "Appointment", '
        '"Transaction", "PatientProfile", "DonorProfile", "DonationCampaign", "User", '
        '"ServiceCenter", "ScreeningType", payouts CASCADE'
    )
    from tests.conftest import fixed_row_files

    for path in fixed_row_files():
        await db.execute(path.read_text())
    await seed(db)


# -- tests ---------------------------------------------------------------------------------------


async def test_incremental_rollups_equal_a_rebuild_after_random_writes(
    db: asyncpg.Connection,
) -> None:
    for program in programs(40):
        await reset(db)
        await incremental()  # the TRUNCATE left the rollups stale: this one rebuilds them
        for number, batch in enumerate(program):
            await run(db, batch)

            updated = await incremental()
            expected = await rebuilt()

            where = f"after batch {number} of {program!r}"
            assert canonical(updated) == canonical(expected), where
            assert updated["time"] == await direct_time_reports(db), where


async def test_every_write_path_keeps_the_reports_exact(data: asyncpg.Connection) -> None:
    await incremental()
    # Given a transaction shared by two appointments of different centres, a result, a
    # claimed entry in another state, a completed allocation, and a paid booking.
    writes = [
        """INSERT INTO "Appointment" (id, "patientId", "centerId", "screeningTypeId",
               "appointmentDateTime", "transactionId", status, "createdAt")
           VALUES ('a9', 'p3', 'c3', 'st1', '2025-06-01', 't7', 'COMPLETED',
                   '2025-05-30 23:59:59.999')""",
        """UPDATE "Transaction" SET status = 'COMPLETED' WHERE id = 't8'""",
        """UPDATE "Transaction" SET amount = 12345.67 WHERE id = 't6'""",
        """UPDATE "Appointment" SET status = 'COMPLETED' WHERE id = 'a5'""",
        """INSERT INTO "ScreeningResult" (id, "appointmentId", "uploadedAt")
           VALUES ('r-a5', 'a5', '2025-06-16 12:30:00.5')""",
        """UPDATE "PatientProfile" SET state = 'Oyo' WHERE "userId" = 'p3'""",
        """UPDATE "Waitlist" SET "claimedAt" = '2025-03-09 00:00:00' WHERE id = 'w4'""",
        """UPDATE "User" SET "createdAt" = '2025-06-14 10:00:00' WHERE id = 'p3'""",
        """DELETE FROM "Transaction" WHERE id = 't10'""",
        """UPDATE "DonationAllocation" SET "campaignId" = 'k2' WHERE id = 'al1'""",
        """DELETE FROM "User" WHERE id = 'p2'""",
    ]
    for sql in writes:
        await data.execute(sql)
        assert canonical(await incremental()) == canonical(await rebuilt()), sql

    assert (await queries.center_performance(conn(), now=NOW))[2]["totalRevenue"] == 10000


async def test_a_truncate_makes_the_next_refresh_rebuild(data: asyncpg.Connection) -> None:
    first = await snapshots.refresh(now=NOW)
    assert (await snapshots.refresh(now=NOW)).rollup_update == "updated"

    await data.execute('TRUNCATE "Waitlist" CASCADE')

    again = await snapshots.refresh(now=NOW)
    assert again.rollup_update == "rebuilt"
    assert again.data[("geographic", "")]["waitlistHotZones"] == []
    assert first.data[("geographic", "")]["waitlistHotZones"] != []
    assert (await snapshots.refresh(now=NOW, rebuild=True)).rollup_update == "rebuilt"


async def test_the_rebuild_command_rebuilds(data: asyncpg.Connection, database_url: str) -> None:
    await incremental()
    await data.execute("UPDATE analytics.user_days SET n = n + 100")  # a corrupted rollup

    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "actors.analytics.rollups", "--rebuild",
        "--database-url", database_url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, _ = await command.communicate()
    assert command.returncode == 0
    assert output == b"analytics rollups rebuilt\n"

    assert canonical(await incremental()) == canonical(await rebuilt())
    assert await data.fetchval("SELECT count(*) FROM analytics.dirty_keys") == 0


@pytest.fixture
async def data(db: asyncpg.Connection) -> asyncpg.Connection:
    await seed(db)
    return db
