"""Admin allocation management: /api/v1/admin/allocations (list, expired, expire, by patient;
admin.md §11.1-§11.4)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.guards import requires_role
from edge.envelope import ok
from edge.schemas.admin import AllocationsQuery
from edge.schemas.dates import parse_bound
from edge.services import admin_ops
from edge.services.listing import offset, page_body
from edge.services.rows import row
from edge.validation import parse_query
from models.users import PatientProfile
from models.waitlists import DonationAllocation

bp = Blueprint("admin_allocations", url_prefix="/admin")

#: Unpaginated lists are capped (D-ADM-12).
MAX_UNPAGED = 1000
RELATED = ("patient", "campaign__donor", "waitlist__screening_type")


def campaign_of(allocation: DonationAllocation, *, donor_id: bool) -> dict[str, Any]:
    donor: dict[str, Any] = {"fullName": allocation.campaign.donor.full_name}
    if donor_id:
        donor = {"id": allocation.campaign.donor.id, **donor}
    return {"id": allocation.campaign.id, "title": allocation.campaign.title, "donor": donor}


@bp.get("/allocations", name="list_allocations")
@requires_role("admin")
async def list_allocations(request: Request) -> HTTPResponse:
    """Donation allocations, by id descending (filters: status, patient, campaign, dates of the
    matching run)."""
    query = parse_query(request, AllocationsQuery)
    start = parse_bound(query.date_from, "dateFrom")
    end = parse_bound(query.date_to, "dateTo", end=True)
    found = DonationAllocation.all()
    if query.status:
        found = found.filter(waitlist__status=query.status)
    if query.patient_id:
        found = found.filter(patient_id=query.patient_id)
    if query.campaign_id:
        found = found.filter(campaign_id=query.campaign_id)
    if start is not None:
        found = found.filter(matching_execution__started_at__gte=start)
    if end is not None:
        found = found.filter(matching_execution__started_at__lte=end)
    total = await found.count()
    allocations = (
        await found.order_by("-id")
        .offset(offset(query.page, query.page_size))
        .limit(query.page_size)
        .select_related(*RELATED)
    )
    profiles = {
        p.user_id: p
        for p in await PatientProfile.filter(user_id__in=[a.patient_id for a in allocations])
    }
    shown = []
    for allocation in allocations:
        profile = profiles.get(allocation.patient_id)
        shown.append(
            {
                **row(allocation),
                "patient": {
                    "id": allocation.patient.id,
                    "fullName": allocation.patient.full_name,
                    "email": allocation.patient.email,
                    "patientProfile": (
                        {"state": profile.state, "city": profile.city} if profile else None
                    ),
                },
                "campaign": campaign_of(allocation, donor_id=True),
                "waitlist": {
                    "id": allocation.waitlist.id,
                    "status": allocation.waitlist.status,
                    "joinedAt": allocation.waitlist.joined_at,
                    "screening": {"name": allocation.waitlist.screening_type.name},
                },
            }
        )
    return ok(page_body("allocations", shown, page=query.page, size=query.page_size, total=total))


@bp.get("/allocations/expired", name="list_expired_allocations")
@requires_role("admin")
async def list_expired_allocations(request: Request) -> HTTPResponse:
    """Every allocation whose waitlist entry expired (id descending, capped)."""
    allocations = (
        await DonationAllocation.filter(waitlist__status="EXPIRED")
        .order_by("-id")
        .limit(MAX_UNPAGED)
        .select_related(*RELATED)
    )
    return ok(
        [
            {
                **row(a),
                "patient": {
                    "id": a.patient.id,
                    "fullName": a.patient.full_name,
                    "email": a.patient.email,
                },
                "campaign": {
                    "id": a.campaign.id,
                    "title": a.campaign.title,
                    "donor": {"fullName": a.campaign.donor.full_name},
                },
                "waitlist": {
                    "joinedAt": a.waitlist.joined_at,
                    "screening": {"name": a.waitlist.screening_type.name},
                },
            }
            for a in allocations
        ]
    )


@bp.post("/allocations/<allocation_id:str>/expire", name="expire_allocation")
@requires_role("admin")
async def expire_allocation(request: Request, allocation_id: str) -> HTTPResponse:
    """Expire a MATCHED allocation; its reserved money returns to the campaign."""
    returned = await admin_ops.expire_allocation(allocation_id)
    return ok(
        {
            "message": "Allocation expired successfully",
            "allocationId": allocation_id,
            "fundsReturned": returned,
        }
    )


@bp.get("/allocations/patient/<patient_id:str>", name="list_patient_allocations")
@requires_role("admin")
async def list_patient_allocations(request: Request, patient_id: str) -> HTTPResponse:
    """One patient's allocations (id descending, capped)."""
    allocations = (
        await DonationAllocation.filter(patient_id=patient_id)
        .order_by("-id")
        .limit(MAX_UNPAGED)
        .select_related(*RELATED)
    )
    return ok(
        [
            {
                **row(a),
                "campaign": campaign_of(a, donor_id=False),
                "waitlist": {
                    "status": a.waitlist.status,
                    "joinedAt": a.waitlist.joined_at,
                    "screening": {"name": a.waitlist.screening_type.name},
                },
            }
            for a in allocations
        ]
    )
