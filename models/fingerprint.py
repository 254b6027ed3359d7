"""The schema fingerprint: what the models describe, hashed, and checked against the database.

``describe_models()`` turns the Tortoise models into a canonical description (every table,
its columns with their PostgreSQL type and nullability, every enum type with its values in
order), spelled as PostgreSQL's ``format_type`` spells types. ``model_fingerprint()`` is the
SHA-256 of that description. ``models.migrate`` records it in ``schema_version`` once the live
schema matched the models; ``check_schema`` compares the recorded value with this code's (edge
and worker refuse to start on a mismatch); ``schema_differences`` says what differs.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
from tortoise.apps import Apps
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import ConnectionHandler
from tortoise.fields.relational import ManyToManyFieldInstance
from tortoise.models import Model

from models import MODEL_MODULES
from models.db import asyncpg_dsn
from models.fields import PgEnumField

#: Bump when the shape of the description changes (every fingerprint changes with it).
DESCRIPTION_FORMAT = 1

#: Model SQL types -> PostgreSQL's ``format_type`` spelling.
_TYPE_NAMES = {
    "TEXT": "text",
    "TEXT[]": "text[]",
    "TIMESTAMP(3)": "timestamp(3) without time zone",
    "TIMESTAMPTZ": "timestamp with time zone",
    "DOUBLE PRECISION": "double precision",
    "INT": "integer",
    "BIGINT": "bigint",
    "SMALLINT": "smallint",
    "BOOL": "boolean",
    "JSONB": "jsonb",
    "UUID": "uuid",
    "DATE": "date",
}

#: Anything ``check_schema``/``schema_differences`` can read from: a URL, an asyncpg connection
#: or pool, or a Tortoise connection.
Connectable: TypeAlias = "str | asyncpg.Connection | asyncpg.Pool | BaseDBAsyncClient"


@dataclass(frozen=True, order=True)
class Column:
    type: str
    nullable: bool


@dataclass(frozen=True)
class SchemaDescription:
    tables: Mapping[str, Mapping[str, Column]]
    enums: Mapping[str, tuple[str, ...]]

    def as_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace (the fingerprint's input)."""
        data = {
            "format": DESCRIPTION_FORMAT,
            "tables": {
                table: {name: [col.type, col.nullable] for name, col in columns.items()}
                for table, columns in self.tables.items()
            },
            "enums": {name: list(values) for name, values in self.enums.items()},
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


class SchemaMismatchError(RuntimeError):
    """The database was migrated for other models than this code's."""

    def __init__(self, expected: str, found: str | None) -> None:
        self.expected = expected
        self.found = found
        recorded = (
            f"records schema fingerprint {found}" if found else "records no schema fingerprint"
        )
        super().__init__(
            f"schema mismatch: the database {recorded}, but this code's models have fingerprint "
            f"{expected}. Run `zerocancer migrate` with this version (or deploy the version the "
            "database was migrated with)."
        )


@functools.cache
def _models() -> tuple[type[Model], ...]:
    # A private registry: resolves relations (raw FK columns, m2m tables) without touching the
    # Tortoise context, connections or any database.
    apps = Apps({}, ConnectionHandler(), None, validate_connections=False)
    return tuple(apps.init_app("models", MODEL_MODULES).values())


def _canonical_type(sql_type: str) -> str:
    if sql_type.startswith('"') and sql_type.endswith('"'):
        return f"enum:{sql_type[1:-1]}"
    try:
        return _TYPE_NAMES[sql_type.upper()]
    except KeyError:
        raise ValueError(
            f"no canonical name for SQL type {sql_type!r}: add it to _TYPE_NAMES"
        ) from None


@functools.cache
def describe_models() -> SchemaDescription:
    """The schema the models describe (tables, columns, enum types)."""
    tables: dict[str, dict[str, Column]] = {}
    enums: dict[str, tuple[str, ...]] = {}
    for model in _models():
        meta = model._meta
        columns: dict[str, Column] = {}
        for name, field in meta.fields_map.items():
            if isinstance(field, ManyToManyFieldInstance):
                pk_type = _canonical_type(meta.pk.get_for_dialect("postgres", "SQL_TYPE"))
                other = field.related_model._meta.pk
                other_type = _canonical_type(other.get_for_dialect("postgres", "SQL_TYPE"))
                tables[field.through] = {
                    field.backward_key: Column(pk_type, False),
                    field.forward_key: Column(other_type, False),
                }
                continue
            if not field.has_db_field:
                continue
            sql_type = field.get_for_dialect("postgres", "SQL_TYPE")
            columns[field.source_field or name] = Column(_canonical_type(sql_type), field.null)
            if isinstance(field, PgEnumField):
                enums[field.enum_type.__name__] = tuple(str(v.value) for v in field.enum_type)
        tables[meta.db_table] = columns
    return SchemaDescription(
        tables={t: dict(sorted(c.items())) for t, c in sorted(tables.items())},
        enums=dict(sorted(enums.items())),
    )


@functools.cache
def model_fingerprint() -> str:
    """SHA-256 (hex) of the canonical description of the models' schema."""
    return hashlib.sha256(describe_models().as_json().encode()).hexdigest()


async def _fetch(conn: Any, sql: str, *args: Any) -> list[dict[str, Any]]:
    if isinstance(conn, BaseDBAsyncClient):
        return list(await conn.execute_query_dict(sql, list(args)))
    return [dict(row) for row in await conn.fetch(sql, *args)]


@asynccontextmanager
async def _connection(target: Connectable) -> AsyncIterator[Any]:
    if isinstance(target, str):
        conn = await asyncpg.connect(asyncpg_dsn(target))
        try:
            yield conn
        finally:
            await conn.close()
    else:
        yield target


async def recorded_fingerprint(target: Connectable) -> str | None:
    """The fingerprint recorded with the newest ``schema_version`` row (None if none)."""
    async with _connection(target) as conn:
        rows = await _fetch(conn, "SELECT to_regclass('schema_version') IS NOT NULL AS present")
        if not rows[0]["present"]:
            return None
        rows = await _fetch(
            conn, "SELECT fingerprint FROM schema_version ORDER BY version DESC LIMIT 1"
        )
        return str(rows[0]["fingerprint"]) if rows and rows[0]["fingerprint"] else None


async def check_schema(target: Connectable) -> None:
    """Raise ``SchemaMismatchError`` unless the database records this code's fingerprint."""
    expected = model_fingerprint()
    found = await recorded_fingerprint(target)
    if found != expected:
        raise SchemaMismatchError(expected, found)


_COLUMNS_SQL = """
SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS sql_type, t.typtype::text AS typtype,
       t.typname,
       NOT a.attnotnull AS nullable
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
"""

_ENUMS_SQL = """
SELECT t.typname, e.enumlabel
FROM pg_type t
JOIN pg_enum e ON e.enumtypid = t.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = current_schema()
ORDER BY t.typname, e.enumsortorder
"""


async def describe_database(target: Connectable) -> SchemaDescription:
    """The live schema (current schema only), described like ``describe_models``."""
    async with _connection(target) as conn:
        tables: dict[str, dict[str, Column]] = {}
        for row in await _fetch(conn, _COLUMNS_SQL):
            kind = f"enum:{row['typname']}" if row["typtype"] == "e" else str(row["sql_type"])
            tables.setdefault(row["table_name"], {})[row["column_name"]] = Column(
                kind, bool(row["nullable"])
            )
        enums: dict[str, list[str]] = {}
        for row in await _fetch(conn, _ENUMS_SQL):
            enums.setdefault(row["typname"], []).append(row["enumlabel"])
    return SchemaDescription(tables=tables, enums={k: tuple(v) for k, v in enums.items()})


def _nullability(nullable: bool) -> str:
    return "NULL" if nullable else "NOT NULL"


def compare(expected: SchemaDescription, live: SchemaDescription) -> list[str]:
    """Human-readable differences of ``live`` from ``expected``.

    Tables and enum types the models do not know are ignored (a production database may hold
    others); extra columns in a modelled table are reported.
    """
    problems: list[str] = []
    for name, values in expected.enums.items():
        found = live.enums.get(name)
        if found is None:
            problems.append(f'enum type "{name}" is missing')
        elif found != values:
            problems.append(
                f'enum type "{name}" has values {list(found)}, models say {list(values)}'
            )
    for table, columns in expected.tables.items():
        live_columns = live.tables.get(table)
        if live_columns is None:
            problems.append(f'table "{table}" is missing')
            continue
        for column, want in columns.items():
            have = live_columns.get(column)
            where = f'column "{table}"."{column}"'
            if have is None:
                problems.append(f"{where} is missing")
                continue
            if have.type != want.type:
                problems.append(f"{where} has type {have.type}, models say {want.type}")
            if have.nullable != want.nullable:
                problems.append(
                    f"{where} is {_nullability(have.nullable)}, "
                    f"models say {_nullability(want.nullable)}"
                )
        problems.extend(
            f'column "{table}"."{column}" is not in the models'
            for column in sorted(set(live_columns) - set(columns))
        )
    return problems


async def schema_differences(target: Connectable) -> list[str]:
    """What differs between the live database and the models (empty when they agree)."""
    return compare(describe_models(), await describe_database(target))
