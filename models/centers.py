"""Screening centers and their per-type prices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from models.base import CreatedAtModel, ProductionModel
from models.enums import ServiceCenterStatus
from models.fields import PgEnumField, TextColumn

if TYPE_CHECKING:
    from models.appointments import Appointment
    from models.payouts import Payout, PaystackRecipient
    from models.screening_types import ScreeningType
    from models.staff import CenterStaff, CenterStaffInvite


class ServiceCenter(CreatedAtModel):
    """A screening center, a login identity of its own (owner login ``actor=center``).

    ``services`` is the implicit many-to-many "this center offers this type" (join table
    ``"_ScreeningTypeToServiceCenter"``, ``A`` = screening type, ``B`` = center); the price of
    an offer lives in ``screening_types`` (``ServiceCenterScreeningType`` rows).
    """

    email = TextColumn(unique=True)
    password_hash = TextColumn(source_field="passwordHash")
    phone = TextColumn(null=True)
    center_name = TextColumn(source_field="centerName")
    address = TextColumn()
    state = TextColumn()
    lga = TextColumn()
    bank_account = TextColumn(source_field="bankAccount", null=True)
    bank_name = TextColumn(source_field="bankName", null=True)
    bank_code = TextColumn(source_field="bankCode", null=True)
    account_name = TextColumn(source_field="accountName", null=True)
    status = PgEnumField(ServiceCenterStatus, default=ServiceCenterStatus.INACTIVE)

    services: fields.ManyToManyRelation[ScreeningType] = fields.ManyToManyField(
        "models.ScreeningType",
        related_name="centers",
        through="_ScreeningTypeToServiceCenter",
        forward_key="A",
        backward_key="B",
        on_delete=fields.CASCADE,
    )

    staff: fields.ReverseRelation[CenterStaff]
    appointments: fields.ReverseRelation[Appointment]
    invitations: fields.ReverseRelation[CenterStaffInvite]
    paystack_recipient: fields.BackwardOneToOneRelation[PaystackRecipient]
    payouts: fields.ReverseRelation[Payout]
    screening_types: fields.ReverseRelation[ServiceCenterScreeningType]

    class Meta:
        table = "ServiceCenter"


class ServiceCenterScreeningType(ProductionModel):
    """The naira ``amount`` a center charges for a self-pay booking of one screening type."""

    center: fields.ForeignKeyRelation[ServiceCenter] = fields.ForeignKeyField(
        "models.ServiceCenter",
        related_name="screening_types",
        source_field="centerId",
        on_delete=fields.RESTRICT,
    )
    center_id: str
    screening_type: fields.ForeignKeyRelation[ScreeningType] = fields.ForeignKeyField(
        "models.ScreeningType",
        related_name="service_centers",
        source_field="screeningTypeId",
        on_delete=fields.RESTRICT,
    )
    screening_type_id: str
    amount = fields.FloatField(default=10000.0)

    class Meta:
        table = "ServiceCenterScreeningType"
        unique_together = (("center", "screening_type"),)
