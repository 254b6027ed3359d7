"""The role guard (auth.md 2.4) and the principal it puts on `request.ctx.principal`.

    @bp.post("/create", name="create_admin")
    @requires_role("admin")
    async def create_admin(request: Request) -> HTTPResponse:
        principal: Principal = request.ctx.principal

Steps, in order: the `Authorization` header must be present (401 `invalid_request`, "no
authorization included in request"), split on whitespace into exactly two parts (401
`invalid_request`, "invalid credentials structure"; the scheme word is not checked), and
verify as a non-refresh token (401 `invalid_token`, "token verification failure"). With roles,
the token's profile lower-cased must be one of them, else 403 "Forbidden: actor mismatch".
A missing or expired token is never 403, and a valid token of the wrong profile never 401:
the web client refreshes on 401.

Roles are the lower-cased profiles: `patient`, `donor`, `center` (profile CENTER: the center
owner, or staff whose role is admin), `center_staff` (other staff), `admin`. For both center
roles `Principal.id` and `center_id` are the center's id and `staff_id` is the staff row's id
when the token came from staff login. Put sanic-ext `openapi.*` decorators above this one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from sanic import Request
from sanic.response import HTTPResponse
from sanic_ext.extensions.openapi import openapi

from edge.auth.tokens import Claims, TokenError, decode_access
from edge.errors import ActorMismatch, NotAuthenticated
from edge.settings import EdgeSettings

ROLES = frozenset({"patient", "donor", "center", "center_staff", "admin"})
CENTER_ROLES = frozenset({"center", "center_staff"})

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[HTTPResponse]])


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: `kind` is a role (or `api_key`), `id` the token's `id` claim."""

    kind: str
    id: str
    center_id: str | None = None
    email: str = ""
    staff_id: str | None = None
    claims: Claims | None = None

    @classmethod
    def from_claims(cls, claims: Claims) -> Principal:
        kind = (claims.profile or "").lower()
        return cls(
            kind=kind,
            id=claims.id,
            center_id=claims.id if kind in CENTER_ROLES else None,
            email=claims.email,
            staff_id=claims.staff_id,
            claims=claims,
        )

    @property
    def profile(self) -> str:
        return self.kind.upper()


def bearer_token(request: Request) -> str:
    """The token of the `Authorization` header, or `NotAuthenticated` as the guard answers."""
    header: str | None = request.headers.get("authorization")
    if header is None:
        raise NotAuthenticated("no authorization included in request")
    parts = header.split()
    if len(parts) != 2:
        raise NotAuthenticated("invalid credentials structure")
    return parts[1]


def authenticate(request: Request) -> Principal:
    """The caller from a valid access token (sets `request.ctx.principal`), else 401."""
    settings: EdgeSettings = request.app.ctx.settings
    token = bearer_token(request)
    try:
        claims = decode_access(settings, token)
    except TokenError:
        raise NotAuthenticated("token verification failure", err_code="invalid_token") from None
    principal = Principal.from_claims(claims)
    request.ctx.principal = principal
    return principal


def optional_principal(request: Request) -> Principal | None:
    """No `Authorization` header: anonymous (None). A header that does not verify: 401, so
    the web client refreshes instead of silently getting the anonymous view (centers.md 1)."""
    if "authorization" not in request.headers:
        request.ctx.principal = None
        return None
    return authenticate(request)


def check_role(principal: Principal, roles: frozenset[str]) -> None:
    if roles and principal.kind not in roles:
        raise ActorMismatch()


def requires_role(*roles: str) -> Callable[[Handler], Handler]:
    """Handler decorator: a valid access token and, when roles are given, one of them."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; known: {sorted(ROLES)}")
    allowed = frozenset(roles)

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            check_role(authenticate(request), allowed)
            return await handler(request, *args, **kwargs)

        return cast(Handler, openapi.secured("bearer")(guarded))

    return decorate
