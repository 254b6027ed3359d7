"""Patient/donor account recovery: password reset and e-mail verification (auth.md 3.5-3.8).

None of these reveal whether an account exists: unknown e-mails get the same answer, and
beyond 5 e-mails per account per hour the answer is unchanged but nothing is sent.
"""

from __future__ import annotations

import logging

from tortoise.transactions import in_transaction

from edge.auth.passwords import hash_password
from edge.auth.throttle import ACCOUNT_EMAILS, Throttle
from edge.services import emails
from edge.services.accounts import (
    USER_RESET_TTL,
    find_by_email,
    is_expired,
    mail_reset_token,
)
from edge.services.errors import InvalidInputError
from edge.services.registration import send_verification
from edge.services.sessions import record_credential_change
from models.base import utc_now
from models.enums import ProfileType
from models.tokens import EmailVerificationToken, PasswordResetToken
from models.users import DonorProfile, PatientProfile, User

log = logging.getLogger("zerocancer.edge.accounts")

INVALID_TOKEN = "Invalid or expired token."  # noqa: S105 - a message


async def forgot_password(email: str, *, throttle: Throttle) -> None:
    """A 30-minute reset token and its e-mail when a user has this address; else nothing."""
    user = await find_by_email(User, email)
    if user is None:
        return
    if not await throttle.allow(ACCOUNT_EMAILS, "user-reset", user.id):
        log.info("reset e-mail limit reached", extra={"user_id": user.id})
        return
    await mail_reset_token(
        PasswordResetToken,
        {"user_id": user.id},
        address=user.email,
        template=emails.PASSWORD_RESET,
        ttl=USER_RESET_TTL,
    )


async def reset_password(token: str, password: str) -> None:
    """Sets the user's password, deletes all their reset tokens and ends their sessions.
    Raises InvalidInputError "Invalid or expired token." (400)."""
    password_hash = await hash_password(password)
    async with in_transaction() as conn:
        row = (
            await PasswordResetToken.filter(token=token).select_for_update().using_db(conn).first()
        )
        if row is None or is_expired(row.expires_at):
            raise InvalidInputError(INVALID_TOKEN)
        await User.filter(id=row.user_id).using_db(conn).update(password_hash=password_hash)
        await PasswordResetToken.filter(user_id=row.user_id).using_db(conn).delete()
        await record_credential_change("user", row.user_id, using_db=conn)


async def verify_email(token: str) -> None:
    """Marks the token's profile verified (kept if already set) and deletes the token.
    Raises InvalidInputError for a missing/expired token or a profile the user no longer has."""
    async with in_transaction() as conn:
        row = (
            await EmailVerificationToken.filter(token=token)
            .select_for_update()
            .using_db(conn)
            .first()
        )
        if row is None or is_expired(row.expires_at):
            raise InvalidInputError(INVALID_TOKEN)
        model = PatientProfile if row.profile_type == ProfileType.PATIENT else DonorProfile
        profile = await model.filter(user_id=row.user_id).using_db(conn).first()
        if profile is None:
            raise InvalidInputError("Invalid profile type for email verification.")
        if profile.email_verified is None:
            await model.filter(id=profile.id).using_db(conn).update(email_verified=utc_now())
        await row.delete(using_db=conn)


async def resend_verification(email: str, profile_type: ProfileType, *, throttle: Throttle) -> bool:
    """Sends a new verification e-mail when there is something to verify. Returns True when
    the profile is already verified (the answer then says so), else False."""
    user = await find_by_email(User, email)
    if user is None:
        return False
    model = PatientProfile if profile_type == ProfileType.PATIENT else DonorProfile
    profile = await model.get_or_none(user_id=user.id)
    if profile is None:
        return False
    if profile.email_verified is not None:
        return True
    if not await throttle.allow(ACCOUNT_EMAILS, "verify", user.id):
        log.info("verification e-mail limit reached", extra={"user_id": user.id})
        return False
    async with in_transaction() as conn:
        await send_verification(
            user, profile_type, using_db=conn, template=emails.RESEND_VERIFICATION
        )
    return False
