"""Money movements recorded locally, their receipts, and the receipt number counters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models.base import CreatedAtModel, TimestampedModel
from models.enums import TransactionStatus, TransactionType
from models.fields import PgEnumField, TextColumn, Timestamp3Field

if TYPE_CHECKING:
    from models.appointments import Appointment
    from models.campaigns import DonationCampaign
    from models.payouts import PayoutItem


class Transaction(CreatedAtModel):
    """A payment, refund or settlement in naira.

    ``related_donation`` is the campaign credited (``general-donor-pool`` for anonymous
    donations). ``payment_reference`` is unique in practice (a unique index is added by
    migration 0005 once no duplicates exist).
    """

    type = PgEnumField(TransactionType)
    status = PgEnumField(TransactionStatus)
    amount = fields.FloatField()
    related_donation: fields.ForeignKeyNullableRelation[DonationCampaign] = fields.ForeignKeyField(
        "models.DonationCampaign",
        related_name="transactions",
        source_field="relatedDonationId",
        null=True,
        on_delete=fields.SET_NULL,
    )
    related_donation_id: str | None
    payment_reference = TextColumn(source_field="paymentReference", null=True)
    payment_channel = TextColumn(source_field="paymentChannel", null=True)

    appointments: fields.ReverseRelation[Appointment]
    receipt: fields.BackwardOneToOneRelation[Receipt]
    payout_item: fields.BackwardOneToOneRelation[PayoutItem]

    class Meta:
        table = "Transaction"


class Receipt(TimestampedModel):
    """The receipt of one transaction; ``receipt_data`` is the snapshot the API returns."""

    transaction: fields.OneToOneRelation[Transaction] = fields.OneToOneField(
        "models.Transaction",
        related_name="receipt",
        source_field="transactionId",
        on_delete=fields.CASCADE,
    )
    transaction_id: str
    receipt_number = TextColumn(source_field="receiptNumber", unique=True)
    receipt_data = fields.JSONField[dict[str, Any]](source_field="receiptData")
    pdf_path = TextColumn(source_field="pdfPath", null=True)
    email_sent_at = Timestamp3Field(source_field="emailSentAt", null=True)
    email_recipient = TextColumn(source_field="emailRecipient", null=True)

    class Meta:
        table = "Receipt"


class ReceiptNumberCounter(Model):
    """``receipt_number_counters``: the last receipt sequence number issued per Lagos day.

    Allocate with ``INSERT ... ON CONFLICT (day) DO UPDATE SET last_value = last_value + 1
    RETURNING last_value`` in the transaction that inserts the ``Receipt`` (gap-free numbers).
    """

    day = fields.DateField(primary_key=True)
    last_value = fields.IntField(default=0)

    class Meta:
        table = "receipt_number_counters"
