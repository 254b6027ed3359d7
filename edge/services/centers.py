"""Centers and their staff: listing, detail, invitations, staff status (centers.md 2, 3).

Who sees what (D-CEN-2): bank details and the staff list are shown only to the center's owner
(a center or center-staff token of that center) and to admins; everybody else gets `null` and
`[]`. A center manages only its own invitations and staff (D-CEN-1): the center is always the
caller's token, never a value from the request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from actors.contracts.outbox import Requester
from edge.envelope import iso
from edge.services import staff_accounts
from edge.services.accounts import is_expired
from edge.services.errors import AccessDeniedError, InvalidInputError, NotFoundError
from edge.services.sessions import record_credential_change
from models import db
from models.centers import ServiceCenter
from models.enums import ServiceCenterStatus, StaffStatus
from models.staff import CenterStaff, CenterStaffInvite


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks for center data: an admin, the staff of one center, or anybody."""

    admin: bool = False
    center_id: str | None = None

    def privileged_for(self, center_id: str) -> bool:
        return self.admin or (self.center_id is not None and self.center_id == center_id)


@dataclass(frozen=True, slots=True)
class CenterFilters:
    search: str = ""
    status: ServiceCenterStatus | None = None
    state: str = ""
    lga: str = ""


@dataclass(frozen=True, slots=True)
class CenterPage:
    centers: list[dict[str, Any]]
    page: int
    page_size: int
    total: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.page_size) if self.total else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "centers": self.centers,
            "page": self.page,
            "pageSize": self.page_size,
            "total": self.total,
            "totalPages": self.total_pages,
        }


# One statement for a page of centers with their offers (this center's price, else the type's
# agreed price: D-CEN-3) and, only where the caller may see them, their staff. `$1` is the
# admin flag and `$2` the caller's center id; the filter's parameters follow.
_CENTER_COLUMNS = """
SELECT c."id", c."email", c."centerName", c."address", c."state", c."lga", c."phone",
       c."bankAccount", c."bankName", c."status"::text AS "status", c."createdAt",
       ($1::boolean OR c."id" = $2::text) AS "privileged",
       COALESCE((
           SELECT json_agg(json_build_object(
                      'id', st."id", 'name', st."name",
                      'price', COALESCE(p."amount", st."agreedPrice"))
                  ORDER BY st."name", st."id")
           FROM "_ScreeningTypeToServiceCenter" j
           JOIN "ScreeningType" st ON st."id" = j."A"
           LEFT JOIN "ServiceCenterScreeningType" p
                  ON p."centerId" = c."id" AND p."screeningTypeId" = st."id"
           WHERE j."B" = c."id"), '[]'::json) AS "services",
       CASE WHEN ($1::boolean OR c."id" = $2::text) THEN COALESCE((
           SELECT json_agg(json_build_object(
                      'id', s."id", 'email', s."email",
                      'status', COALESCE(s."status"::text, 'ACTIVE'))
                  ORDER BY s."createdAt", s."id")
           FROM "CenterStaff" s WHERE s."centerId" = c."id"), '[]'::json)
       ELSE '[]'::json END AS "staff"
FROM "ServiceCenter" c
"""


def _where(filters: CenterFilters, first: int) -> tuple[str, list[Any]]:
    """The WHERE clause for `filters`, numbering its parameters from `$first`."""
    clauses: list[str] = []
    values: list[Any] = []

    def param(value: Any) -> str:
        values.append(value)
        return f"${first + len(values) - 1}"

    if filters.search:
        # strpos, not LIKE: `%` and `_` in the search text match literally (centers.md 3.1).
        needle = param(filters.search.lower())
        clauses.append(
            f'(strpos(lower(c."centerName"), {needle}) > 0'
            f' OR strpos(lower(c."address"), {needle}) > 0'
            f' OR strpos(lower(c."email"), {needle}) > 0)'
        )
    if filters.status is not None:
        clauses.append(f'c."status" = {param(filters.status.value)}::"ServiceCenterStatus"')
    if filters.state:
        clauses.append(f'c."state" = {param(filters.state)}')
    if filters.lga:
        clauses.append(f'c."lga" = {param(filters.lga)}')
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", values


def _json_list(value: Any) -> list[Any]:
    if value is None:
        return []
    loaded = json.loads(value) if isinstance(value, str) else value
    return list(loaded)


def center_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """`TCenter` from a row of `_CENTER_COLUMNS` (redacted unless `privileged`)."""
    privileged = bool(row["privileged"])
    services = [
        {"id": item["id"], "name": item["name"], "price": float(item["price"])}
        for item in _json_list(row["services"])
    ]
    return {
        "id": row["id"],
        "email": row["email"],
        "centerName": row["centerName"],
        "address": row["address"],
        "state": row["state"],
        "lga": row["lga"],
        "phone": row["phone"],
        "bankAccount": row["bankAccount"] if privileged else None,
        "bankName": row["bankName"] if privileged else None,
        "status": row["status"],
        # Formatted here: through the encoder's `default` each date costs twice as much.
        "createdAt": iso(row["createdAt"]),
        "services": services,
        "staff": _json_list(row["staff"]) if privileged else [],
    }


async def list_centers(
    *, viewer: Viewer, filters: CenterFilters, page: int, page_size: int
) -> CenterPage:
    """A page of centers, newest first, with the number of all matching centers."""
    where, values = _where(filters, first=3)
    limit, offset = len(values) + 3, len(values) + 4
    rows = await db.fetch_rows(
        f'{_CENTER_COLUMNS}{where} ORDER BY c."createdAt" DESC, c."id" DESC'
        f" LIMIT ${limit} OFFSET ${offset}",
        *[viewer.admin, viewer.center_id, *values, page_size, (page - 1) * page_size],
    )
    count_where, count_values = _where(filters, first=1)
    counted = await db.fetch_rows(
        f'SELECT count(*) AS "total" FROM "ServiceCenter" c{count_where}', *count_values
    )
    return CenterPage(
        centers=[center_json(row) for row in rows],
        page=page,
        page_size=page_size,
        total=int(counted[0]["total"]),
    )


async def get_center(center_id: str, *, viewer: Viewer) -> dict[str, Any]:
    """One `TCenter`; raises NotFoundError "Center not found"."""
    rows = await db.fetch_rows(
        f'{_CENTER_COLUMNS} WHERE c."id" = $3', viewer.admin, viewer.center_id, center_id
    )
    if not rows:
        raise NotFoundError("Center not found")
    return center_json(rows[0])


# -- invitations -------------------------------------------------------------------------------


def invite_json(invite: CenterStaffInvite) -> dict[str, Any]:
    return {"email": invite.email, "token": invite.token, "expiresAt": invite.expires_at}


async def pending_invites(center_id: str) -> list[dict[str, Any]]:
    """Every unaccepted invite of the center, expired ones included, latest expiry first."""
    invites = (
        await CenterStaffInvite.filter(center_id=center_id, accepted_at__isnull=True)
        .order_by("-expires_at", "email")
        .all()
    )
    return [invite_json(invite) for invite in invites]


async def invite_staff(
    *, caller_center_id: str, center_id: str, emails: Sequence[str]
) -> list[dict[str, Any]]:
    """Invitations (and their e-mail jobs) for the caller's own center, in request order.

    Raises AccessDeniedError when `center_id` is another center (D-CEN-1), NotFoundError when
    the caller's center no longer exists, AlreadyExistsError for an address already on staff.
    """
    if center_id != caller_center_id:
        raise AccessDeniedError("You can only invite staff to your own center")
    center = await ServiceCenter.get_or_none(id=caller_center_id)
    if center is None:
        raise NotFoundError("Center not found")
    invites = await staff_accounts.invite_staff(
        center, emails, requested_by=Requester("center", center.id)
    )
    return [invite_json(invite) for invite in invites]


def _empty_validation() -> dict[str, Any]:
    return {
        "isValid": False,
        "centerName": "",
        "centerAddress": "",
        "email": "",
        "expiresAt": None,
        "isExpired": False,
    }


async def validate_invite(token: str) -> dict[str, Any]:
    """What the invitee's password page shows about an invite token (always an answer)."""
    invite = await CenterStaffInvite.get_or_none(token=token).select_related("center")
    if invite is None:
        return _empty_validation()
    expired = invite.accepted_at is None and is_expired(invite.expires_at)
    return {
        "isValid": invite.accepted_at is None and not expired,
        "centerName": invite.center.center_name,
        "centerAddress": invite.center.address,
        "email": invite.email,
        "expiresAt": invite.expires_at,
        "isExpired": expired,
    }


async def revoke_invite(*, center_id: str, token: str) -> dict[str, Any]:
    """Deletes a pending invite of the caller's center; raises NotFoundError "Invite not found"."""
    deleted = await CenterStaffInvite.filter(
        center_id=center_id, token=token, accepted_at__isnull=True
    ).delete()
    if not deleted:
        raise NotFoundError("Invite not found")
    return {"token": token, "revoked": True}


# -- staff -------------------------------------------------------------------------------------


async def set_staff_status(
    *, center_id: str, caller_staff_id: str | None, staff_id: str, status: StaffStatus
) -> dict[str, Any]:
    """Suspends or reactivates a staff member of the caller's center.

    Suspending also ends the member's sessions (their refresh tokens stop working). Raises
    NotFoundError "Staff not found" for another center's (or no) staff row, InvalidInputError for
    the owner row or the caller's own row.
    """
    async with in_transaction() as conn:
        staff = (
            await CenterStaff.filter(id=staff_id, center_id=center_id)
            .select_for_update()
            .using_db(conn)
            .first()
        )
        if staff is None:
            raise NotFoundError("Staff not found")
        center = await ServiceCenter.filter(id=center_id).using_db(conn).get()
        if staff.email.lower() == center.email.lower() or staff.id == caller_staff_id:
            raise InvalidInputError("You cannot change the status of this staff member")
        await CenterStaff.filter(id=staff.id).using_db(conn).update(status=status)
        if status == StaffStatus.SUSPENDED:
            await record_credential_change("staff", staff.id, using_db=conn)
    return {"staffId": staff.id, "status": status.value}
