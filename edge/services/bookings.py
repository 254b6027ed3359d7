"""Patient bookings (appointments.md §4.11-4.13): self-pay booking and booking with a matched
donation.

Self-pay booking is two steps around the payment provider call: `create_pending_booking` commits
the PENDING transaction and appointment, the caller initialises the payment, and on a provider
failure `fail_pending_booking` marks both as failed/cancelled (D-APT-9) so nothing is orphaned.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from edge.services.appointment_objects import page_count, patient_appointment
from edge.services.appointment_times import end_of_lagos_day
from edge.services.check_in_codes import DONATION_CODE_LIFETIME, assign_check_in_code
from edge.services.errors import InvalidInputError, NotFoundError
from models.appointments import Appointment
from models.base import utc_now
from models.centers import ServiceCenter, ServiceCenterScreeningType
from models.enums import (
    AllocationStatus,
    AppointmentStatus,
    ServiceCenterStatus,
    TransactionStatus,
    TransactionType,
)
from models.screening_types import ScreeningType
from models.transactions import Transaction
from models.users import User
from models.waitlists import DonationAllocation, Waitlist

NOT_OFFERED = "Screening type not available at this center"
INVALID_ALLOCATION = "Invalid or already assigned allocation"


async def offers(
    center_id: str, screening_type_id: str, *, using_db: BaseDBAsyncClient | None = None
) -> bool:
    """An ACTIVE center offering an active screening type (the `services` link, D-DM-7)."""
    active_type = (
        await ScreeningType.filter(id=screening_type_id, active=True).using_db(using_db).exists()
    )
    if not active_type:
        return False
    return (
        await ServiceCenter.filter(
            id=center_id, status=ServiceCenterStatus.ACTIVE, services__id=screening_type_id
        )
        .using_db(using_db)
        .exists()
    )


async def price_of(
    center_id: str, screening_type_id: str, *, using_db: BaseDBAsyncClient | None = None
) -> float:
    """This center's price row, else the type's `agreedPrice` (D-DM-7)."""
    row = (
        await ServiceCenterScreeningType.filter(
            center_id=center_id, screening_type_id=screening_type_id
        )
        .using_db(using_db)
        .first()
    )
    if row is not None:
        return float(row.amount)
    screening_type = await ScreeningType.get(id=screening_type_id, using_db=using_db)
    return float(screening_type.agreed_price)


def booking_reference(patient_id: str) -> str:
    """`book-appointment-{userId}-{ms}-{hex12}` (donations.md §2.2)."""
    return f"book-appointment-{patient_id}-{int(time.time() * 1000)}-{secrets.token_hex(6)}"


async def _load_patient_appointment(appointment_id: str) -> Appointment:
    return await Appointment.get(id=appointment_id).select_related(
        "center", "screening_type", "transaction"
    )


@dataclass(frozen=True, slots=True)
class PendingBooking:
    appointment_id: str
    transaction_id: str
    reference: str
    amount: float
    email: str
    patient_id: str


async def create_pending_booking(
    *, patient_id: str, center_id: str, screening_type_id: str, when: datetime
) -> PendingBooking:
    """Commits a PENDING `APPOINTMENT` transaction and its PENDING appointment (no code yet)."""
    if not await offers(center_id, screening_type_id):
        raise InvalidInputError(NOT_OFFERED)
    user = await User.get_or_none(id=patient_id)
    if user is None:
        raise NotFoundError("Patient not found")
    amount = await price_of(center_id, screening_type_id)
    reference = booking_reference(patient_id)
    now = utc_now()
    async with in_transaction() as conn:
        transaction = await Transaction.create(
            type=TransactionType.APPOINTMENT,
            status=TransactionStatus.PENDING,
            amount=amount,
            payment_reference=reference,
            payment_channel="PAYSTACK",
            related_donation_id=None,
            created_at=now,
            using_db=conn,
        )
        appointment = await Appointment.create(
            patient_id=patient_id,
            center_id=center_id,
            screening_type_id=screening_type_id,
            appointment_date_time=when,
            is_donation=False,
            status=AppointmentStatus.PENDING,
            transaction_id=transaction.id,
            created_at=now,
            using_db=conn,
        )
    return PendingBooking(
        appointment_id=appointment.id,
        transaction_id=transaction.id,
        reference=reference,
        amount=amount,
        email=user.email,
        patient_id=patient_id,
    )


async def fail_pending_booking(booking: PendingBooking) -> None:
    """The provider refused or timed out: transaction FAILED, appointment CANCELLED."""
    now = utc_now()
    async with in_transaction() as conn:
        await (
            Transaction.filter(id=booking.transaction_id, status=TransactionStatus.PENDING)
            .using_db(conn)
            .update(status=TransactionStatus.FAILED)
        )
        await (
            Appointment.filter(id=booking.appointment_id, status=AppointmentStatus.PENDING)
            .using_db(conn)
            .update(
                status=AppointmentStatus.CANCELLED,
                cancellation_reason="Payment initialization failed",
                cancellation_date=now,
            )
        )


async def booked_appointment(booking: PendingBooking) -> dict[str, Any]:
    """The patient appointment object of a fresh booking, with its transaction."""
    return patient_appointment(await _load_patient_appointment(booking.appointment_id))


async def _usable_allocation(
    allocation_id: str, patient_id: str, *, using_db: BaseDBAsyncClient | None = None, lock: bool
) -> tuple[DonationAllocation, Waitlist]:
    query = DonationAllocation.filter(id=allocation_id).using_db(using_db)
    if lock:
        query = query.select_for_update()
    allocation = await query.first()
    if allocation is None or allocation.patient_id != patient_id or allocation.appointment_id:
        raise InvalidInputError(INVALID_ALLOCATION)
    waitlist = await Waitlist.filter(id=allocation.waitlist_id).using_db(using_db).first()
    # D-APT-7: an EXPIRED allocation's money has gone back to its campaign.
    if waitlist is None or waitlist.status != AllocationStatus.MATCHED:
        raise InvalidInputError(INVALID_ALLOCATION)
    return allocation, waitlist


async def eligible_centers(
    *,
    patient_id: str,
    allocation_id: str,
    page: int,
    size: int,
    state: str | None = None,
    lga: str | None = None,
) -> dict[str, Any]:
    """§4.12: ACTIVE centers offering the allocation's screening type, by name."""
    _, waitlist = await _usable_allocation(allocation_id, patient_id, lock=False)
    query = ServiceCenter.filter(
        status=ServiceCenterStatus.ACTIVE, services__id=waitlist.screening_type_id
    )
    if state:
        query = query.filter(state=state)
    if lga:
        query = query.filter(lga=lga)
    total = await query.count()
    rows = await query.order_by("center_name", "id").offset((page - 1) * size).limit(size)
    return {
        "centers": [
            {
                "id": row.id,
                "centerName": row.center_name,
                "address": row.address,
                "state": row.state,
                "lga": row.lga,
            }
            for row in rows
        ],
        "page": page,
        "pageSize": size,
        "total": total,
        "totalPages": page_count(total, size),
    }


async def select_center(
    *, patient_id: str, allocation_id: str, center_id: str, when: datetime
) -> dict[str, Any]:
    """§4.13: claims the allocation and creates the donated appointment in one transaction.

    The allocation row is locked and the waitlist update is conditional on MATCHED, so one
    allocation yields at most one appointment and an expired one can never be claimed.
    """
    async with in_transaction() as conn:
        allocation, waitlist = await _usable_allocation(
            allocation_id, patient_id, using_db=conn, lock=True
        )
        if not await offers(center_id, waitlist.screening_type_id, using_db=conn):
            raise InvalidInputError(NOT_OFFERED)
        claimed_at = utc_now()
        appointment = Appointment(
            patient_id=patient_id,
            center_id=center_id,
            screening_type_id=waitlist.screening_type_id,
            is_donation=True,
            status=AppointmentStatus.SCHEDULED,
            appointment_date_time=when,
            donation_id=allocation.campaign_id,
            transaction_id=None,
            created_at=claimed_at,
        )
        expires_at = max(claimed_at + DONATION_CODE_LIFETIME, end_of_lagos_day(when))
        await assign_check_in_code(appointment, expires_at, using_db=conn)
        claimed = (
            await Waitlist.filter(id=waitlist.id, status=AllocationStatus.MATCHED)
            .using_db(conn)
            .update(status=AllocationStatus.CLAIMED, claimed_at=claimed_at)
        )
        linked = (
            await DonationAllocation.filter(id=allocation.id, appointment_id__isnull=True)
            .using_db(conn)
            .update(appointment_id=appointment.id, claimed_at=claimed_at)
        )
        if claimed != 1 or linked != 1:
            # A concurrent expiry or claim won: raising rolls the appointment back too.
            raise InvalidInputError(INVALID_ALLOCATION)
    loaded = await _load_patient_appointment(appointment.id)
    return {"appointment": patient_appointment(loaded, with_transaction=False)}
