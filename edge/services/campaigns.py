"""Donation campaigns (donations.md §3, §4.3-§4.8): the campaign object, a donor's campaigns,
creation, update, and deletion with its fund recycling into the general donor pool.

Money rules (domain-model §6.2): a campaign's ``totalAmount`` only grows on confirmed payments;
deletion (by the donor, or an admin setting ``DELETED``) moves the unallocated money plus the
reservations of live allocations to the pool in one transaction (D-DON-3), with a REFUND
transaction recording the move. Rows are locked ``FOR UPDATE`` before they are read for money.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from actors.contracts.notifications import notify
from edge.services.errors import InvalidInputError, NotFoundError
from models.base import new_id, utc_now
from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.enums import CampaignStatus, Gender, TransactionStatus, TransactionType
from models.screening_types import ScreeningType
from models.transactions import Transaction
from models.users import DonorProfile, User

NOT_FOUND_OR_INACTIVE = "Campaign not found or not active"
SCREENING_TYPES_NOT_FOUND = "Some screening types not found"
INVALID_AGE_RANGE = "Invalid age range"

JOIN_TABLE = '"_DonationCampaignScreeningTypes"'


def db(using_db: BaseDBAsyncClient | None) -> BaseDBAsyncClient:
    return using_db or connections.get("default")


def page_count(total: int, size: int) -> int:
    return math.ceil(total / size) if size > 0 else 0


def naira_text(amount: float) -> str:
    """``5000.00``: exactly two decimals, as the notification and answer texts print money."""
    return f"{amount:.2f}"


# ---------------------------------------------------------------------------------------------
# The campaign object (§3.2)


def age_bounds(age_range: str | None) -> dict[str, int]:
    """``targetAgeMin``/``targetAgeMax`` from ``"min-max"``; a key is left out when unknown."""
    found: dict[str, int] = {}
    if not age_range:
        return found
    low, sep, high = age_range.partition("-")
    for key, text in (("targetAgeMin", low), ("targetAgeMax", high if sep else "")):
        try:
            found[key] = int(text.strip())
        except ValueError:
            continue
    return found


_ALLOCATION_COUNTS = """
SELECT d."campaignId" AS campaign_id,
       count(*) AS allocations_count,
       count(*) FILTER (WHERE a.status = 'COMPLETED') AS helped,
       count(*) FILTER (WHERE a.status = 'IN_PROGRESS') AS in_progress,
       count(*) FILTER (WHERE a.status = 'SCHEDULED') AS scheduled,
       count(*) FILTER (WHERE d."appointmentId" IS NULL AND w.status = 'MATCHED') AS pending
FROM "DonationAllocation" d
LEFT JOIN "Appointment" a ON a.id = d."appointmentId"
LEFT JOIN "Waitlist" w ON w.id = d."waitlistId"
WHERE d."campaignId" = ANY($1::text[])
GROUP BY d."campaignId"
"""

_SCREENING_TYPES = f"""
SELECT j."A" AS campaign_id, s.id, s.name
FROM {JOIN_TABLE} j JOIN "ScreeningType" s ON s.id = j."B"
WHERE j."A" = ANY($1::text[])
ORDER BY s.name, s.id
"""


async def campaign_objects(
    campaigns: Sequence[DonationCampaign], *, using_db: BaseDBAsyncClient | None = None
) -> list[dict[str, Any]]:
    """The contract's campaign objects, with a fixed number of queries for any list size."""
    if not campaigns:
        return []
    conn = db(using_db)
    ids = [c.id for c in campaigns]
    donor_ids = list({c.donor_id for c in campaigns})
    donors = {
        u["id"]: u
        for u in await User.filter(id__in=donor_ids)
        .using_db(conn)
        .values("id", "full_name", "email")
    }
    profiles = {
        p["user_id"]: p["organization_name"]
        for p in await DonorProfile.filter(user_id__in=donor_ids)
        .using_db(conn)
        .values("user_id", "organization_name")
    }
    types: dict[str, list[dict[str, str]]] = {}
    for row in await conn.execute_query_dict(_SCREENING_TYPES, [ids]):
        types.setdefault(row["campaign_id"], []).append({"id": row["id"], "name": row["name"]})
    counts = {
        row["campaign_id"]: row for row in await conn.execute_query_dict(_ALLOCATION_COUNTS, [ids])
    }
    return [
        campaign_object(c, donors.get(c.donor_id), profiles, types.get(c.id, []), counts.get(c.id))
        for c in campaigns
    ]


def campaign_object(
    campaign: DonationCampaign,
    donor: dict[str, Any] | None,
    profiles: dict[str, str | None],
    screening_types: list[dict[str, str]],
    counts: dict[str, Any] | None,
) -> dict[str, Any]:
    available = campaign.available_amount or 0.0
    gender = campaign.target_gender
    donor_object: dict[str, Any] | None = None
    if donor is not None:
        donor_object = {"id": donor["id"], "fullName": donor["full_name"], "email": donor["email"]}
        if donor["id"] in profiles:
            donor_object["organizationName"] = profiles[donor["id"]]
    counts = counts or {}
    return {
        "id": campaign.id,
        "donorId": campaign.donor_id,
        "title": campaign.title or "Untitled Campaign",
        "description": campaign.purpose or "",
        "fundingAmount": campaign.total_amount,
        "usedAmount": campaign.total_amount - available,
        "targetGender": "ALL"
        if gender is None
        else ("MALE" if gender == Gender.MALE else "FEMALE"),
        **age_bounds(campaign.target_age_range),
        "targetStates": list(campaign.target_states or []),
        "targetLgas": list(campaign.target_lgas or []),
        "status": campaign.status,
        "expiryDate": campaign.expiry_date,
        "createdAt": campaign.created_at,
        "updatedAt": campaign.updated_at,
        "donor": donor_object,
        "screeningTypes": screening_types,
        "patientAllocations": {
            "patientsHelped": int(counts.get("helped") or 0),
            "patientPendingAcceptance": int(counts.get("pending") or 0),
            "patientAppointmentInProgress": int(counts.get("in_progress") or 0),
            "patientAppointmentScheduled": int(counts.get("scheduled") or 0),
            "allocationsCount": int(counts.get("allocations_count") or 0),
        },
    }


async def campaign_object_of(
    campaign: DonationCampaign, *, using_db: BaseDBAsyncClient | None = None
) -> dict[str, Any]:
    return (await campaign_objects([campaign], using_db=using_db))[0]


# ---------------------------------------------------------------------------------------------
# Reading a donor's campaigns (§4.4, §4.5)


async def list_campaigns(
    *, donor_id: str, page: int, page_size: int, status: str | None, search: str | None
) -> dict[str, Any]:
    query = DonationCampaign.filter(donor_id=donor_id)
    if status:
        query = query.filter(status=status)
    if search:
        query = query.filter(Q(title__icontains=search) | Q(purpose__icontains=search))
    total = await query.count()
    rows = (
        await query.order_by("-created_at", "-id").offset((page - 1) * page_size).limit(page_size)
    )
    return {
        "campaigns": await campaign_objects(rows),
        "page": page,
        "pageSize": page_size,
        "total": total,
        "totalPages": page_count(total, page_size),
    }


async def get_campaign(*, donor_id: str, campaign_id: str) -> dict[str, Any]:
    campaign = await DonationCampaign.filter(id=campaign_id, donor_id=donor_id).first()
    if campaign is None:
        raise NotFoundError("Campaign not found")
    return await campaign_object_of(campaign)


# ---------------------------------------------------------------------------------------------
# Creation (§4.3) and update (§4.7)


async def existing_screening_types(
    ids: Iterable[str], *, using_db: BaseDBAsyncClient | None = None
) -> list[ScreeningType]:
    """The distinct screening types named, or ``InvalidInputError`` when one does not exist."""
    wanted = list(dict.fromkeys(ids))
    found = await ScreeningType.filter(id__in=wanted).using_db(using_db)
    if len(found) != len(wanted):
        raise InvalidInputError(SCREENING_TYPES_NOT_FOUND)
    return found


def age_range_text(low: int | None, high: int | None) -> str | None:
    """``"min-max"`` when both bounds are known (0 counts, D-DON-13)."""
    if low is None or high is None:
        return None
    return f"{low}-{high}"


def gender_value(gender: str | None) -> Gender | None:
    if gender is None or gender == "ALL":
        return None
    return Gender(gender)


def payment_reference(kind: str, owner_id: str) -> str:
    """``campaign-create-{donorId}-…`` / ``campaign-fund-{campaignId}-…`` (§2.2)."""
    return f"campaign-{kind}-{owner_id}-{int(time.time() * 1000)}-{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class PendingPayment:
    """A committed PENDING transaction awaiting the provider's initialisation."""

    transaction_id: str
    reference: str
    amount: float
    email: str
    campaign_id: str


async def create_pending_campaign(
    *,
    donor_id: str,
    title: str,
    description: str,
    funding_amount: float,
    screening_type_ids: Sequence[str],
    target_gender: str | None,
    target_age_min: int | None,
    target_age_max: int | None,
    target_states: Sequence[str] | None,
    target_lgas: Sequence[str] | None,
) -> PendingPayment:
    """The PENDING campaign and its PENDING transaction, committed before the provider call
    (D-DON-11)."""
    donor = await User.filter(id=donor_id).first()
    if donor is None:
        raise NotFoundError("Donor not found")
    types = await existing_screening_types(screening_type_ids)
    async with in_transaction() as conn:
        now = utc_now()
        campaign = await DonationCampaign.create(
            id=new_id(),
            donor_id=donor_id,
            total_amount=0.0,
            available_amount=0.0,
            title=title,
            purpose=description or "",
            target_gender=gender_value(target_gender),
            target_age_range=age_range_text(target_age_min, target_age_max),
            target_states=list(target_states or []),
            target_lgas=list(target_lgas or []),
            status=CampaignStatus.PENDING,
            created_at=now,
            updated_at=now,
            using_db=conn,
        )
        await campaign.screening_types.add(*types, using_db=conn)
        reference = payment_reference("create", donor_id)
        transaction = await Transaction.create(
            id=new_id(),
            type=TransactionType.DONATION,
            status=TransactionStatus.PENDING,
            amount=funding_amount,
            payment_reference=reference,
            payment_channel="PAYSTACK",
            related_donation_id=campaign.id,
            using_db=conn,
        )
    return PendingPayment(transaction.id, reference, funding_amount, donor.email, campaign.id)


async def create_pending_funding(
    *, donor_id: str, campaign_id: str, amount: float
) -> PendingPayment:
    """A PENDING funding transaction of an ACTIVE or COMPLETED campaign of the donor (§4.6)."""
    donor = await User.filter(id=donor_id).first()
    if donor is None:
        raise NotFoundError("Donor not found")
    campaign = await DonationCampaign.filter(
        id=campaign_id,
        donor_id=donor_id,
        status__in=[CampaignStatus.ACTIVE, CampaignStatus.COMPLETED],
    ).first()
    if campaign is None or campaign.id == GENERAL_DONOR_POOL_ID:
        raise NotFoundError(NOT_FOUND_OR_INACTIVE)
    reference = payment_reference("fund", campaign_id)
    transaction = await Transaction.create(
        id=new_id(),
        type=TransactionType.DONATION,
        status=TransactionStatus.PENDING,
        amount=amount,
        payment_reference=reference,
        payment_channel="PAYSTACK",
        related_donation_id=campaign_id,
    )
    return PendingPayment(transaction.id, reference, amount, donor.email, campaign_id)


async def fail_pending_payment(transaction_id: str) -> None:
    """The provider refused or failed: the PENDING transaction becomes FAILED (D-DON-11)."""
    await Transaction.filter(id=transaction_id, status=TransactionStatus.PENDING).update(
        status=TransactionStatus.FAILED
    )


async def update_campaign(
    *,
    donor_id: str,
    campaign_id: str,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """Applies the given fields (§4.7 step 3); allocations are untouched."""
    async with in_transaction() as conn:
        campaign = (
            await DonationCampaign.filter(
                id=campaign_id, donor_id=donor_id, status=CampaignStatus.ACTIVE
            )
            .select_for_update()
            .using_db(conn)
            .first()
        )
        if campaign is None or campaign.id == GENERAL_DONOR_POOL_ID:
            raise NotFoundError(NOT_FOUND_OR_INACTIVE)
        types = None
        if changes.get("screening_type_ids") is not None:
            types = await existing_screening_types(changes["screening_type_ids"], using_db=conn)
        if changes.get("title") is not None:
            campaign.title = changes["title"]
        if changes.get("description") is not None:
            campaign.purpose = changes["description"]
        if "target_gender" in changes and changes["target_gender"] is not None:
            campaign.target_gender = gender_value(changes["target_gender"])
        if changes.get("target_states") is not None:
            campaign.target_states = list(changes["target_states"])
        if changes.get("target_lgas") is not None:
            campaign.target_lgas = list(changes["target_lgas"])
        low, high = changes.get("target_age_min"), changes.get("target_age_max")
        if low is not None or high is not None:
            current = age_bounds(campaign.target_age_range)
            low = low if low is not None else current.get("targetAgeMin")
            high = high if high is not None else current.get("targetAgeMax")
            if low is not None and high is not None:
                if low > high:
                    raise InvalidInputError(INVALID_AGE_RANGE)
                campaign.target_age_range = age_range_text(low, high)
        campaign.updated_at = utc_now()
        await campaign.save(using_db=conn)
        if types is not None:
            await campaign.screening_types.clear(using_db=conn)
            await campaign.screening_types.add(*types, using_db=conn)
        return await campaign_object_of(campaign, using_db=conn)


# ---------------------------------------------------------------------------------------------
# Deletion and fund recycling (§4.8)

_LIVE_ALLOCATIONS = """
SELECT d.id, d."patientId" AS patient_id, COALESCE(d."amountAllocated", 0) AS amount
FROM "DonationAllocation" d
JOIN "Waitlist" w ON w.id = d."waitlistId"
LEFT JOIN "Appointment" a ON a.id = d."appointmentId"
WHERE d."campaignId" = $1
  AND ((d."appointmentId" IS NULL AND w.status = 'MATCHED')
       OR a.status IN ('PENDING', 'SCHEDULED', 'IN_PROGRESS'))
FOR UPDATE OF d
"""


@dataclass(frozen=True, slots=True)
class Recycled:
    campaign_id: str
    amount: float
    reference: str | None
    moved_patients: tuple[str, ...]


async def lock_pool(*, using_db: BaseDBAsyncClient) -> DonationCampaign:
    """The general donor pool, locked. It is created by migrations; its absence is a fault
    (D-DON-12), never repaired here."""
    pool = (
        await DonationCampaign.filter(id=GENERAL_DONOR_POOL_ID)
        .select_for_update()
        .using_db(using_db)
        .first()
    )
    if pool is None:
        raise RuntimeError("the general donor pool row is missing (run migrations / seed)")
    return pool


async def credit_pool(
    amount: float, *, using_db: BaseDBAsyncClient, available: bool = True
) -> None:
    """Adds ``amount`` to the pool's total (and, unless told otherwise, to its available money)."""
    pool = await lock_pool(using_db=using_db)
    pool.total_amount = round(pool.total_amount + amount, 2)
    if available:
        pool.available_amount = round(pool.available_amount + amount, 2)
    pool.updated_at = utc_now()
    await pool.save(using_db=using_db)


async def recycle_campaign(campaign: DonationCampaign, *, using_db: BaseDBAsyncClient) -> Recycled:
    """Marks the (locked) campaign DELETED and moves its unallocated money and live allocations
    to the pool (steps 2-6). The caller owns the transaction and the notifications."""
    unallocated = campaign.available_amount or 0.0
    live = await using_db.execute_query_dict(_LIVE_ALLOCATIONS, [campaign.id])
    reserved = round(sum(float(row["amount"]) for row in live), 2)
    now = utc_now()
    campaign.status = CampaignStatus.DELETED
    campaign.available_amount = 0.0
    campaign.total_amount = 0.0
    campaign.updated_at = now
    await campaign.save(using_db=using_db)
    if live:
        await using_db.execute_query(
            'UPDATE "DonationAllocation" SET "campaignId" = $1 WHERE id = ANY($2::text[])',
            [GENERAL_DONOR_POOL_ID, [row["id"] for row in live]],
        )
    moved = round(unallocated + reserved, 2)
    reference: str | None = None
    if moved > 0:
        pool = await lock_pool(using_db=using_db)
        pool.available_amount = round(pool.available_amount + unallocated, 2)
        pool.total_amount = round(pool.total_amount + moved, 2)
        pool.updated_at = now
        await pool.save(using_db=using_db)
        reference = (
            f"campaign-deletion-{campaign.id}-{int(time.time() * 1000)}-{secrets.token_hex(6)}"
        )
        await Transaction.create(
            id=new_id(),
            type=TransactionType.REFUND,
            status=TransactionStatus.COMPLETED,
            amount=moved,
            payment_reference=reference,
            payment_channel="INTERNAL_TRANSFER",
            related_donation_id=GENERAL_DONOR_POOL_ID,
            created_at=now,
            using_db=using_db,
        )
    patients = tuple(dict.fromkeys(str(row["patient_id"]) for row in live))
    return Recycled(campaign.id, moved, reference, patients)


async def notify_moved_patients(recycled: Recycled, *, using_db: BaseDBAsyncClient) -> None:
    if not recycled.moved_patients:
        return
    await notify(
        using_db=using_db,
        type="CAMPAIGN_DELETED_ALLOCATION_MOVED",
        title="Campaign Deleted - Allocation Moved",
        message=(
            "The campaign you were allocated to has been deleted. Your allocation has been moved "
            "to the general donation pool and you will still receive support."
        ),
        recipient_ids=recycled.moved_patients,
        data={
            "campaignId": recycled.campaign_id,
            "transferredAmount": recycled.amount,
            "transferReference": recycled.reference,
        },
    )


async def delete_campaign(*, donor_id: str, campaign_id: str) -> dict[str, Any]:
    """The donor's deletion (§4.8): one transaction, notifications inside it (decision 1)."""
    async with in_transaction() as conn:
        campaign = (
            await DonationCampaign.filter(
                id=campaign_id, donor_id=donor_id, status=CampaignStatus.ACTIVE
            )
            .select_for_update()
            .using_db(conn)
            .first()
        )
        if campaign is None or campaign.id == GENERAL_DONOR_POOL_ID:
            raise NotFoundError(NOT_FOUND_OR_INACTIVE)
        recycled = await recycle_campaign(campaign, using_db=conn)
        if recycled.amount > 0:
            x = naira_text(recycled.amount)
            await notify(
                using_db=conn,
                type="CAMPAIGN_DELETED",
                title="Campaign Deleted Successfully",
                message=(
                    f"Your campaign has been deleted and ₦{x} has been transferred to the general "
                    "donation pool to help other patients."
                ),
                recipient_ids=[donor_id],
                data={
                    "campaignId": campaign_id,
                    "transferredAmount": recycled.amount,
                    "transferReference": recycled.reference,
                },
            )
            await notify_moved_patients(recycled, using_db=conn)
    if recycled.amount <= 0:
        return {
            "campaignId": campaign_id,
            "action": "recycle_to_general",
            "amountProcessed": 0,
            "message": "Campaign deleted successfully. No funds to transfer.",
        }
    return {
        "campaignId": campaign_id,
        "action": "recycle_to_general",
        "amountProcessed": recycled.amount,
        "message": (
            f"Campaign deleted successfully. ₦{naira_text(recycled.amount)} transferred to "
            "general donation pool."
        ),
    }
