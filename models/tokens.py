"""One-time tokens (spec/domain-model.md §5.9) for users, admins and center staff."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from models.base import CreatedAtModel, ProductionModel
from models.enums import ProfileType
from models.fields import PgEnumField, TextColumn, Timestamp3Field

if TYPE_CHECKING:
    from models.staff import CenterStaff
    from models.users import Admins, User


class PasswordResetToken(ProductionModel):
    """Password reset for a ``User`` (patient or donor); 64 hex chars, 30 minutes."""

    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="password_reset_tokens",
        source_field="userId",
        on_delete=fields.CASCADE,
    )
    user_id: str
    token = TextColumn(unique=True)
    expires_at = Timestamp3Field(source_field="expiresAt")

    class Meta:
        table = "PasswordResetToken"


class EmailVerificationToken(ProductionModel):
    """Verifies one profile (``profile_type``) of a ``User``; 64 hex chars, 24 hours."""

    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="email_verification_tokens",
        source_field="userId",
        on_delete=fields.CASCADE,
    )
    user_id: str
    token = TextColumn(unique=True)
    profile_type = PgEnumField(ProfileType, source_field="profileType")
    expires_at = Timestamp3Field(source_field="expiresAt")

    class Meta:
        table = "EmailVerificationToken"


class AdminResetToken(CreatedAtModel):
    """Password reset for an ``Admins`` row; 24 hex chars, 1 hour."""

    admin: fields.ForeignKeyRelation[Admins] = fields.ForeignKeyField(
        "models.Admins",
        related_name="reset_tokens",
        source_field="adminId",
        on_delete=fields.CASCADE,
    )
    admin_id: str
    token = TextColumn(unique=True)
    expires_at = Timestamp3Field(source_field="expiresAt")

    class Meta:
        table = "AdminResetToken"


class CenterStaffResetToken(ProductionModel):
    """Password reset for a ``CenterStaff`` row; 64 hex chars, 1 hour."""

    staff: fields.ForeignKeyRelation[CenterStaff] = fields.ForeignKeyField(
        "models.CenterStaff",
        related_name="reset_tokens",
        source_field="staffId",
        on_delete=fields.CASCADE,
    )
    staff_id: str
    token = TextColumn(unique=True)
    expires_at = Timestamp3Field(source_field="expiresAt")

    class Meta:
        table = "CenterStaffResetToken"
