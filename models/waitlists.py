"""Waitlist entries and the donation allocations that fund them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from models.base import ProductionModel, utc_now
from models.enums import AllocationStatus
from models.fields import PgEnumField, Timestamp3Field

if TYPE_CHECKING:
    from models.appointments import Appointment
    from models.campaigns import DonationCampaign
    from models.matching import MatchingExecution
    from models.screening_types import ScreeningType
    from models.users import User


class Waitlist(ProductionModel):
    """A patient waiting for a funded screening; ``status`` is the entry's state (§5.1)."""

    screening_type: fields.ForeignKeyRelation[ScreeningType] = fields.ForeignKeyField(
        "models.ScreeningType",
        related_name="waitlists",
        source_field="screeningTypeId",
        on_delete=fields.RESTRICT,
    )
    screening_type_id: str
    patient: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="waitlists",
        source_field="patientId",
        on_delete=fields.CASCADE,
    )
    patient_id: str
    status = PgEnumField(AllocationStatus, default=AllocationStatus.PENDING)
    joined_at = Timestamp3Field(source_field="joinedAt", default=utc_now)
    claimed_at = Timestamp3Field(source_field="claimedAt", null=True)
    expired_at = Timestamp3Field(source_field="expiredAt", null=True)

    allocation: fields.BackwardOneToOneRelation[DonationAllocation]

    class Meta:
        table = "Waitlist"


class DonationAllocation(ProductionModel):
    """A campaign's money reserved for one waitlist entry. No status column: its state is
    derived from the waitlist's status, ``claimed_at`` and ``appointment_id`` (§5.1).
    """

    waitlist: fields.OneToOneRelation[Waitlist] = fields.OneToOneField(
        "models.Waitlist",
        related_name="allocation",
        source_field="waitlistId",
        on_delete=fields.CASCADE,
    )
    waitlist_id: str
    appointment: fields.ForeignKeyNullableRelation[Appointment] = fields.ForeignKeyField(
        "models.Appointment",
        related_name="allocations",
        source_field="appointmentId",
        null=True,
        on_delete=fields.SET_NULL,
    )
    appointment_id: str | None
    patient: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="donation_allocations",
        source_field="patientId",
        on_delete=fields.CASCADE,
    )
    patient_id: str
    campaign: fields.ForeignKeyRelation[DonationCampaign] = fields.ForeignKeyField(
        "models.DonationCampaign",
        related_name="allocations",
        source_field="campaignId",
        on_delete=fields.CASCADE,
    )
    campaign_id: str
    claimed_at = Timestamp3Field(source_field="claimedAt", null=True)
    matching_execution: fields.ForeignKeyNullableRelation[MatchingExecution] = (
        fields.ForeignKeyField(
            "models.MatchingExecution",
            related_name="allocations",
            source_field="matchingExecutionId",
            null=True,
            on_delete=fields.SET_NULL,
        )
    )
    matching_execution_id: str | None
    amount_allocated = fields.FloatField(source_field="amountAllocated", null=True)
    created_via_matching = fields.BooleanField(source_field="createdViaMatching", default=False)

    class Meta:
        table = "DonationAllocation"
