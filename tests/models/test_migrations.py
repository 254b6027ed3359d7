"""models.migrate: from empty and from an existing production database, idempotence, refusals."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import bcrypt
import pytest

from models.fingerprint import (
    check_schema,
    describe_database,
    describe_models,
    model_fingerprint,
    schema_differences,
)
from models.migrate import MIGRATIONS_DIR, MigrationError, load_migrations, migrate
from tests.models.conftest import scratch_database

ALL = [m.name for m in load_migrations()]


def copy_migrations(target: Path) -> Path:
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, target / path.name)
    return target


async def run_sql(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def test_migrating_an_empty_database_applies_every_file_and_matches_the_models() -> None:
    async with scratch_database("empty") as url:
        applied = await migrate(url)

        assert applied == ALL
        assert applied[:3] == ["0001_production_schema", "0002_system_tables", "0003_fixed_rows"]
        assert await schema_differences(url) == []
        await check_schema(url)
        # Every table the migrations create has a model.
        live = await describe_database(url)
        assert set(live.tables) == set(describe_models().tables)


async def test_running_migrate_again_applies_nothing(
    migrated_url: str, conn: asyncpg.Connection
) -> None:
    before = await conn.fetch("SELECT * FROM schema_version ORDER BY version")

    assert await migrate(migrated_url) == []

    assert await conn.fetch("SELECT * FROM schema_version ORDER BY version") == before
    assert [row["name"] for row in before] == ALL
    assert before[-1]["fingerprint"] == model_fingerprint()
    assert not any(row["baseline"] for row in before)


async def test_an_applied_file_that_changed_is_refused(migrated_url: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    changed = directory / "0002_system_tables.sql"
    changed.write_text(changed.read_text() + "\n-- an innocent-looking edit\n")

    with pytest.raises(MigrationError, match="0002_system_tables was changed after it was applied"):
        await migrate(migrated_url, directory=directory)


async def test_a_gap_in_the_numbering_is_refused(migrated_url: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    (directory / "0003_fixed_rows.sql").unlink()

    with pytest.raises(MigrationError, match="gap in migration numbering: expected 0003"):
        await migrate(migrated_url, directory=directory)


async def test_a_badly_named_file_is_refused(tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    (directory / "7_Extra.sql").write_text("SELECT 1;")

    with pytest.raises(MigrationError, match=r"7_Extra\.sql"):
        load_migrations(directory)


async def test_a_database_migrated_by_newer_code_is_refused(
    migrated_url: str, tmp_path: Path
) -> None:
    directory = copy_migrations(tmp_path)
    (directory / f"{ALL[-1]}.sql").unlink()

    with pytest.raises(MigrationError, match="this code does not have"):
        await migrate(migrated_url, directory=directory)


async def test_an_existing_production_database_is_baselined_and_upgraded() -> None:
    async with scratch_database("baseline") as url:
        # Given a database as Prisma created it, with a center registered by the reference API
        # (offer in the join table, no price row: D-DM-7).
        await run_sql(url, (MIGRATIONS_DIR / "0001_production_schema.sql").read_text())
        await run_sql(
            url,
            """
            INSERT INTO "ScreeningTypeCategory" (id, name) VALUES ('cancer', 'Cancer');
            INSERT INTO "ScreeningType" (id, name, "screeningTypeCategoryId", "agreedPrice")
                VALUES ('st-1', 'Cervical Cancer Screening', 'cancer', 12500);
            INSERT INTO "ServiceCenter" (id, email, "passwordHash", "centerName", address,
                state, lga) VALUES ('c-1', 'c@example.com', 'x', 'C', 'A', 'Lagos', 'Ikeja');
            INSERT INTO "_ScreeningTypeToServiceCenter" ("A", "B") VALUES ('st-1', 'c-1');
            """,
        )

        # When it is migrated
        applied = await migrate(url)

        # Then 0001 is recorded as baseline, not run, and the rest applies.
        assert applied == ALL[1:]
        connection = await asyncpg.connect(url)
        try:
            rows = await connection.fetch("SELECT version, baseline FROM schema_version")
            price = await connection.fetchval(
                'SELECT amount FROM "ServiceCenterScreeningType"'
                " WHERE \"centerId\" = 'c-1' AND \"screeningTypeId\" = 'st-1'"
            )
            categories = await connection.fetchval('SELECT count(*) FROM "ScreeningTypeCategory"')
        finally:
            await connection.close()
        assert {(r["version"], r["baseline"]) for r in rows} == {
            (1, True),
            *((v, False) for v in range(2, len(ALL) + 1)),
        }
        assert price == 12500.0
        assert categories == 5
        assert await schema_differences(url) == []
        await check_schema(url)
        assert await migrate(url) == []


async def test_a_partial_production_schema_is_refused() -> None:
    async with scratch_database("partial") as url:
        await run_sql(url, 'CREATE TABLE "User" (id TEXT PRIMARY KEY)')

        with pytest.raises(MigrationError, match=r"holds 1 of the \d+ production tables"):
            await migrate(url)


async def test_duplicate_payment_references_stop_the_unique_index_migration() -> None:
    async with scratch_database("duplicates") as url:
        await run_sql(url, (MIGRATIONS_DIR / "0001_production_schema.sql").read_text())
        await run_sql(
            url,
            """
            INSERT INTO "Transaction" (id, type, status, amount, "paymentReference") VALUES
                ('t-1', 'DONATION', 'COMPLETED', 100, 'ref-1'),
                ('t-2', 'DONATION', 'COMPLETED', 100, 'ref-1');
            """,
        )

        with pytest.raises(MigrationError, match=r"1 reference\(s\) are used by more than one row"):
            await migrate(url)

        # Nothing of the failed file stayed; the operator resolves the duplicate and re-runs.
        await run_sql(
            url, """UPDATE "Transaction" SET "paymentReference" = 'ref-2' WHERE id = 't-2'"""
        )
        applied = await migrate(url)
        assert applied[0] == "0005_transaction_payment_reference_unique"
        assert await schema_differences(url) == []


async def test_concurrent_migrations_apply_each_file_once() -> None:
    async with scratch_database("concurrent") as url:
        first, second = await asyncio.gather(migrate(url), migrate(url))

        assert sorted([first, second], key=len) == [[], ALL]


async def test_the_fixed_rows_exist_and_the_system_user_cannot_log_in(
    conn: asyncpg.Connection,
) -> None:
    user = await conn.fetchrow("""SELECT * FROM "User" WHERE id = 'general-public'""")
    profile = await conn.fetchrow(
        """SELECT * FROM "DonorProfile" WHERE "userId" = 'general-public'"""
    )
    pool = await conn.fetchrow(
        """SELECT * FROM "DonationCampaign" WHERE id = 'general-donor-pool'"""
    )
    categories = await conn.fetch('SELECT id FROM "ScreeningTypeCategory" ORDER BY id')

    assert (user["fullName"], user["email"]) == ("General Donor Pool", "donorpool@zerocancer.org")
    assert not bcrypt.checkpw(b"password", user["passwordHash"].encode())
    assert (profile["country"], profile["emailVerified"] is not None) == ("Nigeria", True)
    assert (pool["donorId"], pool["title"], pool["status"]) == (
        "general-public",
        "General donation public pool",
        "ACTIVE",
    )
    assert (pool["totalAmount"], pool["availableAmount"]) == (0, 0)
    assert [r["id"] for r in categories] == [
        "cancer",
        "general",
        "screening",
        "treatement",
        "vaccine",
    ]


async def test_the_fixed_rows_file_can_run_again(conn: asyncpg.Connection) -> None:
    await conn.execute((MIGRATIONS_DIR / "0003_fixed_rows.sql").read_text())

    assert await conn.fetchval('SELECT count(*) FROM "DonorProfile"') == 1
    assert await conn.fetchval('SELECT count(*) FROM "DonationCampaign"') == 1


async def test_an_outbox_insert_wakes_listeners(
    conn: asyncpg.Connection, migrated_url: str
) -> None:
    woken: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    listener = await asyncpg.connect(migrated_url)

    def wake(connection: object, pid: int, channel: str, payload: str) -> None:
        if not woken.done():
            woken.set_result(channel)

    await listener.add_listener("outbox", wake)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO jobs (id, actor_name, queue_name)"
                " VALUES ('7d0f4bde-3b9f-4a4e-9a57-1d1f3b1c0a01', 'send_email', 'email')"
            )
            await conn.execute(
                "INSERT INTO outbox (job_id, queue_name, message)"
                " VALUES ('7d0f4bde-3b9f-4a4e-9a57-1d1f3b1c0a01', 'email', '{}')"
            )

        assert await asyncio.wait_for(woken, timeout=10) == "outbox"
    finally:
        await listener.close()
        await conn.execute("DELETE FROM jobs")
