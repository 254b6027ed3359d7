"""Admin centre approval: /api/v1/admin/centers (list, status; admin.md §3)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from tortoise.expressions import Q

from edge.auth.guards import requires_role
from edge.deps import principal_of
from edge.envelope import ok
from edge.schemas.admin import CentersQuery, CenterStatusBody
from edge.services import admin_ops
from edge.services.listing import offset, page_body
from edge.services.rows import row
from edge.validation import parse_body, parse_query
from models.appointments import Appointment
from models.base import utc_now
from models.centers import ServiceCenter
from models.staff import CenterStaff

bp = Blueprint("admin_centers", url_prefix="/admin")

#: Columns never sent (D-ADM-1).
SECRET_COLUMNS = ("passwordHash",)


async def center_objects(centers: list[ServiceCenter]) -> list[dict[str, Any]]:
    ids = [c.id for c in centers]
    staff: dict[str, list[dict[str, Any]]] = {}
    for member in await CenterStaff.filter(center_id__in=ids).order_by("email", "id"):
        staff.setdefault(member.center_id, []).append(
            {"id": member.id, "email": member.email, "role": member.role}
        )
    services: dict[str, list[dict[str, Any]]] = {}
    for center in centers:
        services[center.id] = [
            {"id": s.id, "name": s.name} for s in await center.services.all().order_by("name")
        ]
    recent: dict[str, list[dict[str, Any]]] = {}
    for appointment in await Appointment.filter(center_id__in=ids).order_by("-created_at", "-id"):
        mine = recent.setdefault(appointment.center_id, [])
        if len(mine) < 5:
            mine.append({"id": appointment.id, "status": appointment.status})
    return [
        {
            **row(center, exclude=SECRET_COLUMNS),
            "staff": staff.get(center.id, []),
            "services": services.get(center.id, []),
            "appointments": recent.get(center.id, []),
        }
        for center in centers
    ]


@bp.get("/centers", name="list_admin_centers")
@requires_role("admin")
async def list_admin_centers(request: Request) -> HTTPResponse:
    """Every centre, newest first (filters: status, state, search in name or email)."""
    query = parse_query(request, CentersQuery)
    found = ServiceCenter.all()
    if query.status:
        found = found.filter(status=query.status)
    if query.state:
        found = found.filter(state=query.state)
    if query.search:
        found = found.filter(
            Q(center_name__icontains=query.search) | Q(email__icontains=query.search)
        )
    total = await found.count()
    centers = (
        await found.order_by("-created_at", "-id")
        .offset(offset(query.page, query.page_size))
        .limit(query.page_size)
    )
    return ok(
        page_body(
            "centers",
            await center_objects(centers),
            page=query.page,
            size=query.page_size,
            total=total,
        )
    )


@bp.patch("/centers/<center_id:str>/status", name="update_center_status")
@requires_role("admin")
async def update_center_status(request: Request, center_id: str) -> HTTPResponse:
    """Approve (ACTIVE), deactivate or suspend a centre; the centre is emailed (best effort)."""
    body = parse_body(request, CenterStatusBody)
    await admin_ops.set_center_status(
        center_id=center_id,
        status=body.status,
        reason=body.reason,
        admin_id=principal_of(request).id,
    )
    return ok({"centerId": center_id, "status": body.status, "updatedAt": utc_now()})
