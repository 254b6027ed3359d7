"""Screening type routes: /api/v1/screening-types (lists, categories, by name, by id); public.

The fixed paths (`/all`, `/categories`, `/category/..`, `/by-name/..`) are declared before
`/{id}`, as the reference matches them first.
"""

from __future__ import annotations

import urllib.parse

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.envelope import ok, respond
from edge.schemas.centers import ScreeningTypesQuery
from edge.services import screening_types
from edge.validation import parse_query

bp = Blueprint("screening_types", url_prefix="/screening-types")


def _page(result: screening_types.TypePage) -> HTTPResponse:
    """The paginated answer with `pageSize` at the top level, beside `data` (centers.md 4.1)."""
    pages = -(-result.total // result.page_size) if result.total else 0
    return respond(
        {
            "ok": True,
            "data": result.items,
            "page": result.page,
            "pageSize": result.page_size,
            "total": result.total,
            "totalPages": pages,
        }
    )


@bp.get("", name="list_screening_types")
async def list_screening_types(request: Request) -> HTTPResponse:
    """Active screening types by name, one page."""
    query = parse_query(request, ScreeningTypesQuery)
    return _page(
        await screening_types.page_of_types(
            page=query.page, page_size=query.page_size, search=query.search
        )
    )


@bp.get("/all", name="list_all_screening_types")
async def list_all_screening_types(request: Request) -> HTTPResponse:
    """Every active screening type by name, with descriptions (paging is validated, not applied)."""
    query = parse_query(request, ScreeningTypesQuery)
    return ok(await screening_types.all_types(search=query.search))


@bp.get("/categories", name="list_screening_type_categories")
async def list_screening_type_categories(request: Request) -> HTTPResponse:
    """Every screening type category by name."""
    return ok(await screening_types.categories())


@bp.get("/category/<category_id:str>", name="list_screening_types_by_category")
async def list_screening_types_by_category(request: Request, category_id: str) -> HTTPResponse:
    """Active screening types of one category, one page (unknown category: empty)."""
    query = parse_query(request, ScreeningTypesQuery)
    return _page(
        await screening_types.page_of_types(
            page=query.page,
            page_size=query.page_size,
            search=query.search,
            category_id=category_id,
        )
    )


@bp.get("/by-name/<name:str>", name="get_screening_type_by_name")
async def get_screening_type_by_name(request: Request, name: str) -> HTTPResponse:
    """The screening type with exactly this (percent-decoded) name, active or not."""
    # Decoded once from the raw path: whether the router unquotes a parameter depends on the
    # order routes were added (sanic-routing), so its value may or may not be decoded already.
    raw = request.path.rsplit("/by-name/", 1)[-1]
    return ok(await screening_types.type_by_name(urllib.parse.unquote(raw)))


@bp.get("/<type_id:str>", name="get_screening_type")
async def get_screening_type(request: Request, type_id: str) -> HTTPResponse:
    """One screening type by id, active or not."""
    return ok(await screening_types.type_by_id(type_id))
