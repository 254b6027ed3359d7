"""Receipts of the patient's paid appointments (appointments.md §4.17 and the
`/api/v1/patient/receipts` routes of §5)."""

from __future__ import annotations

from typing import Any

from edge.services.appointment_objects import page_count
from edge.services.errors import NotFoundError
from models.appointments import Appointment
from models.transactions import Transaction


async def _receipt(transaction: Transaction, patient_id: str) -> dict[str, Any]:
    appointments = await Appointment.filter(
        transaction_id=transaction.id, patient_id=patient_id
    ).select_related("screening_type")
    return {
        "id": transaction.id,
        "appointments": [
            {
                "id": appointment.id,
                "appointmentDateTime": appointment.appointment_date_time,
                "screeningType": {
                    "id": appointment.screening_type.id,
                    "name": appointment.screening_type.name,
                },
                "patientId": appointment.patient_id,
            }
            for appointment in appointments
        ],
        "createdAt": transaction.created_at,
    }


async def get_receipt(*, patient_id: str, transaction_id: str) -> dict[str, Any]:
    """A transaction with the caller's appointments; none of them the caller's -> not found."""
    transaction = await Transaction.get_or_none(id=transaction_id)
    if transaction is None:
        raise NotFoundError("Not found or forbidden")
    body = await _receipt(transaction, patient_id)
    if not body["appointments"]:
        raise NotFoundError("Not found or forbidden")
    return body


async def list_receipts(*, patient_id: str, page: int, size: int) -> dict[str, Any]:
    """Transactions linked to the caller's appointments, newest first."""
    ids = await (
        Appointment.filter(patient_id=patient_id, transaction_id__isnull=False)
        .distinct()
        .values_list("transaction_id", flat=True)
    )
    query = Transaction.filter(id__in=[str(value) for value in ids])
    total = await query.count()
    rows = await query.order_by("-created_at", "-id").offset((page - 1) * size).limit(size)
    return {
        "receipts": [await _receipt(row, patient_id) for row in rows],
        "page": page,
        "pageSize": size,
        "total": total,
        "totalPages": page_count(total, size),
    }
