"""Center staff account routes: /api/v1/center/staff (create-new-password, forgot-password,
reset-password, login); the rest of /center is in the centers routes."""

from __future__ import annotations

from functools import partial

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.login_answer import login_answer
from edge.auth.password_reset_routes import add_password_reset_routes
from edge.envelope import ok
from edge.openapi import request_body
from edge.schemas.auth import (
    StaffCreatePasswordBody,
    StaffForgotPasswordBody,
    StaffLoginBody,
    StaffResetPasswordBody,
)
from edge.services import logins, staff_accounts
from edge.validation import parse_body

bp = Blueprint("center_staff_auth", url_prefix="/center/staff")


@bp.post("/create-new-password", name="create_staff_password")
@request_body(StaffCreatePasswordBody)
async def create_staff_password(request: Request) -> HTTPResponse:
    """Accept a staff invitation by setting a password (creates the staff account)."""
    body = parse_body(request, StaffCreatePasswordBody)
    staff = await staff_accounts.accept_invite(body.token, body.password)
    return ok({"staffId": staff.id})


add_password_reset_routes(
    bp,
    account="staff",
    forgot_body=StaffForgotPasswordBody,
    send_reset_link=lambda body, throttle: staff_accounts.forgot_staff_password(
        body.center_id, body.email, throttle=throttle
    ),
    forgot_summary="E-mail a staff password-reset link, if that staff member exists.",
    reset_body=StaffResetPasswordBody,
    reset_password=lambda body: staff_accounts.reset_staff_password(body.token, body.password),
    reset_summary=(
        "Set a new staff password with a reset token (the owner's also resets the center's)."
    ),
)


@bp.post("/login", name="login_staff")
@request_body(StaffLoginBody)
async def login_staff(request: Request) -> HTTPResponse:
    """Log in as center staff (profile CENTER for the center's admins); sets the refresh cookie."""
    body = parse_body(request, StaffLoginBody)
    return await login_answer(
        request,
        body.email,
        body.password,
        partial(logins.login_staff, center_id=body.center_id),
        lambda staff: {
            "userId": staff.account_id,
            "email": staff.email,
            "profile": staff.profile,
            "centerId": staff.center_id,
        },
        refused_status=401,  # kept for compatibility with the reference (D-AUTH-11)
    )
