"""Admin appointment and result oversight: /api/v1/admin/appointments (admin.md §6)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.guards import requires_role
from edge.envelope import ok
from edge.schemas.admin import AppointmentsQuery
from edge.schemas.dates import parse_bound
from edge.services.listing import offset, page_body
from edge.services.rows import row
from edge.validation import parse_query
from models.appointments import Appointment
from models.results import ScreeningResult

bp = Blueprint("admin_appointments", url_prefix="/admin")


@bp.get("/appointments", name="list_admin_appointments")
@requires_role("admin")
async def list_admin_appointments(request: Request) -> HTTPResponse:
    """Every appointment, newest first, with patient, centre, type, payment and result summary."""
    query = parse_query(request, AppointmentsQuery)
    start = parse_bound(query.date_from, "dateFrom")
    end = parse_bound(query.date_to, "dateTo", end=True)
    found = Appointment.all()
    if query.status:
        found = found.filter(status=query.status)
    if query.center_id:
        found = found.filter(center_id=query.center_id)
    if query.is_donation is not None:
        found = found.filter(is_donation=query.is_donation)
    if start is not None:
        found = found.filter(appointment_date_time__gte=start)
    if end is not None:
        found = found.filter(appointment_date_time__lte=end)
    total = await found.count()
    appointments = (
        await found.order_by("-created_at", "-id")
        .offset(offset(query.page, query.page_size))
        .limit(query.page_size)
        .select_related("patient", "center", "screening_type", "transaction")
    )
    results = {
        r.appointment_id: r
        for r in await ScreeningResult.filter(appointment_id__in=[a.id for a in appointments])
    }
    shown = []
    for appointment in appointments:
        transaction = appointment.transaction
        result = results.get(appointment.id)
        shown.append(
            {
                **row(appointment),
                "patient": {
                    "id": appointment.patient.id,
                    "fullName": appointment.patient.full_name,
                    "email": appointment.patient.email,
                },
                "center": {
                    "id": appointment.center.id,
                    "centerName": appointment.center.center_name,
                    "state": appointment.center.state,
                    "lga": appointment.center.lga,
                },
                "screeningType": {
                    "id": appointment.screening_type.id,
                    "name": appointment.screening_type.name,
                },
                "transaction": (
                    {
                        "id": transaction.id,
                        "amount": transaction.amount,
                        "status": transaction.status,
                    }
                    if transaction
                    else None
                ),
                "result": (
                    {"id": result.id, "uploadedAt": result.uploaded_at, "notes": result.notes}
                    if result
                    else None
                ),
            }
        )
    return ok(page_body("appointments", shown, page=query.page, size=query.page_size, total=total))
