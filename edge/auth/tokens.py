"""Access and refresh JWTs exactly as auth.md 2.1 (HS256, reference claims plus additive ones).

Claims: `id`, `email`, `profile`, `exp` (reference) and, new, `typ` (`access`/`refresh`),
`iat`, `jti` (refresh tokens, 128-bit hex) and `staffId` (staff logins and their refreshes).
A token without `typ` (issued by the reference before cut-over) passes as either kind until it
expires. Verification: signature, `exp <= now` expired, `nbf`/`iat` in the future invalid, no
leeway; `JWT_TOKEN_SECRET_PREVIOUS` is tried when the current secret does not match (rotation).

Revocation (refresh tokens only, in `edge.services.sessions`): logout records the `jti`; a
password reset or a staff suspension records a credential change for the subject, and refresh
tokens issued before it stop working.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from edge.settings import EdgeSettings

ALGORITHM = "HS256"

Profile = Literal["PATIENT", "DONOR", "CENTER", "CENTER_STAFF", "ADMIN"]
PROFILES: tuple[str, ...] = ("PATIENT", "DONOR", "CENTER", "CENTER_STAFF", "ADMIN")
TokenType = Literal["access", "refresh"]


class TokenError(Exception):
    """The token does not verify (signature, expiry, format)."""


@dataclass(frozen=True, slots=True)
class Claims:
    id: str
    email: str
    profile: str | None
    exp: int
    typ: str | None = None
    iat: int | None = None
    jti: str | None = None
    staff_id: str | None = None

    @property
    def subject_type(self) -> str:
        """`auth_credential_changes.subject_type` of the token's subject (auth.md 2.1)."""
        if self.staff_id is not None:
            return "staff"
        if self.profile in ("CENTER", "CENTER_STAFF"):
            return "center"
        if self.profile == "ADMIN":
            return "admin"
        return "user"

    @property
    def subject_id(self) -> str:
        return self.staff_id if self.staff_id is not None else self.id

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "email": self.email}
        if self.profile is not None:
            body["profile"] = self.profile
        if self.staff_id is not None:
            body["staffId"] = self.staff_id
        if self.typ is not None:
            body["typ"] = self.typ
        if self.iat is not None:
            body["iat"] = self.iat
        body["exp"] = self.exp
        if self.jti is not None:
            body["jti"] = self.jti
        return body


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access: str
    refresh: str
    access_claims: Claims
    refresh_claims: Claims


def encode(settings: EdgeSettings, claims: Claims) -> str:
    return jwt.encode(claims.payload(), settings.jwt_token_secret, algorithm=ALGORITHM)


def new_jti() -> str:
    return secrets.token_hex(16)


def issue_tokens(
    settings: EdgeSettings,
    *,
    id: str,
    email: str,
    profile: str,
    staff_id: str | None = None,
    access_ttl: int | None = None,
    now: int | None = None,
) -> IssuedTokens:
    """A new access token (`access_ttl`, default 300 s) and refresh token (7 days)."""
    issued_at = int(time.time()) if now is None else now
    ttl = settings.access_token_ttl if access_ttl is None else access_ttl
    access = Claims(
        id=id,
        email=email,
        profile=profile,
        staff_id=staff_id,
        typ="access",
        iat=issued_at,
        exp=issued_at + ttl,
    )
    refresh = Claims(
        id=id,
        email=email,
        profile=profile,
        staff_id=staff_id,
        typ="refresh",
        iat=issued_at,
        exp=issued_at + settings.refresh_token_ttl,
        jti=new_jti(),
    )
    return IssuedTokens(encode(settings, access), encode(settings, refresh), access, refresh)


def _decode_with(token: str, secret: str) -> dict[str, Any]:
    payload: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        leeway=0,
        options={"require": ["exp"], "verify_aud": False, "verify_iss": False},
    )
    return payload


def _optional_str(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TokenError(f"claim {key} is not a string")
    return value


def decode(settings: EdgeSettings, token: str) -> Claims:
    """Verified claims, or `TokenError`."""
    secrets_to_try = [settings.jwt_token_secret]
    if settings.jwt_token_secret_previous:
        secrets_to_try.append(settings.jwt_token_secret_previous)
    payload: dict[str, Any] | None = None
    for secret in secrets_to_try:
        try:
            payload = _decode_with(token, secret)
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None
    if payload is None:
        raise TokenError("signature verification failed")
    subject = payload.get("id")
    if not isinstance(subject, str | int) or subject == "":
        raise TokenError("claim id is missing")
    typ = _optional_str(payload, "typ")
    if typ not in (None, "access", "refresh"):
        raise TokenError("claim typ is unknown")
    iat = payload.get("iat")
    return Claims(
        id=str(subject),
        email=_optional_str(payload, "email") or "",
        profile=_optional_str(payload, "profile"),
        exp=int(payload["exp"]),
        typ=typ,
        iat=int(iat) if isinstance(iat, int | float) else None,
        jti=_optional_str(payload, "jti"),
        staff_id=_optional_str(payload, "staffId"),
    )


def decode_access(settings: EdgeSettings, token: str) -> Claims:
    """Claims of a token usable on access-protected routes (not a refresh token)."""
    claims = decode(settings, token)
    if claims.typ == "refresh":
        raise TokenError("a refresh token cannot be used as an access token")
    return claims


def decode_refresh(settings: EdgeSettings, token: str) -> Claims:
    """Claims of a token usable at `/auth/refresh` (not an access token)."""
    claims = decode(settings, token)
    if claims.typ == "access":
        raise TokenError("an access token cannot be used as a refresh token")
    return claims
