"""models.fingerprint: the recorded fingerprint, the mismatch error, live schema differences."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg
import pytest

from models.db import isolated
from models.fingerprint import (
    SchemaMismatchError,
    check_schema,
    describe_models,
    model_fingerprint,
    recorded_fingerprint,
    schema_differences,
)
from models.migrate import MigrationError, migrate
from tests.models.conftest import scratch_database


@pytest.fixture
async def rolled_back(conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """``conn`` inside a transaction that is rolled back (DDL included) after the test."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield conn
    finally:
        await transaction.rollback()


def test_the_fingerprint_is_a_stable_sha256_of_the_description() -> None:
    fingerprint = model_fingerprint()

    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert fingerprint == model_fingerprint()
    assert '"User":{"createdAt":["timestamp(3) without time zone",false]' in (
        describe_models().as_json()
    )


async def test_a_migrated_database_passes_the_check_whatever_the_connection(
    migrated_url: str, conn: asyncpg.Connection
) -> None:
    await check_schema(migrated_url)
    await check_schema(conn)
    async with isolated(migrated_url) as context:
        await check_schema(context.db())


async def test_a_different_recorded_fingerprint_names_both(rolled_back: asyncpg.Connection) -> None:
    await rolled_back.execute("UPDATE schema_version SET fingerprint = $1", "f" * 64)

    with pytest.raises(SchemaMismatchError) as raised:
        await check_schema(rolled_back)

    assert raised.value.expected == model_fingerprint()
    assert raised.value.found == "f" * 64
    assert model_fingerprint() in str(raised.value)
    assert "f" * 64 in str(raised.value)
    assert "zerocancer migrate" in str(raised.value)


async def test_a_database_never_migrated_has_no_fingerprint() -> None:
    async with scratch_database("never_migrated") as url:
        assert await recorded_fingerprint(url) is None
        with pytest.raises(SchemaMismatchError, match="records no schema fingerprint") as raised:
            await check_schema(url)

    assert raised.value.found is None
    assert model_fingerprint() in str(raised.value)


async def test_schema_differences_name_each_drift(rolled_back: asyncpg.Connection) -> None:
    await rolled_back.execute(
        """
        ALTER TABLE "User" DROP COLUMN "phone";
        ALTER TABLE "Waitlist" ALTER COLUMN "claimedAt" TYPE TIMESTAMP(6);
        ALTER TABLE "ScreeningType" ALTER COLUMN "description" SET NOT NULL;
        ALTER TABLE "Notification" ADD COLUMN "updatedAt" TIMESTAMP(3);
        ALTER TYPE "LogLevel" ADD VALUE 'DEBUG';
        DROP TABLE stored_files;
        """
    )

    assert sorted(await schema_differences(rolled_back)) == sorted(
        [
            'column "User"."phone" is missing',
            'column "Waitlist"."claimedAt" has type timestamp(6) without time zone, '
            "models say timestamp(3) without time zone",
            'column "ScreeningType"."description" is NOT NULL, models say NULL',
            'column "Notification"."updatedAt" is not in the models',
            "enum type \"LogLevel\" has values ['INFO', 'WARNING', 'ERROR', 'DEBUG'], "
            "models say ['INFO', 'WARNING', 'ERROR']",
            'table "stored_files" is missing',
        ]
    )


async def test_migrate_refuses_to_record_a_fingerprint_over_drift() -> None:
    async with scratch_database("drift") as url:
        await migrate(url)
        connection = await asyncpg.connect(url)
        try:
            # A model changed without a migration looks like this to migrate: a live schema
            # that differs and a fingerprint that is not the models' one.
            await connection.execute(
                """
                ALTER TABLE "StoreProduct" DROP COLUMN "stock";
                UPDATE schema_version SET fingerprint = NULL;
                """
            )
        finally:
            await connection.close()

        with pytest.raises(MigrationError, match=r'column "StoreProduct"."stock" is missing'):
            await migrate(url)
        with pytest.raises(SchemaMismatchError):
            await check_schema(url)
