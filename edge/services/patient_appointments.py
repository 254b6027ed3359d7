"""The patient's own appointments (appointments.md §4.14, §4.18, §4.19): list, detail, check-in
code."""

from __future__ import annotations

from typing import Any

from edge.services.appointment_objects import (
    page_count,
    patient_appointment,
    result_ids,
    transaction_object,
)
from edge.services.errors import DomainError, NotFoundError
from edge.services.results import served_file_url
from models.appointments import Appointment, AppointmentVerification
from models.base import utc_now
from models.enums import AppointmentStatus
from models.results import ScreeningResult, ScreeningResultFile
from models.staff import CenterStaff


class CheckInCodeExpiredError(DomainError):
    """The appointment's check-in code has expired (answered 410)."""

    default_message = "Check-in code expired"


async def list_patient_appointments(
    *, patient_id: str, page: int, size: int, status: AppointmentStatus | None = None
) -> dict[str, Any]:
    """§4.14: the caller's appointments, latest appointment time first."""
    query = Appointment.filter(patient_id=patient_id)
    if status is not None:
        query = query.filter(status=status)
    total = await query.count()
    rows = (
        await query.order_by("-appointment_date_time", "-created_at", "id")
        .offset((page - 1) * size)
        .limit(size)
        .select_related("center", "screening_type", "transaction")
    )
    results = await result_ids([row.id for row in rows])
    return {
        "appointments": [patient_appointment(row, result_id=results.get(row.id)) for row in rows],
        "page": page,
        "pageSize": size,
        "total": total,
        "totalPages": page_count(total, size),
    }


async def get_patient_appointment(*, patient_id: str, appointment_id: str) -> dict[str, Any]:
    """§4.18 (`TPatientAppointmentDetails`); another patient's appointment is not found."""
    row = (
        await Appointment.filter(id=appointment_id, patient_id=patient_id)
        .select_related("center", "screening_type", "transaction")
        .first()
    )
    if row is None:
        raise NotFoundError("Appointment not found")
    body: dict[str, Any] = {
        "id": row.id,
        "patientId": row.patient_id,
        "centerId": row.center_id,
        "screeningTypeId": row.screening_type_id,
        "appointmentDateTime": row.appointment_date_time,
        "isDonation": row.is_donation,
        "status": row.status,
    }
    if row.transaction_id is not None:
        body["transactionId"] = row.transaction_id
    body["checkInCode"] = row.check_in_code
    body["checkInCodeExpiresAt"] = row.check_in_code_expires_at
    if row.donation_id is not None:
        body["donationId"] = row.donation_id
    if row.cancellation_reason is not None:
        body["cancellationReason"] = row.cancellation_reason
    if row.cancellation_date is not None:
        body["cancellationDate"] = row.cancellation_date
    body["createdAt"] = row.created_at
    body["center"] = {
        "id": row.center.id,
        "centerName": row.center.center_name,
        "address": row.center.address,
        "state": row.center.state,
        "lga": row.center.lga,
        "phoneNumber": row.center.phone,
        "email": row.center.email,
    }
    screening_type: dict[str, Any] = {"id": row.screening_type.id, "name": row.screening_type.name}
    if row.screening_type.description is not None:
        screening_type["description"] = row.screening_type.description
    body["screeningType"] = screening_type
    if row.transaction_id is not None and row.transaction is not None:
        body["transaction"] = transaction_object(row.transaction)
    result = await ScreeningResult.filter(appointment_id=row.id).first()
    if result is not None:
        files = await ScreeningResultFile.filter(result_id=result.id, is_deleted=False).order_by(
            "uploaded_at", "id"
        )
        result_body: dict[str, Any] = {"id": result.id}
        if result.notes is not None:
            result_body["notes"] = result.notes
        result_body["uploadedAt"] = result.uploaded_at
        result_body["files"] = [
            {
                "id": file.id,
                "fileName": file.file_name,
                "fileType": file.file_type,
                "cloudinaryUrl": served_file_url(file, scope="active"),
                "uploadedAt": file.uploaded_at,
            }
            for file in files
        ]
        body["result"] = result_body
    verification = await AppointmentVerification.filter(appointment_id=row.id).first()
    if verification is not None:
        verification_body: dict[str, Any] = {
            "id": verification.id,
            "verifiedAt": verification.verified_at,
        }
        if verification.verified_by_id is not None:
            staff = await CenterStaff.get_or_none(id=verification.verified_by_id)
            if staff is not None:
                verification_body["verifier"] = {"id": staff.id, "email": staff.email}
        body["verification"] = verification_body
    return body


async def check_in_code(*, patient_id: str, appointment_id: str) -> dict[str, Any]:
    """§4.19: the code of one of the caller's appointments (410 once expired)."""
    row = await Appointment.filter(id=appointment_id, patient_id=patient_id).first()
    if row is None:
        raise NotFoundError("Not found or forbidden")
    expires_at = row.check_in_code_expires_at
    if expires_at is not None and utc_now() > expires_at:
        raise CheckInCodeExpiredError()
    return {"checkInCode": row.check_in_code, "expiresAt": expires_at}
