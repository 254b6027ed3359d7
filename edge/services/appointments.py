"""Appointments seen from a center (appointments.md §4.2-4.8): list, detail, cancel, reschedule,
complete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from actors.contracts.notifications import notify
from edge.envelope import iso
from edge.services.acting import Acting
from edge.services.appointment_objects import center_appointment, page_count
from edge.services.appointment_times import end_of_lagos_day, wat_text
from edge.services.errors import InvalidInputError, NotFoundError
from edge.services.reservation_refunds import release_claimed_allocation
from models.appointments import Appointment, AppointmentVerification
from models.base import utc_now
from models.campaigns import DonationCampaign
from models.enums import AppointmentStatus
from models.results import ScreeningResult, ScreeningResultFile
from models.waitlists import DonationAllocation


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
