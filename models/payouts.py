"""Payouts to centers: provider recipients, payouts and their items."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from models.base import ProductionModel, TimestampedModel
from models.enums import PayoutStatus, PayoutType
from models.fields import PgEnumField, TextColumn, Timestamp3Field

if TYPE_CHECKING:
    from models.centers import ServiceCenter
    from models.transactions import Transaction


class PaystackRecipient(TimestampedModel):
    """``paystack_recipients``: a center's transfer recipient at the provider (bank snapshot)."""

    center: fields.OneToOneRelation[ServiceCenter] = fields.OneToOneField(
        "models.ServiceCenter",
        related_name="paystack_recipient",
        source_field="centerId",
        on_delete=fields.RESTRICT,
    )
    center_id: str
    recipient_code = TextColumn(source_field="recipientCode", unique=True)
    reference = TextColumn(unique=True)
    bank_name = TextColumn(source_field="bankName")
    bank_code = TextColumn(source_field="bankCode")
    account_number = TextColumn(source_field="accountNumber")
    account_name = TextColumn(source_field="accountName")
    is_active = fields.BooleanField(source_field="isActive", default=True)

    payouts: fields.ReverseRelation[Payout]

    class Meta:
        table = "paystack_recipients"


class Payout(TimestampedModel):
    """``payouts``: money owed to one center for a period, sent as one transfer."""

    batch_reference = TextColumn(source_field="batchReference")
    payout_number = TextColumn(source_field="payoutNumber", unique=True)
    center: fields.ForeignKeyRelation[ServiceCenter] = fields.ForeignKeyField(
        "models.ServiceCenter",
        related_name="payouts",
        source_field="centerId",
        on_delete=fields.RESTRICT,
    )
    center_id: str
    recipient: fields.ForeignKeyNullableRelation[PaystackRecipient] = fields.ForeignKeyField(
        "models.PaystackRecipient",
        related_name="payouts",
        source_field="recipientId",
        null=True,
        on_delete=fields.SET_NULL,
    )
    recipient_id: str | None
    amount = fields.FloatField()
    currency = TextColumn(default="NGN")
    paystack_fee = fields.FloatField(source_field="paystackFee", default=10.0)
    net_amount = fields.FloatField(source_field="netAmount")
    transfer_reference = TextColumn(source_field="transferReference", null=True, unique=True)
    paystack_transfer_id = TextColumn(source_field="paystackTransferId", null=True, unique=True)
    status = PgEnumField(PayoutStatus, default=PayoutStatus.PENDING)
    type = PgEnumField(PayoutType, default=PayoutType.MANUAL)
    initiated_by = TextColumn(source_field="initiatedBy", null=True)
    processed_at = Timestamp3Field(source_field="processedAt", null=True)
    completed_at = Timestamp3Field(source_field="completedAt", null=True)
    failure_reason = TextColumn(source_field="failureReason", null=True)
    retry_count = fields.IntField(source_field="retryCount", default=0)
    max_retries = fields.IntField(source_field="maxRetries", default=3)
    period_start = Timestamp3Field(source_field="periodStart")
    period_end = Timestamp3Field(source_field="periodEnd")
    reason = TextColumn()
    internal_notes = TextColumn(source_field="internalNotes", null=True)

    payout_items: fields.ReverseRelation[PayoutItem]

    class Meta:
        table = "payouts"


class PayoutItem(ProductionModel):
    """``payout_items``: one transaction paid out by a payout (at most once, DB-enforced)."""

    payout: fields.ForeignKeyRelation[Payout] = fields.ForeignKeyField(
        "models.Payout",
        related_name="payout_items",
        source_field="payoutId",
        on_delete=fields.RESTRICT,
    )
    payout_id: str
    transaction: fields.OneToOneRelation[Transaction] = fields.OneToOneField(
        "models.Transaction",
        related_name="payout_item",
        source_field="transactionId",
        on_delete=fields.RESTRICT,
    )
    transaction_id: str
    amount = fields.FloatField()
    description = TextColumn()
    service_date = Timestamp3Field(source_field="serviceDate")
    appointment_id = TextColumn(source_field="appointmentId", null=True)

    class Meta:
        table = "payout_items"
