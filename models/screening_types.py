"""Screening types and their categories (reference data created by the seed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from models.base import ProductionModel
from models.fields import TextColumn

if TYPE_CHECKING:
    from models.appointments import Appointment
    from models.campaigns import DonationCampaign
    from models.centers import ServiceCenter, ServiceCenterScreeningType
    from models.matching import MatchingScreeningTypeResult
    from models.waitlists import Waitlist


class ScreeningTypeCategory(ProductionModel):
    """Fixed ids: ``cancer``, ``vaccine``, ``general``, ``treatement`` (sic), ``screening``."""

    name = TextColumn()
    description = TextColumn(null=True)

    types: fields.ReverseRelation[ScreeningType]

    class Meta:
        table = "ScreeningTypeCategory"


class ScreeningType(ProductionModel):
    """A screening; ``agreed_price`` is the platform-wide price matching reserves per allocation."""

    name = TextColumn(unique=True)
    description = TextColumn(null=True)
    screening_type_category: fields.ForeignKeyRelation[ScreeningTypeCategory] = (
        fields.ForeignKeyField(
            "models.ScreeningTypeCategory",
            related_name="types",
            source_field="screeningTypeCategoryId",
            on_delete=fields.RESTRICT,
        )
    )
    screening_type_category_id: str
    active = fields.BooleanField(default=True)
    agreed_price = fields.FloatField(source_field="agreedPrice", default=10000.0)

    appointments: fields.ReverseRelation[Appointment]
    waitlists: fields.ReverseRelation[Waitlist]
    campaigns: fields.ManyToManyRelation[DonationCampaign]
    centers: fields.ManyToManyRelation[ServiceCenter]
    service_centers: fields.ReverseRelation[ServiceCenterScreeningType]
    matching_results: fields.ReverseRelation[MatchingScreeningTypeResult]

    class Meta:
        table = "ScreeningType"
