"""Check-in by code at the center (appointments.md §4.6, new order and rules of D-APT-6).

Every outcome is an answer, not an error: `{"valid", "appointmentId"?, "message"}`. The
appointment row is locked while checking, and the status change is conditional on SCHEDULED, so
two simultaneous check-ins give one success and one "already checked in".
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from actors.contracts.notifications import notify
from edge.services.acting import Acting, acting_staff_id
from edge.services.appointment_times import lagos_date
from edge.services.appointments import funding_donor_ids
from edge.services.check_in_codes import normalise_code
from models.appointments import Appointment, AppointmentVerification
from models.base import utc_now
from models.enums import AppointmentStatus

INVALID = "Invalid check-in code"
FOREIGN = "Check-in code does not belong to your center"
EXPIRED = "Check-in code has expired"
CANCELLED = "Appointment has been cancelled"
UNPAID = "Appointment payment is not complete"
ALREADY = "Appointment already checked in"
NOT_TODAY = "Appointment is not scheduled for today"
SUCCESS = "Check-in successful"


class _AlreadyCheckedInError(Exception):
    """Rolls back a check-in that lost a race."""


def _answer(valid: bool, message: str, appointment_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"valid": valid}
    if appointment_id is not None:
        body["appointmentId"] = appointment_id
    body["message"] = message
    return body


async def verify(*, acting: Acting, code: str) -> dict[str, Any]:
    """Checks the patient in when the code is theirs, today's, at this center and still valid."""
    code = normalise_code(code)
    appointment_id: str | None = None
    try:
        async with in_transaction() as conn:
            appointment = (
                await Appointment.filter(check_in_code=code)
                .using_db(conn)
                .select_for_update(of=("Appointment",))
                .select_related("center", "screening_type")
                .first()
            )
            if appointment is None:
                return _answer(False, INVALID)
            appointment_id = appointment.id
            # Nothing about a foreign center's appointment is revealed (D-APT-6).
            if appointment.center_id != acting.center_id:
                return _answer(False, FOREIGN)
            now = utc_now()
            expires_at = appointment.check_in_code_expires_at
            if expires_at is not None and now > expires_at:
                return _answer(False, EXPIRED)
            if appointment.status == AppointmentStatus.CANCELLED:
                return _answer(False, CANCELLED, appointment.id)
            if appointment.status == AppointmentStatus.PENDING:
                return _answer(False, UNPAID, appointment.id)
            verified = (
                await AppointmentVerification.filter(appointment_id=appointment.id)
                .using_db(conn)
                .exists()
            )
            if appointment.status != AppointmentStatus.SCHEDULED or verified:
                return _answer(False, ALREADY, appointment.id)
            if lagos_date(appointment.appointment_date_time) != lagos_date(now):
                return _answer(False, NOT_TODAY, appointment.id)
            verifier = await acting_staff_id(
                center_id=acting.center_id, staff_id=acting.staff_id, using_db=conn
            )
            await AppointmentVerification.create(
                appointment_id=appointment.id,
                verified_by_id=verifier,
                verified_at=now,
                using_db=conn,
            )
            changed = (
                await Appointment.filter(id=appointment.id, status=AppointmentStatus.SCHEDULED)
                .using_db(conn)
                .update(status=AppointmentStatus.IN_PROGRESS)
            )
            if changed != 1:  # pragma: no cover - the row is locked above
                raise _AlreadyCheckedInError()
            await _notify_check_in(appointment, conn)
            return _answer(True, SUCCESS, appointment.id)
    except (_AlreadyCheckedInError, IntegrityError):
        # A concurrent check-in committed its verification row first.
        return _answer(False, ALREADY, appointment_id)


async def _notify_check_in(appointment: Appointment, conn: Any) -> None:
    center_name = appointment.center.center_name
    type_name = appointment.screening_type.name
    await notify(
        type="CHECK_IN_CONFIRMED",
        title="Check-in Confirmed",
        message=(
            f"Your appointment at {center_name} has been confirmed. "
            "Please proceed with your screening."
        ),
        recipient_ids=[appointment.patient_id],
        data={"appointmentId": appointment.id},
        email=True,
        using_db=conn,
    )
    if not appointment.is_donation:
        return
    donors = await funding_donor_ids(appointment.id, using_db=conn)
    if donors:
        await notify(
            type="PATIENT_CHECKED_IN",
            title="Patient Has Checked In",
            message=(
                f"A patient you funded has checked in for their {type_name} screening at "
                f"{center_name}. Their appointment is now in progress."
            ),
            recipient_ids=donors,
            data={
                "appointmentId": appointment.id,
                "screeningType": type_name,
                "centerName": center_name,
                "patientId": appointment.patient_id,
            },
            using_db=conn,
        )
