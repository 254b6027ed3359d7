"""Patient appointment routes: /api/v1/appointment/patient (book, donated booking after a match,
list, detail, check-in code, result, receipt). Every route is for `patient` tokens and sees only
the caller's own rows.
"""

from __future__ import annotations

import logging

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.guards import requires_role
from edge.deps import principal_of, settings_of
from edge.envelope import ok
from edge.errors import ApiError
from edge.payments import PaystackClient, ProviderError
from edge.schemas.appointment import (
    BookBody,
    EligibleCentersQuery,
    IdPath,
    PatientAppointmentsQuery,
    SelectCenterBody,
)
from edge.services import bookings, patient_appointments, patient_receipts, results
from edge.services.patient_appointments import CheckInCodeExpiredError
from edge.validation import parse_body, parse_query, validate

log = logging.getLogger("zerocancer.edge.bookings")

bp = Blueprint("appointment_patient", url_prefix="/appointment")


@bp.post("/patient/book", name="book_appointment")
@requires_role("patient")
async def book_appointment(request: Request) -> HTTPResponse:
    """Self-pay booking: a PENDING appointment and the payment page to complete it."""
    body = parse_body(request, BookBody)
    patient_id = principal_of(request).id
    booking = await bookings.create_pending_booking(
        patient_id=patient_id,
        center_id=body.center_id,
        screening_type_id=body.screening_type_id,
        when=body.appointment_date_time,
    )
    frontend = settings_of(request).frontend_url
    try:
        async with PaystackClient() as gateway:
            payment = await gateway.initialize_transaction(
                email=booking.email,
                amount_kobo=round(booking.amount * 100),
                reference=booking.reference,
                callback_url=(
                    f"{frontend}/patient/book/payment-status?ref={booking.reference}"
                    f"&type=book&patientId={patient_id}"
                ),
                metadata={
                    "appointmentId": booking.appointment_id,
                    "payment_type": "appointment_booking",
                    "campaign_id": None,
                },
            )
    except ProviderError as exc:
        log.warning("payment initialisation failed for %s: %s", booking.reference, exc)
        await bookings.fail_pending_booking(booking)
        raise ApiError("Failed to initialize payment", status=502) from None
    return ok(
        {
            "appointment": await bookings.booked_appointment(booking),
            "payment": {
                "transactionId": booking.reference,
                "reference": booking.reference,
                "authorizationUrl": payment.authorization_url,
                "accessCode": payment.access_code,
            },
        }
    )


@bp.get("/patient/matches/eligible-centers/<allocation_id:str>", name="list_eligible_centers")
@requires_role("patient")
async def list_eligible_centers(request: Request, allocation_id: str) -> HTTPResponse:
    """ACTIVE centers offering the matched screening type (filters: state, lga)."""
    query = parse_query(request, EligibleCentersQuery)
    return ok(
        await bookings.eligible_centers(
            patient_id=principal_of(request).id,
            allocation_id=allocation_id,
            page=query.page,
            size=query.size,
            state=query.state,
            lga=query.lga,
        )
    )


@bp.post("/patient/matches/select-center", name="select_center")
@requires_role("patient")
async def select_center(request: Request) -> HTTPResponse:
    """Book with a matched donation: claims the allocation and schedules the appointment."""
    body = parse_body(request, SelectCenterBody)
    return ok(
        await bookings.select_center(
            patient_id=principal_of(request).id,
            allocation_id=body.allocation_id,
            center_id=body.center_id,
            when=body.appointment_date_time,
        )
    )


@bp.get("/patient", name="list_patient_appointments")
@requires_role("patient")
async def list_patient_appointments(request: Request) -> HTTPResponse:
    """The caller's appointments, latest first (filter: status)."""
    query = parse_query(request, PatientAppointmentsQuery)
    return ok(
        await patient_appointments.list_patient_appointments(
            patient_id=principal_of(request).id,
            page=query.page,
            size=query.size,
            status=query.status,
        )
    )


@bp.get("/patient/results/<result_id:str>", name="get_patient_result")
@requires_role("patient")
async def get_patient_result(request: Request, result_id: str) -> HTTPResponse:
    """One of the caller's screening results (non-deleted files only)."""
    validate(IdPath, {"id": result_id})
    return ok(
        await results.patient_result(patient_id=principal_of(request).id, result_id=result_id)
    )


@bp.get("/patient/receipts/<transaction_id:str>", name="get_appointment_receipt")
@requires_role("patient")
async def get_appointment_receipt(request: Request, transaction_id: str) -> HTTPResponse:
    """A payment of the caller's with the appointments it paid for."""
    return ok(
        await patient_receipts.get_receipt(
            patient_id=principal_of(request).id, transaction_id=transaction_id
        )
    )


@bp.get("/patient/<appointment_id:str>", name="get_patient_appointment")
@requires_role("patient")
async def get_patient_appointment(request: Request, appointment_id: str) -> HTTPResponse:
    """One of the caller's appointments with center, result files and check-in."""
    return ok(
        await patient_appointments.get_patient_appointment(
            patient_id=principal_of(request).id, appointment_id=appointment_id
        )
    )


@bp.get("/patient/<appointment_id:str>/checkin-code", name="get_check_in_code")
@requires_role("patient")
async def get_check_in_code(request: Request, appointment_id: str) -> HTTPResponse:
    """The appointment's check-in code (`null` until paid; 410 once expired)."""
    try:
        answer = await patient_appointments.check_in_code(
            patient_id=principal_of(request).id, appointment_id=appointment_id
        )
    except CheckInCodeExpiredError as exc:
        raise ApiError(exc.message, status=410) from None
    return ok(answer)
