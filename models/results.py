"""Screening results and their files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from models.base import ProductionModel, utc_now
from models.fields import TextColumn, Timestamp3Field

if TYPE_CHECKING:
    from models.appointments import Appointment
    from models.staff import CenterStaff


class ScreeningResult(ProductionModel):
    """The result of one appointment; ``uploaded_by`` is the acting ``CenterStaff`` (or NULL)."""

    appointment: fields.OneToOneRelation[Appointment] = fields.OneToOneField(
        "models.Appointment",
        related_name="result",
        source_field="appointmentId",
        on_delete=fields.CASCADE,
    )
    appointment_id: str
    notes = TextColumn(null=True)
    uploaded_by: fields.ForeignKeyNullableRelation[CenterStaff] = fields.ForeignKeyField(
        "models.CenterStaff",
        related_name="uploaded_results",
        source_field="uploadedBy",
        null=True,
        on_delete=fields.SET_NULL,
    )
    uploaded_by_id: str | None
    uploaded_at = Timestamp3Field(source_field="uploadedAt", default=utc_now)

    files: fields.ReverseRelation[ScreeningResultFile]

    class Meta:
        table = "ScreeningResult"


class ScreeningResultFile(ProductionModel):
    """One uploaded file of a result (soft-deleted with ``is_deleted``).

    ``cloudinary_url``/``cloudinary_id`` keep their legacy names; the new system stores its own
    content URL and ``local:<file id>`` there (the bytes are tracked in ``stored_files``).
    """

    result: fields.ForeignKeyRelation[ScreeningResult] = fields.ForeignKeyField(
        "models.ScreeningResult",
        related_name="files",
        source_field="resultId",
        on_delete=fields.CASCADE,
    )
    result_id: str
    file_name = TextColumn(source_field="fileName")
    file_path = TextColumn(source_field="filePath")
    file_type = TextColumn(source_field="fileType")
    file_size = fields.IntField(source_field="fileSize")
    cloudinary_url = TextColumn(source_field="cloudinaryUrl")
    cloudinary_id = TextColumn(source_field="cloudinaryId")
    uploaded_at = Timestamp3Field(source_field="uploadedAt", default=utc_now)
    is_deleted = fields.BooleanField(source_field="isDeleted", default=False)
    deleted_at = Timestamp3Field(source_field="deletedAt", null=True)
    deleted_by: fields.ForeignKeyNullableRelation[CenterStaff] = fields.ForeignKeyField(
        "models.CenterStaff",
        related_name="deleted_result_files",
        source_field="deletedBy",
        null=True,
        on_delete=fields.SET_NULL,
    )
    deleted_by_id: str | None
    deletion_reason = TextColumn(source_field="deletionReason", null=True)

    class Meta:
        table = "ScreeningResultFile"
