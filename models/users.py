"""Accounts: ``User`` (patients and donors) with its two profiles, and ``Admins``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from models.base import CreatedAtModel, ProductionModel
from models.enums import Gender
from models.fields import PgEnumField, TextColumn, Timestamp3Field

if TYPE_CHECKING:
    from models.appointments import Appointment
    from models.campaigns import DonationCampaign
    from models.notifications import NotificationRecipient
    from models.tokens import AdminResetToken, EmailVerificationToken, PasswordResetToken
    from models.waitlists import DonationAllocation, Waitlist


class User(CreatedAtModel):
    """A patient and/or donor; the roles are the profiles it has. Never deleted by the API.

    Fixed row: ``id = "general-public"``, the owner of the general donor pool (never logs in).
    """

    full_name = TextColumn(source_field="fullName")
    email = TextColumn(unique=True)
    phone = TextColumn(null=True)
    password_hash = TextColumn(source_field="passwordHash")

    patient_profile: fields.BackwardOneToOneRelation[PatientProfile]
    donor_profile: fields.BackwardOneToOneRelation[DonorProfile]
    password_reset_tokens: fields.ReverseRelation[PasswordResetToken]
    email_verification_tokens: fields.ReverseRelation[EmailVerificationToken]
    waitlists: fields.ReverseRelation[Waitlist]
    donation_campaigns: fields.ReverseRelation[DonationCampaign]
    donation_allocations: fields.ReverseRelation[DonationAllocation]
    appointments: fields.ReverseRelation[Appointment]
    notifications: fields.ReverseRelation[NotificationRecipient]

    class Meta:
        table = "User"


class PatientProfile(ProductionModel):
    """The patient half of a ``User``. ``city`` holds the local government area (LGA)."""

    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User",
        related_name="patient_profile",
        source_field="userId",
        on_delete=fields.CASCADE,
    )
    user_id: str
    gender = PgEnumField(Gender, null=True)
    date_of_birth = Timestamp3Field(source_field="dateOfBirth")
    city = TextColumn(null=True)
    state = TextColumn(null=True)
    email_verified = Timestamp3Field(source_field="emailVerified", null=True)

    class Meta:
        table = "PatientProfile"


class DonorProfile(ProductionModel):
    """The donor half of a ``User``."""

    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User",
        related_name="donor_profile",
        source_field="userId",
        on_delete=fields.CASCADE,
    )
    user_id: str
    organization_name = TextColumn(source_field="organizationName", null=True)
    country = TextColumn(null=True)
    email_verified = Timestamp3Field(source_field="emailVerified", null=True)

    class Meta:
        table = "DonorProfile"


class Admins(CreatedAtModel):
    """A platform administrator (table ``"Admins"``, separate from ``User``)."""

    full_name = TextColumn(source_field="fullName")
    email = TextColumn(unique=True)
    password_hash = TextColumn(source_field="passwordHash")

    reset_tokens: fields.ReverseRelation[AdminResetToken]

    class Meta:
        table = "Admins"
