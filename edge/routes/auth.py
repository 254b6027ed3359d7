"""Auth routes: /api/v1/auth (login, me, refresh, logout, password reset, e-mail verification)."""

from __future__ import annotations

import logging
from functools import partial

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.cookies import clear_refresh_cookie, refresh_cookie, set_refresh_cookie
from edge.auth.guards import requires_role
from edge.auth.login_answer import login_answer
from edge.auth.password_reset_routes import add_password_reset_routes
from edge.deps import principal_of, settings_of, throttle_of
from edge.envelope import ok, respond
from edge.errors import ApiError
from edge.openapi import cookie_secured, request_body
from edge.schemas.auth import (
    ForgotPasswordBody,
    LoginBody,
    ResendVerificationBody,
    ResetPasswordBody,
    VerifyEmailBody,
)
from edge.services import logins, recovery, sessions
from edge.services.errors import SessionRefusedError
from edge.validation import parse_body

log = logging.getLogger("zerocancer.edge.auth")

bp = Blueprint("auth", url_prefix="/auth")

#: `?actor=` values of user login; `admin` is refused like an unknown one (admins use /admin/login).
USER_ACTORS: dict[str, logins.UserActor] = {
    "patient": "patient",
    "donor": "donor",
    "center": "center",
}
INVALID_ACTOR = "Actor type is required and must be one of: patient, donor, center."


@bp.post("/login", name="login_user")
@request_body(LoginBody)
async def login_user(request: Request) -> HTTPResponse:
    """Log in as a patient, donor or center (`?actor=`); sets the refresh cookie."""
    # The body is validated before the query: with both invalid, the body error wins.
    body = parse_body(request, LoginBody, err_code="invalid_credentials")
    actor = USER_ACTORS.get(request.args.get("actor") or "")
    if actor is None:
        raise ApiError(INVALID_ACTOR, err_code="invalid_actor")
    return await login_answer(
        request,
        body.email,
        body.password,
        partial(logins.login_user, actor=actor),
        lambda user: {
            "userId": user.account_id,
            "fullName": user.full_name,
            "email": user.email,
            "profile": user.profile,
        },
    )


@bp.get("/me", name="get_current_user")
@requires_role()
async def get_current_user(request: Request) -> HTTPResponse:
    """The logged-in account (for center and staff tokens: the center)."""
    claims = principal_of(request).claims
    assert claims is not None
    return ok({"user": await sessions.current_account(claims)})


@bp.post("/refresh", name="refresh_token")
@cookie_secured
async def refresh_token(request: Request) -> HTTPResponse:
    """New access token from the `refreshToken` cookie; rotates the cookie.

    Every refusal is 403 (never 401: the web client refreshes on 401)."""
    settings = settings_of(request)
    try:
        tokens = await sessions.refresh(
            token=refresh_cookie(request),
            retry=bool(request.args.get("retry")),
            settings=settings,
        )
    except SessionRefusedError as exc:
        response = respond({"ok": False, "err_code": exc.code, "error": exc.message}, status=403)
        if exc.code == "invalid_refresh_token":
            clear_refresh_cookie(response, settings)
        return response
    response = ok({"token": tokens.access})
    set_refresh_cookie(response, settings, tokens.refresh)
    return response


@bp.post("/logout", name="logout")
@cookie_secured
async def logout(request: Request) -> HTTPResponse:
    """Revoke the refresh cookie's token and clear the cookie; always succeeds."""
    settings = settings_of(request)
    try:
        await sessions.logout(token=refresh_cookie(request), settings=settings)
    except Exception:
        # The cookie is cleared anyway; a failed revocation must not fail the logout.
        log.exception("logout: could not record the revocation")
    response = ok({"message": "Logged out successfully."})
    clear_refresh_cookie(response, settings)
    return response


add_password_reset_routes(
    bp,
    account=None,
    forgot_body=ForgotPasswordBody,
    send_reset_link=lambda body, throttle: recovery.forgot_password(body.email, throttle=throttle),
    forgot_summary="E-mail a password-reset link to a patient/donor account, if it exists.",
    reset_body=ResetPasswordBody,
    reset_password=lambda body: recovery.reset_password(body.token, body.password),
    reset_summary="Set a new password with a reset token; ends the account's other sessions.",
    with_messages=False,
)


@bp.post("/verify-email", name="verify_email")
@request_body(VerifyEmailBody)
async def verify_email(request: Request) -> HTTPResponse:
    """Mark a profile's e-mail verified with the e-mailed token."""
    body = parse_body(request, VerifyEmailBody)
    await recovery.verify_email(body.token)
    return ok({})


@bp.post("/resend-verification", name="resend_verification")
@request_body(ResendVerificationBody)
async def resend_verification(request: Request) -> HTTPResponse:
    """Send a new verification e-mail for a patient or donor profile."""
    body = parse_body(request, ResendVerificationBody)
    verified = await recovery.resend_verification(
        body.email, body.profile_type, throttle=throttle_of(request)
    )
    return ok({"message": "Already verified."} if verified else {})
