"""Sessions: refresh (auth.md 3.3), logout revocation (3.4), credential changes, `me` (3.2).

Access tokens stay stateless (5 minutes). Refresh tokens are checked against two tables:
`token_revocations` (a `jti` revoked by logout) and `auth_credential_changes` (a password
reset or a suspension of the subject: refresh tokens issued before it stop working).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from edge.auth.tokens import Claims, IssuedTokens, TokenError, decode_refresh, issue_tokens
from edge.services.errors import NotFoundError, SessionRefusedError
from edge.settings import EdgeSettings
from models.auth import CredentialChange, TokenRevocation
from models.base import utc_now_aware
from models.centers import ServiceCenter
from models.enums import StaffStatus
from models.staff import CenterStaff
from models.users import Admins, User

_REVOKE_SQL = (
    f'INSERT INTO "{TokenRevocation._meta.db_table}" (jti, expires_at, revoked_at) '
    "VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING"
)
_CREDENTIAL_CHANGE_SQL = (
    f'INSERT INTO "{CredentialChange._meta.db_table}" (subject_type, subject_id, changed_at) '
    "VALUES ($1, $2, $3) ON CONFLICT (subject_type, subject_id) "
    "DO UPDATE SET changed_at = EXCLUDED.changed_at"
)


def _db(using_db: BaseDBAsyncClient | None) -> BaseDBAsyncClient:
    return using_db if using_db is not None else connections.get("default")


async def record_credential_change(
    subject_type: str, subject_id: str, *, using_db: BaseDBAsyncClient | None = None
) -> None:
    """Ends the subject's existing sessions: refresh tokens issued before now stop working.
    `subject_type` is `user`, `center`, `staff` or `admin` (auth.md 2.1)."""
    await _db(using_db).execute_query(
        _CREDENTIAL_CHANGE_SQL, [subject_type, subject_id, utc_now_aware()]
    )


async def revoke(claims: Claims, *, using_db: BaseDBAsyncClient | None = None) -> None:
    """Records the refresh token's `jti` as revoked until it would have expired anyway."""
    if claims.jti is None:
        return
    expires_at = dt.datetime.fromtimestamp(claims.exp, dt.UTC)
    await _db(using_db).execute_query(_REVOKE_SQL, [claims.jti, expires_at, utc_now_aware()])


async def _usable(claims: Claims) -> bool:
    if claims.jti is not None and await TokenRevocation.exists(jti=claims.jti):
        return False
    change = await CredentialChange.get_or_none(
        subject_type=claims.subject_type, subject_id=claims.subject_id
    )
    if change is not None:
        cut_off = math.floor(change.changed_at.timestamp())
        if claims.iat is None or claims.iat < cut_off:
            return False
    return await _subject_exists(claims)


async def _subject_exists(claims: Claims) -> bool:
    if claims.staff_id is not None:
        staff = await CenterStaff.get_or_none(id=claims.staff_id, center_id=claims.id)
        return staff is not None and staff.status != StaffStatus.SUSPENDED
    if claims.profile in ("CENTER", "CENTER_STAFF"):
        return await ServiceCenter.exists(id=claims.id)
    if claims.profile == "ADMIN":
        return await Admins.exists(id=claims.id)
    return await User.exists(id=claims.id)


async def refresh(*, token: str | None, retry: bool, settings: EdgeSettings) -> IssuedTokens:
    """New access (300 s for every profile) and refresh tokens copying `id`, `email`,
    `profile` and `staffId`. Raises SessionRefusedError with the contract's code, in order:
    `missing_refresh_token`, `no_session` (client retry), `invalid_refresh_token`."""
    if token is None:
        raise SessionRefusedError("No refresh token provided.", code="missing_refresh_token")
    if retry:
        raise SessionRefusedError("No session found", code="no_session")
    try:
        claims = decode_refresh(settings, token)
    except TokenError:
        raise SessionRefusedError() from None
    if not await _usable(claims):
        raise SessionRefusedError()
    return issue_tokens(
        settings,
        id=claims.id,
        email=claims.email,
        profile=claims.profile or "",
        staff_id=claims.staff_id,
    )


async def logout(*, token: str | None, settings: EdgeSettings) -> None:
    """Revokes the presented refresh token when it verifies; never fails for a bad token."""
    if token is None:
        return
    try:
        claims = decode_refresh(settings, token)
    except TokenError:
        return
    await revoke(claims)


async def current_account(claims: Claims) -> dict[str, Any]:
    """`GET /auth/me`'s user: the admin, the center (also for staff tokens) or the user."""
    profile = claims.profile or ""
    if profile == "ADMIN":
        admin = await Admins.get_or_none(id=claims.id)
        if admin is None:
            raise NotFoundError("Admin not found")
        name, email = admin.full_name, admin.email
    elif profile in ("CENTER", "CENTER_STAFF"):
        center = await ServiceCenter.get_or_none(id=claims.id)
        if center is None:
            raise NotFoundError("Center not found")
        name, email = center.center_name, center.email
    else:
        user = await User.get_or_none(id=claims.id)
        if user is None:
            raise NotFoundError("User not found")
        name, email = user.full_name, user.email
    return {"id": claims.id, "fullName": name, "email": email, "profile": claims.profile}
