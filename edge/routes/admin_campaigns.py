"""Admin campaign management: /api/v1/admin/campaigns (list, status; admin.md §5)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from tortoise.expressions import Q

from edge.auth.guards import requires_role
from edge.envelope import ok
from edge.schemas.admin import CampaignsQuery, CampaignStatusBody
from edge.services import admin_ops
from edge.services.listing import offset, page_body
from edge.services.rows import row
from edge.validation import parse_body, parse_query
from models.base import utc_now
from models.campaigns import DonationCampaign
from models.transactions import Transaction
from models.users import DonorProfile, User
from models.waitlists import DonationAllocation

bp = Blueprint("admin_campaigns", url_prefix="/admin")


async def campaign_objects(campaigns: list[DonationCampaign]) -> list[dict[str, Any]]:
    ids = [c.id for c in campaigns]
    donor_ids = list({c.donor_id for c in campaigns})
    donors = {u.id: u for u in await User.filter(id__in=donor_ids)}
    organizations = {
        p.user_id: p.organization_name for p in await DonorProfile.filter(user_id__in=donor_ids)
    }
    types: dict[str, list[dict[str, str]]] = {}
    for campaign in campaigns:
        types[campaign.id] = [
            {"id": t.id, "name": t.name}
            for t in await campaign.screening_types.all().order_by("name")
        ]
    allocations: dict[str, list[dict[str, Any]]] = {}
    for allocation in await DonationAllocation.filter(campaign_id__in=ids).order_by("id"):
        mine = allocations.setdefault(allocation.campaign_id, [])
        if len(mine) < 5:
            mine.append({"id": allocation.id, "claimedAt": allocation.claimed_at})
    transactions: dict[str, list[dict[str, Any]]] = {}
    for transaction in await Transaction.filter(related_donation_id__in=ids).order_by(
        "-created_at", "-id"
    ):
        mine = transactions.setdefault(str(transaction.related_donation_id), [])
        if len(mine) < 3:
            mine.append(
                {
                    "id": transaction.id,
                    "amount": transaction.amount,
                    "status": transaction.status,
                    "createdAt": transaction.created_at,
                }
            )
    shown = []
    for campaign in campaigns:
        donor = donors.get(campaign.donor_id)
        states, lgas = campaign.target_states or [], campaign.target_lgas or []
        shown.append(
            {
                **row(campaign),
                "donor": (
                    {
                        "id": donor.id,
                        "fullName": donor.full_name,
                        "email": donor.email,
                        "donorProfile": (
                            {"organizationName": organizations[donor.id]}
                            if donor.id in organizations
                            else None
                        ),
                    }
                    if donor
                    else None
                ),
                "screeningTypes": types.get(campaign.id, []),
                "allocations": allocations.get(campaign.id, []),
                "transactions": transactions.get(campaign.id, []),
                # Compatibility keys the admin UI reads (D-ADM-6).
                "initialAmount": campaign.total_amount,
                "reservedAmount": campaign.total_amount - (campaign.available_amount or 0.0),
                "targetState": ", ".join(states) or None,
                "targetLga": ", ".join(lgas) or None,
            }
        )
    return shown


@bp.get("/campaigns", name="list_admin_campaigns")
@requires_role("admin")
async def list_admin_campaigns(request: Request) -> HTTPResponse:
    """Every campaign (the general pool too), newest first."""
    query = parse_query(request, CampaignsQuery)
    found = DonationCampaign.all()
    if query.status:
        found = found.filter(status=query.status)
    if query.search:
        term = query.search
        found = found.filter(
            Q(purpose__icontains=term)
            | Q(title__icontains=term)
            | Q(donor__full_name__icontains=term)
        )
    total = await found.count()
    campaigns = (
        await found.order_by("-created_at", "-id")
        .offset(offset(query.page, query.page_size))
        .limit(query.page_size)
    )
    return ok(
        page_body(
            "campaigns",
            await campaign_objects(campaigns),
            page=query.page,
            size=query.page_size,
            total=total,
        )
    )


@bp.patch("/campaigns/<campaign_id:str>/status", name="update_admin_campaign_status")
@requires_role("admin")
async def update_admin_campaign_status(request: Request, campaign_id: str) -> HTTPResponse:
    """Set a campaign's status; DELETED recycles its funds to the general pool."""
    body = parse_body(request, CampaignStatusBody)
    await admin_ops.set_campaign_status(
        campaign_id=campaign_id, status=body.status, reason=body.reason
    )
    return ok({"campaignId": campaign_id, "status": body.status, "updatedAt": utc_now()})
