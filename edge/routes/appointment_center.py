"""Center appointment routes: /api/v1/appointment/center (list, detail, cancel, reschedule,
check in, complete). Result upload and file deletion are in `results`.

Every route is for `center` and `center_staff` tokens and sees only the caller's center's
appointments: another center's answers 404 (D-APT-2).
"""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.guards import requires_role
from edge.deps import principal_of
from edge.envelope import ok
from edge.errors import ValidationFailed
from edge.schemas.appointment import (
    CancelBody,
    CenterAppointmentsQuery,
    CompleteBody,
    RescheduleBody,
    VerifyBody,
)
from edge.services import appointments, checkin
from edge.services.acting import Acting
from edge.validation import parse_body, parse_query

bp = Blueprint("appointment_center", url_prefix="/appointment")

CENTER_ROLES = ("center", "center_staff")


@bp.get("/center", name="list_center_appointments")
@requires_role(*CENTER_ROLES)
async def list_center_appointments(request: Request) -> HTTPResponse:
    """The caller's center's appointments, newest first (filters: screeningType, status)."""
    query = parse_query(request, CenterAppointmentsQuery)
    acting = Acting.of(principal_of(request))
    page = await appointments.list_center_appointments(
        center_id=acting.center_id,
        page=query.page,
        page_size=query.page_size,
        screening_type_id=query.screening_type,
        status=query.status,
    )
    return ok(page)


@bp.post("/center/verify", name="check_in")
@requires_role(*CENTER_ROLES)
async def check_in(request: Request) -> HTTPResponse:
    """Check a patient in with their code (every outcome answers 200 with `valid`)."""
    body = parse_body(request, VerifyBody)
    answer = await checkin.verify(acting=Acting.of(principal_of(request)), code=body.check_in_code)
    return ok(answer)


@bp.get("/center/<appointment_id:str>", name="get_center_appointment")
@requires_role(*CENTER_ROLES)
async def get_center_appointment(request: Request, appointment_id: str) -> HTTPResponse:
    """One of the caller's center's appointments, with patient and check-in."""
    acting = Acting.of(principal_of(request))
    return ok(
        await appointments.get_center_appointment(
            center_id=acting.center_id, appointment_id=appointment_id
        )
    )


@bp.post("/center/<appointment_id:str>/cancel", name="cancel_appointment")
@requires_role(*CENTER_ROLES)
async def cancel_appointment(request: Request, appointment_id: str) -> HTTPResponse:
    """Cancel; a donation-funded appointment releases its reserved money."""
    body = parse_body(request, CancelBody)
    return ok(
        await appointments.cancel_appointment(
            acting=Acting.of(principal_of(request)),
            appointment_id=appointment_id,
            reason=body.reason,
        )
    )


@bp.post("/center/<appointment_id:str>/reschedule", name="reschedule_appointment")
@requires_role(*CENTER_ROLES)
async def reschedule_appointment(request: Request, appointment_id: str) -> HTTPResponse:
    """Move a pending or scheduled appointment (its status is kept; the patient is told)."""
    body = parse_body(request, RescheduleBody)
    return ok(
        await appointments.reschedule_appointment(
            acting=Acting.of(principal_of(request)),
            appointment_id=appointment_id,
            new_time=body.new_date_time,
            reason=body.reason,
        )
    )


@bp.post("/center/<appointment_id:str>/complete", name="complete_appointment")
@requires_role(*CENTER_ROLES)
async def complete_appointment(request: Request, appointment_id: str) -> HTTPResponse:
    """Mark an in-progress appointment with uploaded results as completed."""
    body = parse_body(request, CompleteBody)
    if body.appointment_id != appointment_id:
        raise ValidationFailed.issue(["appointmentId"], "appointmentId must match the path")
    return ok(
        await appointments.complete_appointment(
            acting=Acting.of(principal_of(request)), appointment_id=appointment_id
        )
    )
