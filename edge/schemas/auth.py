"""Request models of /api/v1/auth, /center/staff and /admin account routes (auth.md 3, 5, 6)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from edge.validation import EmailStr, Msg, Schema
from models.enums import ProfileType

PASSWORD8_MESSAGE = "Password must be at least 8 characters"

Password8 = Annotated[str, Field(min_length=8), Msg(PASSWORD8_MESSAGE)]
Token10 = Annotated[str, Field(min_length=10)]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


# -- /auth ---------------------------------------------------------------------------------------


class LoginBody(Schema):
    email: Annotated[EmailStr, Msg("Please enter a valid email address.")]
    password: Annotated[str, Field(min_length=6), Msg("Password is required.")]


class ForgotPasswordBody(Schema):
    email: EmailStr


class ResetPasswordBody(Schema):
    token: str
    password: Annotated[str, Field(min_length=6), Msg("Password must be at least 6 characters.")]


class VerifyEmailBody(Schema):
    token: str


class ResendVerificationBody(Schema):
    email: EmailStr
    # Compared case-insensitively: the login form sends "patient"/"donor" (D-AUTH-8).
    profile_type: Annotated[ProfileType, BeforeValidator(_upper)]


# -- /center/staff -------------------------------------------------------------------------------


class StaffCreatePasswordBody(Schema):
    token: Token10
    password: Password8


class StaffForgotPasswordBody(Schema):
    center_id: Annotated[str, Field(min_length=1)]
    email: EmailStr


class StaffResetPasswordBody(Schema):
    token: Token10
    password: Password8


class StaffLoginBody(Schema):
    center_id: Annotated[str, Field(min_length=1)]
    email: EmailStr
    password: Password8


# -- /admin --------------------------------------------------------------------------------------

AdminEmail = Annotated[EmailStr, Msg("Please enter a valid email address")]


class AdminLoginBody(Schema):
    email: AdminEmail
    password: Password8


class AdminForgotPasswordBody(Schema):
    email: AdminEmail


class AdminResetPasswordBody(Schema):
    token: Token10
    password: Password8


class AdminCreateBody(Schema):
    full_name: Annotated[str, Field(min_length=1), Msg("Full name is required")]
    email: AdminEmail
    password: Password8
