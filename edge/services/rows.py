"""Rows as the contract shows them: every column of the table under its database name.

`row(instance)` gives `{"id", "centerId", "createdAt", ...}` for any model instance (the column
names are the production camelCase ones, mapped by the models); `exclude` drops secrets such as
`passwordHash` (D-ADM-1), which callers must always name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tortoise.models import Model


def row(instance: Model, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """All columns of `instance` keyed by column name, in the model's field order."""
    skip = set(exclude)
    projection: dict[str, str] = instance._meta.fields_db_projection
    return {
        column: getattr(instance, attribute)
        for attribute, column in projection.items()
        if column not in skip
    }


def rows(instances: Iterable[Model], *, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    skip = tuple(exclude)
    return [row(instance, exclude=skip) for instance in instances]
