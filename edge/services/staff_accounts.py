"""Center staff accounts: invitations, accepting one, password reset (auth.md 5, centers.md 3.4).

Staff e-mails are unique per center. A staff reset of the owner row (staff e-mail equal to the
center's e-mail) also sets the center's own password, the only way to change it (D-DM-9).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from actors.contracts.outbox import Requester
from edge.auth.passwords import hash_password
from edge.auth.throttle import ACCOUNT_EMAILS, Throttle
from edge.services import emails
from edge.services.accounts import (
    STAFF_INVITE_TTL,
    STAFF_RESET_TTL,
    expires_in,
    find_by_email,
    is_expired,
    mail_reset_token,
    normalise_email,
    one_time_token,
)
from edge.services.errors import AlreadyExistsError, InvalidInputError
from edge.services.sessions import record_credential_change
from models.base import utc_now
from models.centers import ServiceCenter
from models.enums import StaffStatus
from models.staff import CenterStaff, CenterStaffInvite
from models.tokens import CenterStaffResetToken

log = logging.getLogger("zerocancer.edge.accounts")


async def invite_staff(
    center: ServiceCenter, addresses: Sequence[str], *, requested_by: Requester
) -> list[CenterStaffInvite]:
    """One 7-day invite and its e-mail per address (trimmed, lower-cased, de-duplicated), in
    one transaction; pending invites of the same address are replaced. Raises
    AlreadyExistsError "<email> is already a staff member of this center" (nothing created)."""
    wanted = list(dict.fromkeys(normalise_email(address) for address in addresses))
    async with in_transaction() as conn:
        for address in wanted:
            if await find_by_email(CenterStaff, address, using_db=conn, center_id=center.id):
                raise AlreadyExistsError(f"{address} is already a staff member of this center")
        invites = []
        for address in wanted:
            await (
                CenterStaffInvite.filter(
                    center_id=center.id, email=address, accepted_at__isnull=True
                )
                .using_db(conn)
                .delete()
            )
            invite = await CenterStaffInvite.create(
                center_id=center.id,
                email=address,
                token=one_time_token(),
                expires_at=expires_in(STAFF_INVITE_TTL),
                using_db=conn,
            )
            await emails.send_email(
                emails.STAFF_INVITE,
                address,
                {"token": invite.token, "center_name": center.center_name},
                using_db=conn,
                requested_by=requested_by,
            )
            invites.append(invite)
    return invites


async def accept_invite(token: str, password: str) -> CenterStaff:
    """Creates the staff account of a pending invite and marks it accepted, atomically.
    Raises InvalidInputError "Invalid or expired invite token" or AlreadyExistsError."""
    password_hash = await hash_password(password)
    try:
        async with in_transaction() as conn:
            invite = (
                await CenterStaffInvite.filter(token=token)
                .select_for_update()
                .using_db(conn)
                .first()
            )
            if invite is None or invite.accepted_at is not None or is_expired(invite.expires_at):
                raise InvalidInputError("Invalid or expired invite token")
            existing = await find_by_email(
                CenterStaff, invite.email, using_db=conn, center_id=invite.center_id
            )
            if existing is not None:
                raise AlreadyExistsError("Staff account already exists for this email")
            staff = await CenterStaff.create(
                center_id=invite.center_id,
                email=normalise_email(invite.email),
                password_hash=password_hash,
                role=None,
                status=StaffStatus.ACTIVE,
                using_db=conn,
            )
            invite.accepted_at = utc_now()
            await invite.save(using_db=conn, update_fields=["accepted_at"])
    except IntegrityError:
        raise AlreadyExistsError("Staff account already exists for this email") from None
    return staff


async def forgot_staff_password(center_id: str, email: str, *, throttle: Throttle) -> None:
    """A 1-hour reset token and its e-mail when that staff member exists; else nothing."""
    staff = await find_by_email(CenterStaff, email, center_id=center_id)
    if staff is None:
        return
    if not await throttle.allow(ACCOUNT_EMAILS, "staff-reset", staff.id):
        log.info("staff reset e-mail limit reached", extra={"staff_id": staff.id})
        return
    await mail_reset_token(
        CenterStaffResetToken,
        {"staff_id": staff.id},
        address=staff.email,
        template=emails.STAFF_PASSWORD_RESET,
        ttl=STAFF_RESET_TTL,
    )


@dataclass(frozen=True, slots=True)
class StaffReset:
    staff_id: str
    owner: bool


async def reset_staff_password(token: str, password: str) -> StaffReset:
    """Sets the staff password (and the center's for the owner row), deletes the staff
    member's reset tokens and ends their sessions. Raises InvalidInputError."""
    password_hash = await hash_password(password)
    async with in_transaction() as conn:
        row = (
            await CenterStaffResetToken.filter(token=token)
            .select_for_update()
            .using_db(conn)
            .first()
        )
        if row is None or is_expired(row.expires_at):
            raise InvalidInputError("Invalid or expired reset token")
        staff = await CenterStaff.filter(id=row.staff_id).using_db(conn).get()
        await CenterStaff.filter(id=staff.id).using_db(conn).update(password_hash=password_hash)
        await CenterStaffResetToken.filter(staff_id=staff.id).using_db(conn).delete()
        await record_credential_change("staff", staff.id, using_db=conn)
        center = await ServiceCenter.filter(id=staff.center_id).using_db(conn).first()
        owner = center is not None and center.email.lower() == staff.email.lower()
        if owner:
            await (
                ServiceCenter.filter(id=staff.center_id)
                .using_db(conn)
                .update(password_hash=password_hash)
            )
            await record_credential_change("center", staff.center_id, using_db=conn)
    return StaffReset(staff.id, owner)
