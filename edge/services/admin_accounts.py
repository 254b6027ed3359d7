"""Admin accounts: password reset and creation (auth.md 6.2-6.4, 2.8)."""

from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from edge.auth.passwords import hash_password
from edge.auth.throttle import ACCOUNT_EMAILS, Throttle
from edge.services import emails
from edge.services.accounts import (
    ADMIN_RESET_TTL,
    ADMIN_TOKEN_BYTES,
    find_by_email,
    is_expired,
    mail_reset_token,
    normalise_email,
)
from edge.services.errors import AlreadyExistsError, InvalidInputError
from edge.services.sessions import record_credential_change
from models.tokens import AdminResetToken
from models.users import Admins

log = logging.getLogger("zerocancer.edge.accounts")

ADMIN_EXISTS = "Admin with this email already exists"


async def forgot_admin_password(email: str, *, throttle: Throttle) -> None:
    """A 1-hour, 24-hex reset token and its e-mail when an admin has this address."""
    admin = await find_by_email(Admins, email)
    if admin is None:
        return
    if not await throttle.allow(ACCOUNT_EMAILS, "admin-reset", admin.id):
        log.info("admin reset e-mail limit reached", extra={"admin_id": admin.id})
        return
    await mail_reset_token(
        AdminResetToken,
        {"admin_id": admin.id},
        address=admin.email,
        template=emails.ADMIN_PASSWORD_RESET,
        ttl=ADMIN_RESET_TTL,
        nbytes=ADMIN_TOKEN_BYTES,
    )


async def reset_admin_password(token: str, password: str) -> None:
    """Sets the admin's password, deletes their reset tokens, ends their sessions."""
    password_hash = await hash_password(password)
    async with in_transaction() as conn:
        row = await AdminResetToken.filter(token=token).select_for_update().using_db(conn).first()
        if row is None or is_expired(row.expires_at):
            raise InvalidInputError("Invalid or expired reset token")
        await Admins.filter(id=row.admin_id).using_db(conn).update(password_hash=password_hash)
        await AdminResetToken.filter(admin_id=row.admin_id).using_db(conn).delete()
        await record_credential_change("admin", row.admin_id, using_db=conn)


async def create_admin(*, full_name: str, email: str, password: str) -> Admins:
    """A new admin (also used by `zerocancer admin create`). Raises AlreadyExistsError."""
    if await find_by_email(Admins, email) is not None:
        raise AlreadyExistsError(ADMIN_EXISTS)
    password_hash = await hash_password(password)
    try:
        return await Admins.create(
            full_name=full_name, email=normalise_email(email), password_hash=password_hash
        )
    except IntegrityError:
        raise AlreadyExistsError(ADMIN_EXISTS) from None
