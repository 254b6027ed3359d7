"""Admin changes (admin.md §3.2, §5.2, §11.3, §11.5-11.6): centre and campaign status, allocation
expiry, and the stored matching configuration.

Money moves in one transaction with the status change, on rows locked `FOR UPDATE`; an
allocation is expired with a conditional update so two concurrent calls cannot both return its
money (D-ADM-7). An admin deleting a campaign recycles its funds exactly as the donor's deletion
does (D-ADM-3).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tortoise.transactions import in_transaction

from actors.contracts.messages import SendEmail
from actors.contracts.notifications import notify
from actors.contracts.outbox import Requester, enqueue
from edge.services.campaigns import credit_pool, recycle_campaign
from edge.services.errors import InvalidInputError, NotFoundError
from models.base import utc_now
from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.centers import ServiceCenter
from models.enums import CampaignStatus, ServiceCenterStatus
from models.matching import MatchingConfigOverride
from models.waitlists import DonationAllocation

#: E-12 template (best-effort centre email).
CENTER_STATUS_TEMPLATE = "center_status_changed"

CAMPAIGN_STATUS_MESSAGES = {
    "ACTIVE": "Your campaign has been approved and is now active!",
    "COMPLETED": "Your campaign has been marked as completed.",
    "DELETED": "Your campaign has been deleted by admin. {reason}",
}


async def set_center_status(
    *, center_id: str, status: str, reason: str | None, admin_id: str
) -> ServiceCenter:
    """Sets the status and queues the best-effort E-12 email in the same transaction."""
    async with in_transaction() as conn:
        center = await ServiceCenter.filter(id=center_id).using_db(conn).first()
        if center is None:
            raise NotFoundError("Center not found")
        center.status = ServiceCenterStatus(status)
        await center.save(using_db=conn, update_fields=["status"])
        await enqueue(
            SendEmail(
                template=CENTER_STATUS_TEMPLATE,
                to=center.email,
                context={"status": status, "reason": reason},
            ),
            using_db=conn,
            requested_by=Requester("admin", admin_id),
        )
    return center


async def set_campaign_status(*, campaign_id: str, status: str, reason: str | None) -> None:
    """Admin status change; DELETED recycles the campaign's funds (D-ADM-3)."""
    async with in_transaction() as conn:
        campaign = (
            await DonationCampaign.filter(id=campaign_id).select_for_update().using_db(conn).first()
        )
        if campaign is None:
            raise NotFoundError("Campaign not found")
        if campaign.id == GENERAL_DONOR_POOL_ID:
            raise InvalidInputError("The general donor pool cannot be changed")
        if campaign.status == CampaignStatus.DELETED:
            raise InvalidInputError("Deleted campaigns cannot be changed")
        if status == CampaignStatus.DELETED:
            await recycle_campaign(campaign, using_db=conn)
        else:
            campaign.status = CampaignStatus(status)
            campaign.updated_at = utc_now()
            await campaign.save(using_db=conn)
        message = CAMPAIGN_STATUS_MESSAGES[status].format(
            reason=reason or "Please contact support for more information."
        )
        await notify(
            using_db=conn,
            type="CAMPAIGN_STATUS_CHANGED",
            title="Campaign Status Updated",
            message=message,
            recipient_ids=[campaign.donor_id],
            data={"campaignId": campaign_id, "newStatus": status, "reason": reason},
        )


async def expire_allocation(allocation_id: str) -> float | None:
    """MATCHED -> EXPIRED (conditional), the reserved money back to its campaign (or the pool
    when the campaign was deleted), and the patient told (in-app only)."""
    async with in_transaction() as conn:
        allocation = (
            await DonationAllocation.filter(id=allocation_id)
            .select_related("waitlist__screening_type")
            .using_db(conn)
            .first()
        )
        if allocation is None:
            raise NotFoundError("Allocation not found")
        now = utc_now()
        rows = await conn.execute_query_dict(
            'UPDATE "Waitlist" SET status = \'EXPIRED\', "expiredAt" = $2 '
            "WHERE id = $1 AND status = 'MATCHED' RETURNING id",
            [allocation.waitlist_id, now],
        )
        if not rows:
            raise InvalidInputError("Only MATCHED allocations can be expired")
        amount = allocation.amount_allocated or 0.0
        campaign = (
            await DonationCampaign.filter(id=allocation.campaign_id)
            .select_for_update()
            .using_db(conn)
            .first()
        )
        if amount > 0 and campaign is not None:
            if campaign.status == CampaignStatus.DELETED:
                # Legacy rows: a deleted campaign keeps nothing; the pool receives the money
                # as new, so its own total grows with it.
                await credit_pool(amount, using_db=conn)
            else:
                campaign.available_amount = round(campaign.available_amount + amount, 2)
                campaign.updated_at = now
                await campaign.save(using_db=conn)
        await notify(
            using_db=conn,
            type="ALLOCATION_EXPIRED",
            title="Allocation Expired",
            message=(
                "Your screening allocation has expired due to inactivity. You can rejoin the "
                "waitlist."
            ),
            recipient_ids=[allocation.patient_id],
            data={
                "allocationId": allocation.id,
                "screeningType": allocation.waitlist.screening_type.name,
            },
        )
    return allocation.amount_allocated


# ---------------------------------------------------------------------------------------------
# Matching configuration (§11.5, §11.6; matching.md §2)

#: camelCase key -> (environment variable, default, kind).
KNOBS: dict[str, tuple[str, int | bool, str]] = {
    "patientsPerScreeningType": ("WAITLIST_BATCH_SIZE", 50, "int"),
    "maxTotalPatients": ("WAITLIST_MAX_TOTAL", 500, "int"),
    "enableParallelProcessing": ("WAITLIST_PARALLEL", False, "true_only"),
    "maxConcurrentScreeningTypes": ("WAITLIST_CONCURRENT", 5, "int"),
    "enableDemographicTargeting": ("WAITLIST_DEMOGRAPHIC_TARGETING", True, "unless_false"),
    "enableGeographicTargeting": ("WAITLIST_GEOGRAPHIC_TARGETING", True, "unless_false"),
    "allocationExpiryDays": ("WAITLIST_EXPIRY_DAYS", 30, "int"),
}


def environment_config(environ: Mapping[str, str] | None = None) -> dict[str, int | bool]:
    """The reference's reading of WAITLIST_* (admin.md §11.5)."""
    env = os.environ if environ is None else environ
    config: dict[str, int | bool] = {}
    for key, (name, default, kind) in KNOBS.items():
        raw = env.get(name)
        if kind == "true_only":
            config[key] = raw == "true" if raw is not None else bool(default)
        elif kind == "unless_false":
            config[key] = raw != "false" if raw is not None else bool(default)
        else:
            try:
                config[key] = int(raw) if raw not in (None, "") else default
            except ValueError:
                config[key] = default
    return config


async def stored_overrides() -> dict[str, Any]:
    row = await MatchingConfigOverride.filter(id=1).first()
    return {k: v for k, v in (row.overrides if row else {}).items() if k in KNOBS}


async def effective_config() -> dict[str, int | bool]:
    """Stored override > environment > default (decision 3)."""
    return {**environment_config(), **await stored_overrides()}


async def store_overrides(changes: Mapping[str, Any], *, admin_id: str) -> list[str]:
    """Merges the given keys into the one stored row; returns the keys updated."""
    async with in_transaction() as conn:
        await conn.execute_query(
            "INSERT INTO matching_config_overrides (id, overrides) VALUES (1, '{}'::jsonb) "
            "ON CONFLICT (id) DO NOTHING"
        )
        row = await MatchingConfigOverride.filter(id=1).select_for_update().using_db(conn).get()
        row.overrides = {**(row.overrides or {}), **dict(changes)}
        row.updated_by = admin_id
        await row.save(using_db=conn)
    return list(changes)
