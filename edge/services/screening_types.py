"""Screening types and categories: read-only reference data (centers.md 4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.queryset import QuerySet

from edge.services.errors import NotFoundError
from models.screening_types import ScreeningType, ScreeningTypeCategory


def type_json(screening_type: ScreeningType, *, description: bool = False) -> dict[str, Any]:
    """`TScreeningType`; with `description`, the key is left out when NULL (D-CEN-6)."""
    body: dict[str, Any] = {
        "id": screening_type.id,
        "name": screening_type.name,
        "screeningTypeCategoryId": screening_type.screening_type_category_id,
        "active": screening_type.active,
    }
    if description and screening_type.description is not None:
        body["description"] = screening_type.description
    return body


@dataclass(frozen=True, slots=True)
class TypePage:
    items: list[dict[str, Any]]
    page: int
    page_size: int
    total: int


def _active(search: str, category_id: str | None = None) -> QuerySet[ScreeningType]:
    query = ScreeningType.filter(active=True)
    if search:
        query = query.filter(name__icontains=search)
    if category_id is not None:
        query = query.filter(screening_type_category_id=category_id)
    return query


async def page_of_types(
    *, page: int, page_size: int, search: str = "", category_id: str | None = None
) -> TypePage:
    """Active types, by name, one page of them, and how many match."""
    query = _active(search, category_id)
    total = await query.count()
    rows = await query.order_by("name", "id").offset((page - 1) * page_size).limit(page_size)
    return TypePage([type_json(row) for row in rows], page, page_size, total)


async def all_types(*, search: str = "") -> list[dict[str, Any]]:
    """Every active type by name, with its description when it has one."""
    rows = await _active(search).order_by("name", "id")
    return [type_json(row, description=True) for row in rows]


async def categories() -> list[dict[str, Any]]:
    rows = await ScreeningTypeCategory.all().order_by("name", "id")
    return [{"id": row.id, "name": row.name} for row in rows]


async def type_by_name(name: str) -> dict[str, Any]:
    """Exact, case-sensitive name, active or not; raises NotFoundError "Not found"."""
    row = await ScreeningType.get_or_none(name=name)
    if row is None:
        raise NotFoundError("Not found")
    return type_json(row)


async def type_by_id(type_id: str) -> dict[str, Any]:
    row = await ScreeningType.get_or_none(id=type_id)
    if row is None:
        raise NotFoundError("Not found")
    return type_json(row)
