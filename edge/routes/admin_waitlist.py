"""Admin waitlist analytics: GET /api/v1/admin/waitlist (analytics.md §7, admin.md §8).

Without `groupBy`: one page of entries (oldest first) with patient, profile location, screening
and allocation. With `groupBy`: counts per state, screening type or status. The `status`,
`screeningTypeId` and `state` filters apply in both modes, in SQL (D-AN-9).
"""

from __future__ import annotations

import logging
from typing import Literal

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.guards import requires_role
from edge.envelope import ok
from edge.errors import ApiError
from edge.schemas.admin import Paging
from edge.schemas.donor import Uuid
from edge.services import admin_overview
from edge.services.listing import page_body
from edge.validation import parse_query

log = logging.getLogger("zerocancer.edge.admin_waitlist")

bp = Blueprint("admin_waitlist", url_prefix="/admin")

FAILED = "Failed to fetch waitlist data"


class WaitlistQuery(Paging):
    """page >= 1 (1), pageSize 1-100 (20), status, screeningTypeId (UUID), state, groupBy."""

    status: Literal["PENDING", "MATCHED", "CLAIMED", "EXPIRED"] | None = None
    screening_type_id: Uuid | None = None
    state: str | None = None
    group_by: Literal["state", "screening_type", "status"] | None = None


@bp.get("/waitlist", name="admin_waitlist")
@requires_role("admin")
async def admin_waitlist(request: Request) -> HTTPResponse:
    """Waitlist entries (paged) or their counts grouped by state, screening type or status."""
    query = parse_query(request, WaitlistQuery)
    filters = {
        "status": query.status,
        "screening_type_id": query.screening_type_id,
        "state": (query.state or "").strip() or None,
    }
    try:
        if query.group_by is not None:
            aggregation = await admin_overview.waitlist_aggregation(query.group_by, **filters)
            return ok({"aggregation": aggregation, "groupBy": query.group_by})
        entries, total = await admin_overview.waitlist_page(
            page=query.page, page_size=query.page_size, **filters
        )
    except Exception as exc:
        log.error("admin waitlist query failed: %s", type(exc).__name__, exc_info=exc)
        raise ApiError(FAILED, status=500) from None
    return ok(
        page_body("waitlistEntries", entries, page=query.page, size=query.page_size, total=total)
    )
