"""The appointment wire objects (appointments.md §2.2, §2.3) and the lookups that fill them."""

from __future__ import annotations

import math
from typing import Any

from models.appointments import Appointment
from models.results import ScreeningResult
from models.transactions import Transaction


def transaction_object(transaction: Transaction) -> dict[str, Any]:
    return {
        "id": transaction.id,
        "type": transaction.type,
        "status": transaction.status,
        "amount": transaction.amount,
        "paymentReference": transaction.payment_reference,
        "paymentChannel": transaction.payment_channel,
        "createdAt": transaction.created_at,
    }


def patient_appointment(
    appointment: Appointment, *, result_id: str | None = None, with_transaction: bool = True
) -> dict[str, Any]:
    """`TPatientAppointment` (§2.2); `center`, `screening_type`, `transaction` must be loaded."""
    body: dict[str, Any] = {
        "id": appointment.id,
        "patientId": appointment.patient_id,
        "centerId": appointment.center_id,
        "screeningTypeId": appointment.screening_type_id,
        "appointmentDateTime": appointment.appointment_date_time,
        "isDonation": appointment.is_donation,
        "status": appointment.status,
    }
    if appointment.transaction_id is not None:
        body["transactionId"] = appointment.transaction_id
    body["checkInCode"] = appointment.check_in_code
    body["checkInCodeExpiresAt"] = appointment.check_in_code_expires_at
    if appointment.donation_id is not None:
        body["donationId"] = appointment.donation_id
    center = appointment.center
    body["center"] = {
        "id": center.id,
        "centerName": center.center_name,
        "address": center.address,
        "state": center.state,
        "lga": center.lga,
    }
    body["screeningType"] = {
        "id": appointment.screening_type.id,
        "name": appointment.screening_type.name,
    }
    if with_transaction and appointment.transaction_id is not None and appointment.transaction:
        body["transaction"] = transaction_object(appointment.transaction)
    if result_id is not None:
        body["result"] = {"id": result_id}
    return body


def center_appointment(appointment: Appointment) -> dict[str, Any]:
    """Every scalar column of `Appointment` (§2.3); the check-in code is never shown to centers."""
    return {
        "id": appointment.id,
        "patientId": appointment.patient_id,
        "centerId": appointment.center_id,
        "screeningTypeId": appointment.screening_type_id,
        "donationId": appointment.donation_id,
        "isDonation": appointment.is_donation,
        "appointmentDateTime": appointment.appointment_date_time,
        "transactionId": appointment.transaction_id,
        "status": appointment.status,
        "createdAt": appointment.created_at,
        "cancellationReason": appointment.cancellation_reason,
        "cancellationDate": appointment.cancellation_date,
        # D-APT-12: the code is the patient's proof of presence; the key stays for the UI.
        "checkInCode": None,
        "checkInCodeExpiresAt": appointment.check_in_code_expires_at,
    }


def page_count(total: int, size: int) -> int:
    return math.ceil(total / size) if size > 0 else 0


async def result_ids(appointment_ids: list[str]) -> dict[str, str]:
    """Appointment id -> its `ScreeningResult.id`, for those that have one."""
    if not appointment_ids:
        return {}
    rows = await ScreeningResult.filter(appointment_id__in=appointment_ids).values_list(
        "appointment_id", "id"
    )
    return {str(appointment_id): str(result_id) for appointment_id, result_id in rows}
