"""Admin user management: /api/v1/admin/users (admin.md §4)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from tortoise.expressions import Q

from edge.auth.guards import requires_role
from edge.envelope import ok
from edge.schemas.admin import UsersQuery
from edge.services.listing import offset, page_body
from edge.validation import parse_query
from models.appointments import Appointment
from models.campaigns import DonationCampaign
from models.users import DonorProfile, PatientProfile, User

bp = Blueprint("admin_users", url_prefix="/admin")


def recent(rows: list[Any], key: str, limit: int = 3) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for item in rows:
        mine = grouped.setdefault(getattr(item, key), [])
        if len(mine) < limit:
            mine.append(item)
    return grouped


async def user_objects(users: list[User]) -> list[dict[str, Any]]:
    ids = [u.id for u in users]
    patients = {p.user_id: p for p in await PatientProfile.filter(user_id__in=ids)}
    donors = {d.user_id: d for d in await DonorProfile.filter(user_id__in=ids)}
    appointments = recent(
        await Appointment.filter(patient_id__in=ids).order_by("-created_at", "-id"), "patient_id"
    )
    campaigns = recent(
        await DonationCampaign.filter(donor_id__in=ids).order_by("-created_at", "-id"), "donor_id"
    )
    shown = []
    for user in users:
        patient, donor = patients.get(user.id), donors.get(user.id)
        shown.append(
            {
                "id": user.id,
                "fullName": user.full_name,
                "email": user.email,
                "phone": user.phone,
                "createdAt": user.created_at,
                "patientProfile": (
                    {
                        "id": patient.id,
                        "emailVerified": patient.email_verified,
                        "gender": patient.gender,
                        "dateOfBirth": patient.date_of_birth,
                        "city": patient.city,
                        "state": patient.state,
                    }
                    if patient
                    else None
                ),
                "donorProfile": (
                    {
                        "id": donor.id,
                        "emailVerified": donor.email_verified,
                        "organizationName": donor.organization_name,
                        "country": donor.country,
                    }
                    if donor
                    else None
                ),
                "appointments": [
                    {"id": a.id, "status": a.status, "createdAt": a.created_at}
                    for a in appointments.get(user.id, [])
                ],
                "donationCampaigns": [
                    {
                        "id": c.id,
                        "status": c.status,
                        "totalAmount": c.total_amount,
                        "initialAmount": c.total_amount,
                    }
                    for c in campaigns.get(user.id, [])
                ],
            }
        )
    return shown


@bp.get("/users", name="list_admin_users")
@requires_role("admin")
async def list_admin_users(request: Request) -> HTTPResponse:
    """Patients and donors, newest first (filters: profileType, search in name or email)."""
    query = parse_query(request, UsersQuery)
    found = User.all()
    if query.profile_type == "PATIENT":
        found = found.filter(patient_profile__id__isnull=False)
    elif query.profile_type == "DONOR":
        found = found.filter(donor_profile__id__isnull=False)
    if query.search:
        found = found.filter(
            Q(full_name__icontains=query.search) | Q(email__icontains=query.search)
        )
    total = await found.count()
    users = (
        await found.order_by("-created_at", "-id")
        .offset(offset(query.page, query.page_size))
        .limit(query.page_size)
    )
    return ok(
        page_body(
            "users", await user_objects(users), page=query.page, size=query.page_size, total=total
        )
    )
