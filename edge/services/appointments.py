"""Appointments seen from a center (appointments.md §4.2-4.8): list, detail, cancel, reschedule,
complete.

Also the pieces every appointment use case shares: Africa/Lagos day arithmetic, check-in codes,
the acting staff member, and the wire objects of §2.2/§2.3.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from actors.contracts.notifications import notify
from edge.auth.guards import Principal
from edge.envelope import iso
from edge.services.errors import InvalidInputError, NotFoundError
from edge.services.waitlists import release_claimed_allocation
from models.appointments import Appointment, AppointmentVerification
from models.base import utc_now
from models.campaigns import DonationCampaign
from models.centers import ServiceCenter
from models.enums import AppointmentStatus
from models.results import ScreeningResult, ScreeningResultFile
from models.staff import CenterStaff
from models.transactions import Transaction
from models.waitlists import DonationAllocation

# ---------------------------------------------------------------------------------------------
# Clock and calendar: "day" rules use Africa/Lagos (UTC+01:00, no daylight saving, §1).

#: Offset of Africa/Lagos from UTC (fixed: West Africa Time has no daylight saving).
LAGOS_OFFSET = timedelta(hours=1)
#: Furthest ahead a booking or reschedule may be placed.
MAX_BOOKING_AHEAD = timedelta(days=365)
#: Check-in codes of donation-funded bookings last at least this long (§2.1).
DONATION_CODE_LIFETIME = timedelta(days=7)
#: Regeneration attempts on a check-in code collision (D-APT-22).
CHECK_IN_CODE_ATTEMPTS = 5

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def lagos_date(moment: datetime) -> date:
    """The Africa/Lagos calendar date of a naive-UTC moment."""
    return (moment + LAGOS_OFFSET).date()


def end_of_lagos_day(moment: datetime) -> datetime:
    """Last millisecond of the moment's Lagos day, in naive UTC (`D 22:59:59.999Z`)."""
    return datetime.combine(lagos_date(moment), time(23, 59, 59, 999000)) - LAGOS_OFFSET


def wat_text(moment: datetime) -> str:
    """`D MMMM YYYY, HH:mm` in Lagos time (notification copy)."""
    local = moment + LAGOS_OFFSET
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def parse_date_time(text: str) -> datetime | None:
    """An ISO-8601 date-time as naive UTC (ms); no offset means UTC. None when not one."""
    text = text.strip()
    if not _DATE_TIME.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def bookable_time(text: str, now: datetime | None = None) -> datetime | None:
    """A valid appointment time: ISO date-time, not in the past, at most 365 days ahead."""
    moment = parse_date_time(text)
    if moment is None:
        return None
    now = now or utc_now()
    if moment < now or moment > now + MAX_BOOKING_AHEAD:
        return None
    return moment


def new_check_in_code() -> str:
    """12 upper-case hex characters from 6 CSPRNG bytes (§2.1)."""
    return secrets.token_hex(6).upper()


def normalise_code(text: str) -> str:
    return text.strip().upper()


async def assign_check_in_code(
    appointment: Appointment, expires_at: datetime, *, using_db: BaseDBAsyncClient
) -> None:
    """Saves the appointment with a fresh unique code, regenerating on a collision (D-APT-22).

    Each attempt runs in a savepoint so a unique violation does not abort the caller's
    transaction (which `using_db` must be).
    """
    appointment.check_in_code_expires_at = expires_at
    for attempt in range(CHECK_IN_CODE_ATTEMPTS):
        appointment.check_in_code = new_check_in_code()
        await using_db.execute_script("SAVEPOINT check_in_code")
        try:
            await appointment.save(using_db=using_db)
        except IntegrityError as exc:
            await using_db.execute_script("ROLLBACK TO SAVEPOINT check_in_code")
            if "checkInCode" not in str(exc) or attempt == CHECK_IN_CODE_ATTEMPTS - 1:
                raise
        else:
            await using_db.execute_script("RELEASE SAVEPOINT check_in_code")
            return


# ---------------------------------------------------------------------------------------------
# The acting staff member (§1 "Staff attribution", domain-model §6.3).


async def acting_staff_id(
    *, center_id: str, staff_id: str | None, using_db: BaseDBAsyncClient | None = None
) -> str | None:
    """The `CenterStaff.id` to record: the token's `staffId` when that row exists at this center,
    else the center's owner staff row (same e-mail as the center), else None. Never a center id.
    """
    if staff_id:
        found = (
            await CenterStaff.filter(id=staff_id, center_id=center_id)
            .using_db(using_db)
            .values_list("id", flat=True)
        )
        if found:
            return str(found[0])
    center = await ServiceCenter.filter(id=center_id).using_db(using_db).first()
    if center is None:
        return None
    owner = (
        await CenterStaff.filter(center_id=center_id, email=center.email)
        .using_db(using_db)
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )
    return str(owner[0]) if owner else None


# ---------------------------------------------------------------------------------------------
# Wire objects


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


async def funding_donor_ids(appointment_id: str, *, using_db: BaseDBAsyncClient) -> list[str]:
    """Distinct donors of the campaigns of the allocations linked to this appointment."""
    campaign_ids = (
        await DonationAllocation.filter(appointment_id=appointment_id)
        .using_db(using_db)
        .values_list("campaign_id", flat=True)
    )
    if not campaign_ids:
        return []
    donors = (
        await DonationCampaign.filter(id__in=list(campaign_ids))
        .using_db(using_db)
        .values_list("donor_id", flat=True)
    )
    return sorted({str(donor) for donor in donors})


# ---------------------------------------------------------------------------------------------
# Center views


async def list_center_appointments(
    *,
    center_id: str,
    page: int,
    page_size: int,
    screening_type_id: str | None = None,
    status: AppointmentStatus | None = None,
) -> dict[str, Any]:
    """§4.2: the center's appointments, newest first."""
    query = Appointment.filter(center_id=center_id)
    if screening_type_id:
        query = query.filter(screening_type_id=screening_type_id)
    if status is not None:
        query = query.filter(status=status)
    total = await query.count()
    rows = (
        await query.order_by("-created_at", "-id")
        .offset((page - 1) * page_size)
        .limit(page_size)
        .select_related("patient", "screening_type")
    )
    appointments = [
        {
            **center_appointment(row),
            "patient": {"id": row.patient.id, "fullName": row.patient.full_name},
            "screeningType": {"id": row.screening_type.id, "name": row.screening_type.name},
        }
        for row in rows
    ]
    return {
        "appointments": appointments,
        "page": page,
        "pageSize": page_size,
        "total": total,
        "totalPages": page_count(total, page_size),
    }


async def get_center_appointment(*, center_id: str, appointment_id: str) -> dict[str, Any]:
    """§4.3: one of the center's appointments (another center's answers 404, D-APT-2)."""
    row = (
        await Appointment.filter(id=appointment_id, center_id=center_id)
        .select_related("patient", "screening_type", "center")
        .first()
    )
    if row is None:
        raise NotFoundError("Appointment not found.")
    verification = await AppointmentVerification.filter(appointment_id=row.id).first()
    return {
        **center_appointment(row),
        "patient": {"id": row.patient.id, "fullName": row.patient.full_name},
        "center": {"id": row.center.id, "centerName": row.center.center_name},
        "screeningType": {"id": row.screening_type.id, "name": row.screening_type.name},
        "verification": {"id": verification.id} if verification is not None else None,
    }


# ---------------------------------------------------------------------------------------------
# Center transitions


@dataclass(frozen=True, slots=True)
class Acting:
    """The center caller: its center and, for staff logins, the staff id claim."""

    center_id: str
    staff_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Acting:
        return cls(center_id=principal.center_id or principal.id, staff_id=principal.staff_id)


async def _locked_center_appointment(
    acting: Acting, appointment_id: str, conn: BaseDBAsyncClient
) -> Appointment | None:
    return (
        await Appointment.filter(id=appointment_id, center_id=acting.center_id)
        .using_db(conn)
        .select_for_update(of=("Appointment",))
        .select_related("center", "screening_type")
        .first()
    )


async def cancel_appointment(
    *, acting: Acting, appointment_id: str, reason: str | None
) -> dict[str, Any]:
    """§4.4: cancel; a donation-funded booking gives its reserved money back (D-APT-15)."""
    async with in_transaction() as conn:
        appointment = await _locked_center_appointment(acting, appointment_id, conn)
        if appointment is None:
            raise NotFoundError("Appointment not found.")
        if appointment.status == AppointmentStatus.CANCELLED:
            raise InvalidInputError("Already cancelled.")
        if appointment.status == AppointmentStatus.COMPLETED:
            raise InvalidInputError("Cannot cancel a completed appointment.")
        now = utc_now()
        changed = (
            await Appointment.filter(
                id=appointment.id,
                status__in=[
                    AppointmentStatus.PENDING,
                    AppointmentStatus.SCHEDULED,
                    AppointmentStatus.IN_PROGRESS,
                ],
            )
            .using_db(conn)
            .update(
                status=AppointmentStatus.CANCELLED,
                cancellation_reason=reason or None,
                cancellation_date=now,
            )
        )
        if changed != 1:  # pragma: no cover - the row is locked above
            raise InvalidInputError("Already cancelled.")
        released = False
        if appointment.is_donation:
            released = await release_claimed_allocation(
                appointment_id=appointment.id, now=now, using_db=conn
            )
        message = (
            f"Your appointment for {appointment.screening_type.name} at "
            f"{appointment.center.center_name} has been cancelled by the center."
        )
        if released:
            message += (
                " The donation reserved for it has been released; you can rejoin the waitlist."
            )
        await notify(
            type="APPOINTMENT_CANCELLED",
            title="Appointment Cancelled",
            message=message,
            recipient_ids=[appointment.patient_id],
            data={"appointmentId": appointment.id, "reason": reason or None},
            email=True,
            using_db=conn,
        )
    return {"id": appointment.id}


async def reschedule_appointment(
    *, acting: Acting, appointment_id: str, new_time: datetime, reason: str | None
) -> dict[str, Any]:
    """§4.5: move a pending or scheduled appointment; status unchanged, code extended."""
    async with in_transaction() as conn:
        appointment = await _locked_center_appointment(acting, appointment_id, conn)
        if appointment is None:
            raise NotFoundError("Appointment not found.")
        if appointment.status == AppointmentStatus.CANCELLED:
            raise InvalidInputError("Cannot reschedule a cancelled appointment.")
        if appointment.status not in (AppointmentStatus.PENDING, AppointmentStatus.SCHEDULED):
            raise InvalidInputError("Only pending or scheduled appointments can be rescheduled.")
        values: dict[str, Any] = {"appointment_date_time": new_time}
        if appointment.check_in_code is not None:
            current = appointment.check_in_code_expires_at
            extended = end_of_lagos_day(new_time)
            values["check_in_code_expires_at"] = max(current, extended) if current else extended
        await (
            Appointment.filter(id=appointment.id, status=appointment.status)
            .using_db(conn)
            .update(**values)
        )
        await notify(
            type="APPOINTMENT_RESCHEDULED",
            title="Appointment Rescheduled",
            message=(
                f"Your appointment for {appointment.screening_type.name} at "
                f"{appointment.center.center_name} has been moved to "
                f"{wat_text(new_time)} (WAT)."
            ),
            recipient_ids=[appointment.patient_id],
            data={
                "appointmentId": appointment.id,
                "appointmentDateTime": iso(new_time),
                "reason": reason or None,
            },
            email=True,
            using_db=conn,
        )
    return {"id": appointment.id, "appointmentDateTime": new_time}


async def complete_appointment(*, acting: Acting, appointment_id: str) -> dict[str, Any]:
    """§4.8: an in-progress appointment with at least one live result file becomes COMPLETED."""
    async with in_transaction() as conn:
        appointment = (
            await Appointment.filter(
                id=appointment_id,
                center_id=acting.center_id,
                status=AppointmentStatus.IN_PROGRESS,
            )
            .using_db(conn)
            .select_for_update(of=("Appointment",))
            .select_related("center", "screening_type")
            .first()
        )
        if appointment is None:
            raise NotFoundError("Appointment not found or cannot be completed")
        result = await ScreeningResult.filter(appointment_id=appointment.id).using_db(conn).first()
        has_files = (
            result is not None
            and await ScreeningResultFile.filter(result_id=result.id, is_deleted=False)
            .using_db(conn)
            .exists()
        )
        if result is None or not has_files:
            raise InvalidInputError("Cannot complete appointment without uploading results")
        now = utc_now()
        await (
            Appointment.filter(id=appointment.id, status=AppointmentStatus.IN_PROGRESS)
            .using_db(conn)
            .update(status=AppointmentStatus.COMPLETED)
        )
        type_name = appointment.screening_type.name
        center_name = appointment.center.center_name
        await notify(
            type="RESULTS_AVAILABLE",
            title="Screening Results Available",
            message=(
                f"Your screening results for {type_name} at {center_name} are now available. "
                "You can view and download them from your appointments."
            ),
            recipient_ids=[appointment.patient_id],
            data={"appointmentId": appointment.id, "resultId": result.id},
            using_db=conn,
        )
        if appointment.is_donation:
            donors = await funding_donor_ids(appointment.id, using_db=conn)
            if donors:
                await notify(
                    type="APPOINTMENT_COMPLETED",
                    title="Screening Completed",
                    message=(
                        f"A patient you funded has completed their {type_name} screening at "
                        f"{center_name}. The screening results have been uploaded."
                    ),
                    recipient_ids=donors,
                    data={
                        "appointmentId": appointment.id,
                        "screeningType": type_name,
                        "centerName": center_name,
                        "patientId": appointment.patient_id,
                        "resultId": result.id,
                    },
                    using_db=conn,
                )
    return {"appointmentId": appointment.id, "completedAt": now, "status": "COMPLETED"}
