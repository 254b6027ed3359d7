"""The patient's waitlist (waitlist.md §2.1-2.5): join, leave and the patient's views."""

from __future__ import annotations

import math
from typing import Any

from tortoise.transactions import in_transaction

from edge.services.errors import InvalidInputError, NotFoundError
from edge.services.reservation_refunds import credit_campaign, reserved_amount
from models.base import utc_now
from models.enums import AllocationStatus
from models.screening_types import ScreeningType
from models.waitlists import DonationAllocation, Waitlist

ACTIVE_STATUSES = (AllocationStatus.PENDING, AllocationStatus.MATCHED)


async def join(*, patient_id: str, screening_type_id: str) -> dict[str, Any]:
    """§2.4: one active (PENDING or MATCHED) entry per patient and type, serialised per pair."""
    exists = await ScreeningType.filter(id=screening_type_id, active=True).exists()
    if not exists:
        raise NotFoundError("Screening type not found")
    async with in_transaction() as conn:
        # Two concurrent joins must not both pass the check below (D-WL-2).
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [f"waitlist-join:{patient_id}:{screening_type_id}"],
        )
        active = (
            await Waitlist.filter(
                patient_id=patient_id,
                screening_type_id=screening_type_id,
                status__in=ACTIVE_STATUSES,
            )
            .using_db(conn)
            .exists()
        )
        if active:
            raise InvalidInputError("Already in waitlist for this screening type")
        entry = await Waitlist.create(
            patient_id=patient_id,
            screening_type_id=screening_type_id,
            status=AllocationStatus.PENDING,
            joined_at=utc_now(),
            using_db=conn,
        )
    return {
        "waitlist": {
            "id": entry.id,
            "screeningTypeId": entry.screening_type_id,
            "patientId": entry.patient_id,
            "status": entry.status,
        }
    }


async def leave(*, patient_id: str, waitlist_id: str) -> dict[str, Any]:
    """§2.5: PENDING is deleted; MATCHED returns its money, then is deleted; others refused."""
    async with in_transaction() as conn:
        entry = (
            await Waitlist.filter(id=waitlist_id, patient_id=patient_id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if entry is None:
            raise NotFoundError("Waitlist entry not found")
        if entry.status == AllocationStatus.CLAIMED:
            raise InvalidInputError(
                "Cannot leave a waitlist entry that has already been used to book an appointment"
            )
        if entry.status == AllocationStatus.EXPIRED:
            raise InvalidInputError("Cannot leave a waitlist entry that has expired")
        if entry.status == AllocationStatus.MATCHED:
            allocation = (
                await DonationAllocation.filter(waitlist_id=entry.id)
                .using_db(conn)
                .select_for_update()
                .first()
            )
            if allocation is not None:
                amount = await reserved_amount(allocation, using_db=conn)
                await credit_campaign(
                    campaign_id=allocation.campaign_id,
                    amount=amount,
                    now=utc_now(),
                    using_db=conn,
                )
        # The allocation row goes with the entry (ON DELETE CASCADE).
        await Waitlist.filter(id=entry.id).using_db(conn).delete()
    return {"waitlistId": waitlist_id, "message": "Successfully left the waitlist"}


def _page_count(total: int, size: int) -> int:
    return math.ceil(total / size) if size > 0 else 0


async def _allocations_by_waitlist(waitlist_ids: list[str]) -> dict[str, DonationAllocation]:
    if not waitlist_ids:
        return {}
    rows = await DonationAllocation.filter(waitlist_id__in=waitlist_ids).select_related(
        "campaign__donor"
    )
    return {row.waitlist_id: row for row in rows}


def _entry(entry: Waitlist, allocation: DonationAllocation | None) -> dict[str, Any]:
    """The waitlist entry object of §1.1 (`screening_type` must be loaded)."""
    body: dict[str, Any] = {
        "id": entry.id,
        "screeningTypeId": entry.screening_type_id,
        "patientId": entry.patient_id,
        "status": entry.status,
        "joinedAt": entry.joined_at,
        "claimedAt": entry.claimed_at,
        "screeningType": {"id": entry.screening_type.id, "name": entry.screening_type.name},
        "allocation": None,
    }
    if allocation is not None:
        campaign = allocation.campaign
        body["allocation"] = {
            "id": allocation.id,
            "campaign": {
                "id": campaign.id,
                "purpose": campaign.purpose or "",
                "donor": {"id": campaign.donor.id, "fullName": campaign.donor.full_name},
            },
        }
    return body


async def list_entries(
    *, patient_id: str, page: int, page_size: int, status: AllocationStatus | None
) -> dict[str, Any]:
    """§2.1: the caller's entries, newest first."""
    query = Waitlist.filter(patient_id=patient_id)
    if status is not None:
        query = query.filter(status=status)
    total = await query.count()
    rows = (
        await query.order_by("-joined_at", "id")
        .offset((page - 1) * page_size)
        .limit(page_size)
        .select_related("screening_type")
    )
    allocations = await _allocations_by_waitlist([row.id for row in rows])
    return {
        "waitlists": [_entry(row, allocations.get(row.id)) for row in rows],
        "page": page,
        "pageSize": page_size,
        "total": total,
        "totalPages": _page_count(total, page_size),
    }


async def get_entry(*, patient_id: str, waitlist_id: str) -> dict[str, Any]:
    """§2.2: one of the caller's entries."""
    row = (
        await Waitlist.filter(id=waitlist_id, patient_id=patient_id)
        .select_related("screening_type")
        .first()
    )
    if row is None:
        raise NotFoundError("Waitlist entry not found")
    allocations = await _allocations_by_waitlist([row.id])
    return {"waitlist": _entry(row, allocations.get(row.id))}


async def status_for_type(*, patient_id: str, screening_type_id: str) -> dict[str, Any]:
    """§2.3: the most recently joined active entry for this type (D-WL-9), if any."""
    row = (
        await Waitlist.filter(
            patient_id=patient_id,
            screening_type_id=screening_type_id,
            status__in=ACTIVE_STATUSES,
        )
        .order_by("-joined_at", "-id")
        .select_related("screening_type")
        .first()
    )
    if row is None:
        return {"inWaitlist": False, "waitlist": None}
    allocation = (
        await DonationAllocation.filter(waitlist_id=row.id).select_related("campaign").first()
    )
    return {
        "inWaitlist": True,
        "waitlist": {
            "id": row.id,
            "screeningTypeId": row.screening_type_id,
            "patientId": row.patient_id,
            "status": row.status,
            "joinedAt": row.joined_at,
            "claimedAt": row.claimed_at,
            "screeningType": {"id": row.screening_type.id, "name": row.screening_type.name},
            "allocation": None
            if allocation is None
            else {
                "id": allocation.id,
                "claimedAt": allocation.claimed_at,
                "campaign": {
                    "title": allocation.campaign.title,
                    "purpose": allocation.campaign.purpose,
                },
            },
        },
    }
