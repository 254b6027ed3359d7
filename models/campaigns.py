"""Donation campaigns, including the general donor pool (``id = "general-donor-pool"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from models.base import TimestampedModel
from models.enums import CampaignStatus, Gender
from models.fields import PgEnumField, TextArrayField, TextColumn, Timestamp3Field

if TYPE_CHECKING:
    from models.screening_types import ScreeningType
    from models.transactions import Transaction
    from models.users import User
    from models.waitlists import DonationAllocation

#: Fixed id of the general donor pool campaign (spec §6.1).
GENERAL_DONOR_POOL_ID = "general-donor-pool"
#: Fixed id of the system user owning the pool; it can never log in.
GENERAL_PUBLIC_USER_ID = "general-public"


class DonationCampaign(TimestampedModel):
    """Money a donor (or the public pool) puts up for screenings, in naira.

    ``purpose`` is the API's ``description``; ``target_gender`` NULL means all genders; empty
    ``target_states``/``target_lgas`` mean anywhere. ``screening_types`` is the implicit
    many-to-many ``"_DonationCampaignScreeningTypes"`` (``A`` = campaign, ``B`` = type); the
    pool has no rows there and funds every type.
    """

    donor: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="donation_campaigns",
        source_field="donorId",
        on_delete=fields.CASCADE,
    )
    donor_id: str
    total_amount = fields.FloatField(source_field="totalAmount")
    available_amount = fields.FloatField(source_field="availableAmount")
    title = TextColumn()
    purpose = TextColumn(null=True)
    target_gender = PgEnumField(Gender, source_field="targetGender", null=True)
    target_age_range = TextColumn(source_field="targetAgeRange", null=True)
    target_states = TextArrayField(source_field="targetStates")
    target_lgas = TextArrayField(source_field="targetLgas")
    status = PgEnumField(CampaignStatus)
    expiry_date = Timestamp3Field(source_field="expiryDate", null=True)

    screening_types: fields.ManyToManyRelation[ScreeningType] = fields.ManyToManyField(
        "models.ScreeningType",
        related_name="campaigns",
        through="_DonationCampaignScreeningTypes",
        forward_key="B",
        backward_key="A",
        on_delete=fields.CASCADE,
    )

    allocations: fields.ReverseRelation[DonationAllocation]
    transactions: fields.ReverseRelation[Transaction]

    class Meta:
        table = "DonationCampaign"
