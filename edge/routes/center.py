"""Center routes: /api/v1/center (list, detail, staff invitations, staff status).

The staff account routes under /center/staff (login, passwords) are in `center_staff_auth`.
"""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.guards import Principal, optional_principal, requires_role
from edge.deps import principal_of
from edge.envelope import ok
from edge.schemas.centers import (
    CentersQuery,
    InviteStaffBody,
    InviteTokenPath,
    StaffStatusBody,
)
from edge.services import centers
from edge.validation import parse_body, parse_query, validate

bp = Blueprint("center", url_prefix="/center")


def _token(token: str) -> str:
    """The path's invite token, at least 10 characters (else the 400 validation envelope)."""
    return validate(InviteTokenPath, {"token": token}).token


def viewer_of(principal: Principal | None) -> centers.Viewer:
    """Owners (center and center-staff tokens of a center) and admins see the private fields."""
    if principal is None:
        return centers.Viewer()
    if principal.kind == "admin":
        return centers.Viewer(admin=True)
    return centers.Viewer(center_id=principal.center_id)


@bp.get("", name="list_centers")
async def list_centers(request: Request) -> HTTPResponse:
    """List centers (filters: search, status, state, lga), newest first."""
    query = parse_query(request, CentersQuery)
    viewer = viewer_of(optional_principal(request))
    page = await centers.list_centers(
        viewer=viewer,
        filters=centers.CenterFilters(
            search=query.search, status=query.status, state=query.state, lga=query.lga
        ),
        page=query.page,
        page_size=query.page_size,
    )
    return ok(page.as_json())


@bp.get("/staff/invite", name="list_staff_invites")
@requires_role("center")
async def list_staff_invites(request: Request) -> HTTPResponse:
    """The caller center's pending staff invitations (expired ones included)."""
    center_id = principal_of(request).id
    return ok({"invites": await centers.pending_invites(center_id)})


@bp.post("/staff/invite", name="invite_staff")
@requires_role("center")
async def invite_staff(request: Request) -> HTTPResponse:
    """Invite staff to the caller's own center: one e-mail per address."""
    body = parse_body(request, InviteStaffBody)
    invites = await centers.invite_staff(
        caller_center_id=principal_of(request).id, center_id=body.center_id, emails=body.emails
    )
    return ok({"invites": invites})


@bp.get("/staff/invite/validate/<token:str>", name="validate_staff_invite")
async def validate_staff_invite(request: Request, token: str) -> HTTPResponse:
    """What an invite link is worth: center, address, expiry (always 200)."""
    return ok(await centers.validate_invite(_token(token)))


@bp.delete("/staff/invite/<token:str>", name="revoke_staff_invite")
@requires_role("center")
async def revoke_staff_invite(request: Request, token: str) -> HTTPResponse:
    """Revoke a pending invitation of the caller's center."""
    token = _token(token)
    return ok(await centers.revoke_invite(center_id=principal_of(request).id, token=token))


@bp.patch("/staff/<staff_id:str>/status", name="set_staff_status")
@requires_role("center")
async def set_staff_status(request: Request, staff_id: str) -> HTTPResponse:
    """Suspend or reactivate a staff member of the caller's center."""
    body = parse_body(request, StaffStatusBody)
    principal = principal_of(request)
    result = await centers.set_staff_status(
        center_id=principal.id,
        caller_staff_id=principal.staff_id,
        staff_id=staff_id,
        status=body.status,
    )
    return ok(result)


@bp.get("/<center_id:str>", name="get_center")
async def get_center(request: Request, center_id: str) -> HTTPResponse:
    """One center (GET /center/staff lands here and answers 404)."""
    viewer = viewer_of(optional_principal(request))
    return ok(await centers.get_center(center_id, viewer=viewer))
