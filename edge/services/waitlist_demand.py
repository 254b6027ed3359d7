"""Public waitlist demand (waitlist.md §2.6): pending entries counted per screening type."""

from __future__ import annotations

from typing import Any

from tortoise import connections

from edge.services.listing import page_body

_DEMAND_SQL = """
SELECT w."screeningTypeId" AS id, st.name AS name, count(*)::int AS pending
FROM "Waitlist" w JOIN "ScreeningType" st ON st.id = w."screeningTypeId"
WHERE w.status = 'PENDING'
GROUP BY w."screeningTypeId", st.name
ORDER BY pending {direction}, st.name ASC, w."screeningTypeId" ASC
LIMIT $1 OFFSET $2
"""


async def demand(*, page: int, page_size: int, descending: bool) -> dict[str, Any]:
    """§2.6: PENDING entries counted per screening type, most (or least) demanded first."""
    conn = connections.get("default")
    total_rows = await conn.execute_query_dict(
        'SELECT count(DISTINCT "screeningTypeId")::int AS total FROM "Waitlist" '
        "WHERE status = 'PENDING'"
    )
    total = int(total_rows[0]["total"]) if total_rows else 0
    sql = _DEMAND_SQL.format(direction="DESC" if descending else "ASC")
    rows = await conn.execute_query_dict(sql, [page_size, (page - 1) * page_size])
    items = [
        {
            "screeningTypeId": row["id"],
            "screeningType": {"id": row["id"], "name": row["name"]},
            "pendingCount": row["pending"],
            "totalCount": row["pending"],
            "demand": row["pending"],
        }
        for row in rows
    ]
    return page_body("waitlists", items, page=page, size=page_size, total=total)
