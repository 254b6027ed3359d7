"""Logins: patient/donor/center (auth.md 3.1), center staff (5.4) and admin (6.1).

Every login:
- is throttled per (client IP, lower-cased e-mail): 10 failures in 15 minutes lock further
  attempts out until the window frees up; a success resets the count;
- verifies the password even when the account does not exist (dummy hash, D-AUTH-5);
- answers the same refusal for an unknown account and a wrong password (D-AUTH-4), and checks
  e-mail verification only after a correct password, for the profile being used only.
"""

from __future__ import annotations

from typing import Literal

from edge.auth.passwords import verify_password
from edge.auth.throttle import LOGIN_FAILURES, Throttle
from edge.auth.tokens import issue_tokens
from edge.services.accounts import SignedIn, find_by_email
from edge.services.errors import (
    AccountSuspendedError,
    EmailNotVerifiedError,
    InvalidCredentialsError,
    RateLimitedError,
)
from edge.settings import EdgeSettings
from models.centers import ServiceCenter
from models.enums import StaffStatus
from models.staff import CenterStaff
from models.users import Admins, DonorProfile, PatientProfile, User

UserActor = Literal["patient", "donor", "center"]


async def _check_throttle(throttle: Throttle, client_ip: str, email: str) -> None:
    retry_after = await throttle.retry_after(LOGIN_FAILURES, client_ip, email.strip().lower())
    if retry_after is not None:
        raise RateLimitedError(retry_after=retry_after)


async def _failed(throttle: Throttle, client_ip: str, email: str) -> None:
    await throttle.hit(LOGIN_FAILURES, client_ip, email.strip().lower())


async def _succeeded(throttle: Throttle, client_ip: str, email: str) -> None:
    await throttle.reset(LOGIN_FAILURES, client_ip, email.strip().lower())


async def login_user(
    *,
    actor: UserActor,
    email: str,
    password: str,
    client_ip: str,
    settings: EdgeSettings,
    throttle: Throttle,
) -> SignedIn:
    """`POST /auth/login?actor=`. Raises InvalidCredentialsError (400 `invalid_credentials`),
    EmailNotVerifiedError (403) or RateLimitedError (429)."""
    await _check_throttle(throttle, client_ip, email)
    if actor == "center":
        center = await find_by_email(ServiceCenter, email)
        if not await verify_password(password, center.password_hash if center else None):
            await _failed(throttle, client_ip, email)
            raise InvalidCredentialsError(
                "Invalid center email or password.", code="invalid_credentials"
            )
        assert center is not None
        await _succeeded(throttle, client_ip, email)
        tokens = issue_tokens(settings, id=center.id, email=center.email, profile="CENTER")
        return SignedIn(center.id, center.email, center.center_name, "CENTER", tokens, center.id)

    refused = InvalidCredentialsError(
        f"Invalid {actor} email or password.", code="invalid_credentials"
    )
    user = await find_by_email(User, email)
    if not await verify_password(password, user.password_hash if user else None):
        await _failed(throttle, client_ip, email)
        raise refused
    assert user is not None
    profile_model = PatientProfile if actor == "patient" else DonorProfile
    profile = await profile_model.get_or_none(user_id=user.id)
    if profile is None:
        await _failed(throttle, client_ip, email)
        raise refused
    if profile.email_verified is None:
        raise EmailNotVerifiedError()
    await _succeeded(throttle, client_ip, email)
    tokens = issue_tokens(settings, id=user.id, email=user.email, profile=actor.upper())
    return SignedIn(user.id, user.email, user.full_name, actor.upper(), tokens)


def staff_profile(role: str | None) -> str:
    """CENTER when the staff role is the administrator role (case-insensitive, D-DM-5)."""
    return "CENTER" if (role or "").strip().lower() == "admin" else "CENTER_STAFF"


async def login_staff(
    *,
    center_id: str,
    email: str,
    password: str,
    client_ip: str,
    settings: EdgeSettings,
    throttle: Throttle,
) -> SignedIn:
    """`POST /center/staff/login`. Raises InvalidCredentialsError (the route answers 401),
    AccountSuspendedError (403) or RateLimitedError (429). The center's status is not checked."""
    await _check_throttle(throttle, client_ip, email)
    staff = await find_by_email(CenterStaff, email, center_id=center_id)
    if not await verify_password(password, staff.password_hash if staff else None):
        await _failed(throttle, client_ip, email)
        raise InvalidCredentialsError("Invalid credentials")
    assert staff is not None
    if staff.status == StaffStatus.SUSPENDED:
        raise AccountSuspendedError("Staff account suspended")
    await _succeeded(throttle, client_ip, email)
    profile = staff_profile(staff.role)
    tokens = issue_tokens(
        settings, id=staff.center_id, email=staff.email, profile=profile, staff_id=staff.id
    )
    return SignedIn(staff.id, staff.email, None, profile, tokens, center_id=staff.center_id)


async def login_admin(
    *,
    email: str,
    password: str,
    client_ip: str,
    settings: EdgeSettings,
    throttle: Throttle,
) -> SignedIn:
    """`POST /admin/login` (8-hour access token). Raises InvalidCredentialsError (the route
    answers 401) or RateLimitedError (429)."""
    await _check_throttle(throttle, client_ip, email)
    admin = await find_by_email(Admins, email)
    if not await verify_password(password, admin.password_hash if admin else None):
        await _failed(throttle, client_ip, email)
        raise InvalidCredentialsError("Invalid credentials")
    assert admin is not None
    await _succeeded(throttle, client_ip, email)
    tokens = issue_tokens(
        settings,
        id=admin.id,
        email=admin.email,
        profile="ADMIN",
        access_ttl=settings.admin_access_token_ttl,
    )
    return SignedIn(admin.id, admin.email, admin.full_name, "ADMIN", tokens)
