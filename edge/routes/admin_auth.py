"""Admin account routes: /api/v1/admin (login, forgot-password, reset-password, create); the
rest of /admin is in the admin routes."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.guards import requires_role
from edge.auth.login_answer import login_answer
from edge.auth.password_reset_routes import add_password_reset_routes
from edge.envelope import ok
from edge.openapi import request_body
from edge.schemas.auth import (
    AdminCreateBody,
    AdminForgotPasswordBody,
    AdminLoginBody,
    AdminResetPasswordBody,
)
from edge.services import admin_accounts, logins
from edge.validation import parse_body

bp = Blueprint("admin_auth", url_prefix="/admin")


@bp.post("/login", name="login_admin")
@request_body(AdminLoginBody)
async def login_admin(request: Request) -> HTTPResponse:
    """Log in as an admin (8-hour access token); sets the refresh cookie."""
    body = parse_body(request, AdminLoginBody)
    return await login_answer(
        request,
        body.email,
        body.password,
        logins.login_admin,
        lambda admin: {
            "userId": admin.account_id,
            "email": admin.email,
            "fullName": admin.full_name,
            "profile": admin.profile,
        },
        refused_status=401,
    )


add_password_reset_routes(
    bp,
    account="admin",
    forgot_body=AdminForgotPasswordBody,
    send_reset_link=lambda body, throttle: admin_accounts.forgot_admin_password(
        body.email, throttle=throttle
    ),
    forgot_summary="E-mail an admin password-reset link, if an admin has that address.",
    reset_body=AdminResetPasswordBody,
    reset_password=lambda body: admin_accounts.reset_admin_password(body.token, body.password),
    reset_summary="Set a new admin password with a reset token; ends the admin's other sessions.",
)


@bp.post("/create", name="create_admin")
@request_body(AdminCreateBody)
@requires_role("admin")
async def create_admin(request: Request) -> HTTPResponse:
    """Create another admin account."""
    body = parse_body(request, AdminCreateBody)
    admin = await admin_accounts.create_admin(
        full_name=body.full_name, email=body.email, password=body.password
    )
    return ok({"adminId": admin.id, "email": admin.email, "fullName": admin.full_name})
