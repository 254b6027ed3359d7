"""Rows for the appointment, result and waitlist tests (beside tests/factories).

world = await booking_world()                   # patient, center (+owner), screening type
appointment = await make_appointment(world.patient, world.center, world.screening_type)
entry, allocation = await make_match(patient, screening_type, campaign)
file = await make_result_file(appointment, stored=b"%PDF-1.7 ...")   # bytes under STORAGE_DIR
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tortoise.models import Model

from models.appointments import Appointment, AppointmentVerification
from models.base import utc_now
from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.centers import ServiceCenter
from models.enums import (
    AllocationStatus,
    AppointmentStatus,
    CampaignStatus,
    MatchingExecutionStatus,
    TransactionStatus,
    TransactionType,
)
from models.files import StoredFile
from models.matching import MatchingExecution
from models.notifications import Notification
from models.results import ScreeningResult, ScreeningResultFile
from models.screening_types import ScreeningType
from models.transactions import Transaction
from models.users import User
from models.waitlists import DonationAllocation, Waitlist
from tests.factories import make_center, make_donor, make_patient, make_screening_type

ModelT = TypeVar("ModelT", bound=Model)

#: Africa/Lagos is UTC+01:00 all year.
LAGOS = dt.timedelta(hours=1)

PDF_BYTES = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class World:
    patient: User
    center: ServiceCenter
    screening_type: ScreeningType


async def booking_world(*, price: float = 15000.0) -> World:
    """A patient and an ACTIVE center offering one screening type."""
    screening_type = await make_screening_type(agreed_price=price)
    center = await make_center(services=[screening_type])
    return World(await make_patient(), center, screening_type)


def today_noon_lagos() -> dt.datetime:
    """Today's Lagos noon as naive UTC (so "today" holds for the check-in rules)."""
    local_today = (utc_now() + LAGOS).date()
    return dt.datetime.combine(local_today, dt.time(12, 0)) - LAGOS


async def make_appointment(
    patient: User,
    center: ServiceCenter,
    screening_type: ScreeningType,
    *,
    status: AppointmentStatus = AppointmentStatus.SCHEDULED,
    when: dt.datetime | None = None,
    code: str | None = None,
    code_expires_at: dt.datetime | None = None,
    is_donation: bool = False,
    donation_id: str | None = None,
    transaction: Transaction | None = None,
    created_at: dt.datetime | None = None,
    **fields: Any,
) -> Appointment:
    """An appointment (SCHEDULED, today at Lagos noon, with a fresh check-in code by default)."""
    if code is None and status != AppointmentStatus.PENDING:
        code = uuid.uuid4().hex[:12].upper()
    if code is not None and code_expires_at is None:
        code_expires_at = utc_now() + dt.timedelta(days=7)
    return await Appointment.create(
        patient_id=patient.id,
        center_id=center.id,
        screening_type_id=screening_type.id,
        status=status,
        appointment_date_time=when or today_noon_lagos(),
        check_in_code=code,
        check_in_code_expires_at=code_expires_at,
        is_donation=is_donation,
        donation_id=donation_id,
        transaction_id=transaction.id if transaction else None,
        created_at=created_at or utc_now(),
        **fields,
    )


async def make_transaction(
    *,
    amount: float = 15000.0,
    status: TransactionStatus = TransactionStatus.COMPLETED,
    reference: str | None = None,
    created_at: dt.datetime | None = None,
) -> Transaction:
    return await Transaction.create(
        type=TransactionType.APPOINTMENT,
        status=status,
        amount=amount,
        payment_reference=reference or f"book-appointment-test-{uuid.uuid4().hex[:12]}",
        payment_channel="PAYSTACK",
        created_at=created_at or utc_now(),
    )


async def make_result(appointment: Appointment, *, notes: str | None = None) -> ScreeningResult:
    return await ScreeningResult.create(appointment_id=appointment.id, notes=notes)


def storage_dir() -> Path:
    return Path(os.environ["STORAGE_DIR"])


async def make_result_file(
    appointment: Appointment,
    *,
    result: ScreeningResult | None = None,
    file_name: str = "report.pdf",
    file_path: str | None = None,
    deleted: bool = False,
    stored: bytes | None = None,
    content_type: str = "application/pdf",
    uploaded_at: dt.datetime | None = None,
) -> ScreeningResultFile:
    """A result file row; with `stored` bytes it is one of ours (bytes under STORAGE_DIR),
    otherwise an externally hosted (Cloudinary) file."""
    if result is None:
        result = await ScreeningResult.get_or_none(appointment_id=appointment.id)
        result = result or await make_result(appointment)
    file_id = str(uuid.uuid4())
    if stored is not None:
        extension = file_name.rsplit(".", 1)[-1].lower()
        key = f"results/{appointment.id}/{file_id}.{extension}"
        path = storage_dir() / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(stored)
        await StoredFile.create(
            id=uuid.UUID(file_id),
            storage_key=key,
            content_type=content_type,
            size_bytes=len(stored),
            sha256=hashlib.sha256(stored).hexdigest(),
            original_name=file_name,
        )
        url, cloudinary_id = f"/api/v1/appointment/files/{file_id}/content", f"local:{file_id}"
    else:
        url = f"https://res.cloudinary.com/demo/raw/upload/{file_id}/{file_name}"
        cloudinary_id = f"screening-results/{appointment.id}/{file_name}"
    return await ScreeningResultFile.create(
        id=file_id,
        result_id=result.id,
        file_name=file_name,
        file_path=file_path or file_name,
        file_type=content_type,
        file_size=len(stored) if stored is not None else 1234,
        cloudinary_url=url,
        cloudinary_id=cloudinary_id,
        uploaded_at=uploaded_at or utc_now(),
        is_deleted=deleted,
        deleted_at=utc_now() if deleted else None,
    )


async def make_verification(appointment: Appointment) -> AppointmentVerification:
    return await AppointmentVerification.create(
        appointment_id=appointment.id, verified_at=utc_now()
    )


# -- waitlist and money ------------------------------------------------------------------------


async def make_campaign(
    *,
    donor: User | None = None,
    total: float = 50000.0,
    available: float | None = None,
    status: CampaignStatus = CampaignStatus.ACTIVE,
    title: str = "Screen Lagos",
    purpose: str | None = "Breast cancer screening for women in Lagos",
) -> DonationCampaign:
    donor = donor or await make_donor()
    return await DonationCampaign.create(
        donor_id=donor.id,
        total_amount=total,
        available_amount=total if available is None else available,
        title=title,
        purpose=purpose,
        status=status,
        target_states=[],
        target_lgas=[],
    )


async def pool() -> DonationCampaign:
    return await DonationCampaign.get(id=GENERAL_DONOR_POOL_ID)


async def make_entry(
    patient: User,
    screening_type: ScreeningType,
    *,
    status: AllocationStatus = AllocationStatus.PENDING,
    joined_at: dt.datetime | None = None,
) -> Waitlist:
    return await Waitlist.create(
        patient_id=patient.id,
        screening_type_id=screening_type.id,
        status=status,
        joined_at=joined_at or utc_now(),
    )


async def make_execution(
    *,
    status: MatchingExecutionStatus = MatchingExecutionStatus.COMPLETED,
    started_at: dt.datetime | None = None,
) -> MatchingExecution:
    started = started_at or utc_now()
    return await MatchingExecution.create(
        execution_reference=f"EXEC_{started:%Y%m%d%H%M%S}_{uuid.uuid4().hex[:6].upper()}",
        started_at=started,
        completed_at=None if status == MatchingExecutionStatus.RUNNING else started,
        status=status,
    )


async def make_match(
    patient: User,
    screening_type: ScreeningType,
    campaign: DonationCampaign,
    *,
    amount: float | None = 10000.0,
    status: AllocationStatus = AllocationStatus.MATCHED,
    execution: MatchingExecution | None = None,
) -> tuple[Waitlist, DonationAllocation]:
    """A matched entry and its allocation; the campaign's available money is reduced as the
    matching run would (so the money invariant holds)."""
    entry = await make_entry(patient, screening_type, status=status)
    allocation = await DonationAllocation.create(
        waitlist_id=entry.id,
        patient_id=patient.id,
        campaign_id=campaign.id,
        amount_allocated=amount,
        created_via_matching=True,
        matching_execution_id=execution.id if execution else None,
    )
    if amount:
        campaign.available_amount = round(campaign.available_amount - amount, 2)
        await campaign.save()
    return entry, allocation


async def balance(campaign_id: str) -> tuple[float, float]:
    """(availableAmount, totalAmount) as stored now."""
    campaign = await DonationCampaign.get(id=campaign_id)
    return campaign.available_amount, campaign.total_amount


# -- assertions --------------------------------------------------------------------------------


async def notifications_of(user_id: str) -> list[Notification]:
    """The notifications addressed to a user, oldest first."""
    return await Notification.filter(recipients__user_id=user_id).order_by("created_at", "id")


def assert_issue(response: httpx.Response, field: str, message: str | None = None) -> None:
    """400 in the zod validation envelope with an issue at `[field]` (and that message)."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["name"] == "ZodError"
    issues = body["error"]["issues"]
    assert issues
    assert all(isinstance(issue["path"], list) for issue in issues)
    matching = [issue for issue in issues if issue["path"][:1] == [field]]
    assert matching, issues
    if message is not None:
        assert message in [issue["message"] for issue in matching], issues


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False
    assert body["error"] == error, body


async def reloaded(row: ModelT) -> ModelT:
    """The row as stored now (Tortoise's `refresh_from_db` misses columns with another
    database name, e.g. `cancellation_reason` / `"cancellationReason"`)."""
    return await type(row).get(pk=row.pk)
