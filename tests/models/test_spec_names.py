"""The models and the migrated database use exactly the spec's names, types and constraints.

``spec_names.json`` was extracted once from shared/spec/domain-model.md (sections 2 and 3).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from models.base import ProductionModel
from models.enums import PRODUCTION_ENUMS
from models.fingerprint import _models, describe_models

SPEC: dict[str, Any] = json.loads((Path(__file__).parent / "spec_names.json").read_text())

#: Spec type spelling -> the canonical spelling of models.fingerprint.
SPEC_TYPES = {
    "TEXT": "text",
    "TEXT[]": "text[]",
    "TIMESTAMP(3)": "timestamp(3) without time zone",
    "DOUBLE PRECISION": "double precision",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "JSONB": "jsonb",
}

#: Tables the new system adds (docs/developing.md, spec README, auth/admin/receipts specs).
SYSTEM_TABLES = {
    "jobs",
    "outbox",
    "stored_files",
    "analytics_snapshots",
    "token_revocations",
    "auth_credential_changes",
    "matching_config_overrides",
    "receipt_number_counters",
    "schema_version",
    "worker_heartbeats",
    "job_requeues",
}


def spec_type(name: str) -> str:
    if name.startswith('"'):
        return "enum:" + name.strip('"')
    return SPEC_TYPES[name]


def test_the_spec_fixture_covers_the_whole_domain_model() -> None:
    assert len(SPEC["tables"]) == 34
    assert len(SPEC["enums"]) == 13
    assert len(SPEC["foreign_keys"]) == 45


@pytest.mark.parametrize("table", sorted(SPEC["tables"]))
def test_every_spec_table_has_a_model_with_the_same_columns(table: str) -> None:
    expected = {
        column: (spec_type(info["type"]), info["nullable"])
        for column, info in SPEC["tables"][table]["columns"].items()
    }
    modelled = describe_models().tables[table]

    assert {c: (col.type, col.nullable) for c, col in modelled.items()} == expected


def test_model_classes_are_named_as_the_prisma_models() -> None:
    production = {
        model._meta.db_table: model.__name__
        for model in _models()
        if issubclass(model, ProductionModel)
    }
    expected = {t: info["model"] for t, info in SPEC["tables"].items() if not t.startswith("_")}

    assert production == expected


def test_enums_have_the_spec_names_and_values_in_order() -> None:
    assert {e.__name__: [m.value for m in e] for e in PRODUCTION_ENUMS} == SPEC["enums"]
    assert {k: list(v) for k, v in describe_models().enums.items()} == SPEC["enums"]


def test_the_system_tables_are_snake_case_and_collide_with_nothing() -> None:
    tables = set(describe_models().tables)

    assert tables - set(SPEC["tables"]) == SYSTEM_TABLES
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*s?", t) for t in SYSTEM_TABLES)


def test_python_attributes_are_snake_case_and_map_columns_explicitly() -> None:
    for model in _models():
        for name, field in model._meta.fields_map.items():
            assert re.fullmatch(r"[a-z][a-z0-9_]*", name), f"{model.__name__}.{name}"
            column = field.source_field or name
            if field.has_db_field and column != name:
                # camelCase column <-> snake_case attribute, nothing else.
                snake = re.sub(r"(?<!^)(?=[A-Z])", "_", column).lower()
                assert name in (snake, f"{snake}_id"), f"{model.__name__}.{name} -> {column}"


async def test_the_database_has_every_spec_index_and_constraint_name(
    conn: asyncpg.Connection,
) -> None:
    rows = await conn.fetch(
        "SELECT relname FROM pg_class WHERE relkind = 'i' AND relnamespace = 'public'::regnamespace"
    )
    names = {row["relname"] for row in rows}

    assert set(SPEC["index_names"]) - names == set()


async def test_foreign_keys_have_the_spec_names_targets_and_actions(
    conn: asyncpg.Connection,
) -> None:
    actions = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL"}
    rows = await conn.fetch(
        """
        SELECT con.conname, src.relname AS table_name, att.attname AS column_name,
               dst.relname AS references, con.confdeltype::text AS on_delete,
               con.confupdtype::text AS on_update
        FROM pg_constraint con
        JOIN pg_class src ON src.oid = con.conrelid
        JOIN pg_class dst ON dst.oid = con.confrelid
        JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
        WHERE con.contype = 'f' AND con.connamespace = 'public'::regnamespace
        """
    )
    found = {
        row["conname"]: {
            "table": row["table_name"],
            "column": row["column_name"],
            "references": row["references"],
            "on_delete": actions[row["on_delete"]],
            "on_update": actions[row["on_update"]],
        }
        for row in rows
        if row["table_name"] in SPEC["tables"]
    }
    expected = {name: {**fk, "on_update": "CASCADE"} for name, fk in SPEC["foreign_keys"].items()}

    assert found == expected


async def test_column_defaults_are_the_spec_defaults(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        """
        SELECT c.relname AS table_name, a.attname AS column_name,
               pg_get_expr(d.adbin, d.adrelid) AS expr
        FROM pg_attrdef d
        JOIN pg_class c ON c.oid = d.adrelid
        JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        WHERE c.relnamespace = 'public'::regnamespace
        """
    )
    found = {
        (row["table_name"], row["column_name"]): re.sub(r"::[\w\" ]+$", "", row["expr"])
        for row in rows
        if row["table_name"] in SPEC["tables"]
    }
    expected = {
        (table, column): info["default"]
        for table, spec in SPEC["tables"].items()
        for column, info in spec["columns"].items()
        if info["default"] is not None
    }

    assert found == expected
