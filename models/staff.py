"""Center staff accounts and their invitations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from models.base import CreatedAtModel, ProductionModel
from models.enums import StaffStatus
from models.fields import PgEnumField, TextColumn, Timestamp3Field

if TYPE_CHECKING:
    from models.appointments import AppointmentVerification
    from models.centers import ServiceCenter
    from models.results import ScreeningResult, ScreeningResultFile
    from models.tokens import CenterStaffResetToken


class CenterStaff(CreatedAtModel):
    """A staff login of a center; e-mail unique per center.

    ``role`` is free text (``ADMIN``/``admin``/``nurse``/NULL): compare it case-insensitively.
    ``status`` NULL means ``ACTIVE``. Seeded owner rows share the center's id (spec §6.3); rows
    made by the new registration do not, so never rely on that.
    """

    center: fields.ForeignKeyRelation[ServiceCenter] = fields.ForeignKeyField(
        "models.ServiceCenter",
        related_name="staff",
        source_field="centerId",
        on_delete=fields.CASCADE,
    )
    center_id: str
    email = TextColumn()
    password_hash = TextColumn(source_field="passwordHash")
    role = TextColumn(null=True)
    status = PgEnumField(StaffStatus, null=True, default=StaffStatus.ACTIVE)

    verifications: fields.ReverseRelation[AppointmentVerification]
    uploaded_results: fields.ReverseRelation[ScreeningResult]
    deleted_result_files: fields.ReverseRelation[ScreeningResultFile]
    reset_tokens: fields.ReverseRelation[CenterStaffResetToken]

    class Meta:
        table = "CenterStaff"
        unique_together = (("center", "email"),)


class CenterStaffInvite(ProductionModel):
    """An invitation (identified by ``token``) to create a staff account at a center."""

    center: fields.ForeignKeyRelation[ServiceCenter] = fields.ForeignKeyField(
        "models.ServiceCenter",
        related_name="invitations",
        source_field="centerId",
        on_delete=fields.CASCADE,
    )
    center_id: str
    email = TextColumn()
    token = TextColumn(unique=True)
    expires_at = Timestamp3Field(source_field="expiresAt", null=True)
    accepted_at = Timestamp3Field(source_field="acceptedAt", null=True)

    class Meta:
        table = "CenterStaffInvite"
