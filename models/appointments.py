"""Appointments and their check-in records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from models.base import CreatedAtModel, ProductionModel
from models.enums import AppointmentStatus
from models.fields import PgEnumField, TextColumn, Timestamp3Field

if TYPE_CHECKING:
    from models.centers import ServiceCenter
    from models.results import ScreeningResult
    from models.screening_types import ScreeningType
    from models.staff import CenterStaff
    from models.transactions import Transaction
    from models.users import User
    from models.waitlists import DonationAllocation


class Appointment(CreatedAtModel):
    """A booked screening. Self-pay: ``transaction`` set; donated: ``is_donation`` and
    ``donation_id`` (the funding campaign id, a plain column without foreign key).
    """

    patient: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="appointments",
        source_field="patientId",
        on_delete=fields.CASCADE,
    )
    patient_id: str
    center: fields.ForeignKeyRelation[ServiceCenter] = fields.ForeignKeyField(
        "models.ServiceCenter",
        related_name="appointments",
        source_field="centerId",
        on_delete=fields.RESTRICT,
    )
    center_id: str
    screening_type: fields.ForeignKeyRelation[ScreeningType] = fields.ForeignKeyField(
        "models.ScreeningType",
        related_name="appointments",
        source_field="screeningTypeId",
        on_delete=fields.RESTRICT,
    )
    screening_type_id: str
    donation_id = TextColumn(source_field="donationId", null=True)
    is_donation = fields.BooleanField(source_field="isDonation", default=False)
    appointment_date_time = Timestamp3Field(source_field="appointmentDateTime")
    transaction: fields.ForeignKeyNullableRelation[Transaction] = fields.ForeignKeyField(
        "models.Transaction",
        related_name="appointments",
        source_field="transactionId",
        null=True,
        on_delete=fields.SET_NULL,
    )
    transaction_id: str | None
    status = PgEnumField(AppointmentStatus)
    cancellation_reason = TextColumn(source_field="cancellationReason", null=True)
    cancellation_date = Timestamp3Field(source_field="cancellationDate", null=True)
    check_in_code = TextColumn(source_field="checkInCode", null=True, unique=True)
    check_in_code_expires_at = Timestamp3Field(source_field="checkInCodeExpiresAt", null=True)

    verification: fields.BackwardOneToOneRelation[AppointmentVerification]
    result: fields.BackwardOneToOneRelation[ScreeningResult]
    allocations: fields.ReverseRelation[DonationAllocation]

    class Meta:
        table = "Appointment"


class AppointmentVerification(ProductionModel):
    """The check-in of an appointment; ``verified_by`` is the acting ``CenterStaff`` (or NULL)."""

    appointment: fields.OneToOneRelation[Appointment] = fields.OneToOneField(
        "models.Appointment",
        related_name="verification",
        source_field="appointmentId",
        on_delete=fields.CASCADE,
    )
    appointment_id: str
    verified_by: fields.ForeignKeyNullableRelation[CenterStaff] = fields.ForeignKeyField(
        "models.CenterStaff",
        related_name="verifications",
        source_field="verifiedBy",
        null=True,
        on_delete=fields.SET_NULL,
    )
    verified_by_id: str | None
    verified_at = Timestamp3Field(source_field="verifiedAt")

    class Meta:
        table = "AppointmentVerification"
