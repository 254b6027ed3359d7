"""Who acts for a center (§1 "Staff attribution", domain-model §6.3): the center and the
`CenterStaff` row recorded against what it does."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient

from edge.auth.guards import Principal
from models.centers import ServiceCenter
from models.staff import CenterStaff


@dataclass(frozen=True, slots=True)
class Acting:
    """The center caller: its center and, for staff logins, the staff id claim."""

    center_id: str
    staff_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Acting:
        return cls(center_id=principal.center_id or principal.id, staff_id=principal.staff_id)


async def acting_staff_id(
    *, center_id: str, staff_id: str | None, using_db: BaseDBAsyncClient | None = None
) -> str | None:
    """The `CenterStaff.id` to record: the token's `staffId` when that row exists at this center,
    else the center's owner staff row (same e-mail as the center), else None. Never a center id.
    """
    if staff_id:
        found = (
            await CenterStaff.filter(id=staff_id, center_id=center_id)
            .using_db(using_db)
            .values_list("id", flat=True)
        )
        if found:
            return str(found[0])
    center = await ServiceCenter.filter(id=center_id).using_db(using_db).first()
    if center is None:
        return None
    owner = (
        await CenterStaff.filter(center_id=center_id, email=center.email)
        .using_db(using_db)
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )
    return str(owner[0]) if owner else None
