"""Returning reserved donation money when a reservation is given up (waitlist.md, matching.md).

Money rule shared by every path that gives a reservation back (leaving a MATCHED entry, a
center cancelling a donated appointment; the matching expiry and the admin expiry do the same):
the waitlist status change is a conditional UPDATE, so the refund happens at most once per
allocation whichever path gets there first (matching.md §4.2, §8.4).
"""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.enums import AllocationStatus, CampaignStatus
from models.screening_types import ScreeningType
from models.waitlists import DonationAllocation, Waitlist


async def credit_campaign(
    *, campaign_id: str, amount: float, now: datetime, using_db: BaseDBAsyncClient
) -> str:
    """Gives `amount` back to a campaign's `availableAmount`; a DELETED campaign's money goes to
    the general pool instead (both its amounts, so the pool's books still balance). Returns the
    id of the campaign credited. Amounts are rounded to 2 decimals.
    """
    campaign = (
        await DonationCampaign.filter(id=campaign_id).using_db(using_db).select_for_update().first()
    )
    if campaign is None or campaign.status == CampaignStatus.DELETED:
        await using_db.execute_query(
            'UPDATE "DonationCampaign" SET '
            '"availableAmount" = round(("availableAmount" + $1)::numeric, 2)::float8, '
            '"totalAmount" = round(("totalAmount" + $1)::numeric, 2)::float8, '
            '"updatedAt" = $2 WHERE id = $3',
            [amount, now, GENERAL_DONOR_POOL_ID],
        )
        return GENERAL_DONOR_POOL_ID
    await using_db.execute_query(
        'UPDATE "DonationCampaign" SET '
        '"availableAmount" = round(("availableAmount" + $1)::numeric, 2)::float8, '
        '"updatedAt" = $2 WHERE id = $3',
        [amount, now, campaign.id],
    )
    return campaign.id


async def reserved_amount(allocation: DonationAllocation, *, using_db: BaseDBAsyncClient) -> float:
    """`amountAllocated`, or the screening type's `agreedPrice` when it is null."""
    if allocation.amount_allocated is not None:
        return float(allocation.amount_allocated)
    screening_type = (
        await ScreeningType.filter(waitlists__id=allocation.waitlist_id).using_db(using_db).first()
    )
    return float(screening_type.agreed_price) if screening_type is not None else 0.0


async def release_claimed_allocation(
    *, appointment_id: str, now: datetime, using_db: BaseDBAsyncClient
) -> bool:
    """A cancelled donated appointment: its CLAIMED entry becomes EXPIRED and the reserved money
    returns to the campaign (appointments.md §4.4 step 5). True when money was released."""
    released = False
    allocations = (
        await DonationAllocation.filter(appointment_id=appointment_id)
        .using_db(using_db)
        .select_for_update()
    )
    for allocation in allocations:
        expired = (
            await Waitlist.filter(id=allocation.waitlist_id, status=AllocationStatus.CLAIMED)
            .using_db(using_db)
            .update(status=AllocationStatus.EXPIRED, expired_at=now)
        )
        if expired != 1:
            continue
        amount = await reserved_amount(allocation, using_db=using_db)
        await credit_campaign(
            campaign_id=allocation.campaign_id, amount=amount, now=now, using_db=using_db
        )
        released = True
    return released
