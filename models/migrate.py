"""``zerocancer migrate``: apply the versioned SQL files of ``models/migrations`` in order.

Rules:

- Files are ``NNNN_name.sql`` numbered 1, 2, 3... without gaps; each runs in its own
  transaction together with its ``schema_version`` row (version, name, SHA-256 checksum).
- One migrator at a time: a session advisory lock is held for the whole run.
- An applied file must not change (its checksum is compared on every run), and the database
  must not hold a version this code lacks; both stop the run with ``MigrationError``.
- An existing production database (the Prisma tables, no ``schema_version``) gets 0001
  recorded as a baseline instead of run; the later files then apply as usual.
- Finally the live schema is compared with the models; when they agree the models'
  fingerprint is recorded (``models.fingerprint``), otherwise the run fails and says why.

Running it again applies nothing and changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from models.db import asyncpg_dsn
from models.fingerprint import model_fingerprint, schema_differences

log = logging.getLogger(__name__)

#: Where the migration files live.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Advisory lock key held while migrating ("zcmigrat" in ASCII).
LOCK_KEY = 0x7A636D6967726174

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_CREATE_TABLE = re.compile(r'^CREATE TABLE "([^"]+)"', re.MULTILINE)

_SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    baseline BOOLEAN NOT NULL DEFAULT false,
    fingerprint TEXT,

    CONSTRAINT schema_version_pkey PRIMARY KEY (version)
)
"""


class MigrationError(RuntimeError):
    """The database cannot be migrated safely; the message says why and what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str


def checksum(sql: str) -> str:
    """SHA-256 of a file's text with line endings normalised (a CRLF checkout is no change)."""
    return hashlib.sha256(sql.replace("\r\n", "\n").encode()).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migration files in version order; refuses unknown ``.sql`` names and gaps."""
    directory = directory or MIGRATIONS_DIR
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_name.sql")
        sql = path.read_text(encoding="utf-8")
        migrations.append(Migration(int(match.group(1)), path.stem, sql, checksum(sql)))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"gap in migration numbering: expected {expected:04d}, found {migration.name}"
            )
    return migrations


async def _table_exists(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{name}"'))


async def _bootstrap(conn: asyncpg.Connection, migrations: list[Migration]) -> None:
    """Create ``schema_version``; record 0001 as baseline on an existing production database."""
    if await _table_exists(conn, "schema_version"):
        return
    production = _CREATE_TABLE.findall(migrations[0].sql) if migrations else []
    present = [table for table in production if await _table_exists(conn, table)]
    if present and len(present) != len(production):
        missing = sorted(set(production) - set(present))
        raise MigrationError(
            f"the database holds {len(present)} of the {len(production)} production tables "
            f"but no schema_version (missing: {', '.join(missing)}); refusing to guess its "
            "state. Restore the full production schema or start from an empty database."
        )
    async with conn.transaction():
        await conn.execute(_SCHEMA_VERSION_DDL)
        if present:
            first = migrations[0]
            log.info("existing production schema found: recording %s as baseline", first.name)
            await conn.execute(
                "INSERT INTO schema_version (version, name, checksum, baseline)"
                " VALUES ($1, $2, $3, true)",
                first.version,
                first.name,
                first.checksum,
            )


async def _pending(conn: asyncpg.Connection, migrations: list[Migration]) -> list[Migration]:
    rows = await conn.fetch("SELECT version, name, checksum FROM schema_version ORDER BY version")
    by_version = {m.version: m for m in migrations}
    applied = set()
    for row in rows:
        migration = by_version.get(row["version"])
        if migration is None:
            raise MigrationError(
                f"the database has migration {row['name']} (version {row['version']}), which "
                "this code does not have: it was migrated by a newer version"
            )
        if migration.name != row["name"] or migration.checksum != row["checksum"]:
            raise MigrationError(
                f"migration {row['name']} was changed after it was applied (recorded checksum "
                f"{row['checksum']}, now {migration.name} with {migration.checksum}); never "
                "edit an applied migration, add a new one"
            )
        applied.add(migration.version)
    newest = max(applied, default=0)
    for migration in migrations:
        if migration.version < newest and migration.version not in applied:
            raise MigrationError(
                f"migration {migration.name} was never applied but later ones were: "
                "migrations must be applied in order"
            )
    return [m for m in migrations if m.version > newest]


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    log.info("applying %s", migration.name)
    try:
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_version (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    except asyncpg.PostgresError as exc:
        hint = getattr(exc, "hint", None)
        raise MigrationError(
            f"{migration.name} failed and was rolled back: {exc}" + (f" ({hint})" if hint else "")
        ) from exc


async def _record_fingerprint(conn: asyncpg.Connection) -> None:
    expected = model_fingerprint()
    recorded = await conn.fetchval(
        "SELECT fingerprint FROM schema_version ORDER BY version DESC LIMIT 1"
    )
    if recorded == expected:
        return
    problems = await schema_differences(conn)
    if problems:
        listed = "\n  - ".join(problems)
        raise MigrationError(
            "the migrated database does not match the models, so their fingerprint is not "
            f"recorded (a model changed without a migration?):\n  - {listed}"
        )
    await conn.execute(
        "UPDATE schema_version SET fingerprint = $1"
        " WHERE version = (SELECT max(version) FROM schema_version)",
        expected,
    )
    log.info("recorded schema fingerprint %s", expected)


async def migrate(url: str, *, directory: Path | None = None) -> list[str]:
    """Apply the pending migrations to the database at ``url``; return the names applied.

    ``directory`` replaces ``models/migrations`` (tests). Raises ``MigrationError``.
    """
    migrations = load_migrations(directory)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            log.info("another migration is running; waiting for it")
            await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        try:
            await _bootstrap(conn, migrations)
            applied: list[str] = []
            for migration in await _pending(conn, migrations):
                await _apply(conn, migration)
                applied.append(migration.name)
            await _record_fingerprint(conn)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``zerocancer migrate [--database-url URL]`` (default: ``$DATABASE_URL``)."""
    parser = argparse.ArgumentParser(
        prog="zerocancer migrate", description="Apply pending schema migrations."
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL URL (default: $DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("no database: set DATABASE_URL or pass --database-url")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        applied = asyncio.run(migrate(args.database_url))
    except MigrationError as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return 1
    if applied:
        print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        print("database is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
