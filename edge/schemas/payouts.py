"""Request models of /api/v1/payouts (payouts.md §3)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from edge.validation import Msg, Schema
from models.enums import PayoutStatus, PayoutType, TransactionStatus

Page = Annotated[int, Field(ge=1)]
Limit = Annotated[int, Field(ge=1, le=100)]


class PayoutsQuery(Schema):
    page: Page = 1
    limit: Limit = 20
    center_id: str | None = None
    status: PayoutStatus | None = None
    type: PayoutType | None = None
    batch_reference: str | None = None


class CenterPayoutsQuery(Schema):
    page: Page = 1
    limit: Limit = 20
    status: PayoutStatus | None = None


class CenterTransactionsQuery(Schema):
    page: Page = 1
    limit: Limit = 20
    status: TransactionStatus | None = None
    start_date: str | None = None
    end_date: str | None = None


class ManualPayoutBody(Schema):
    center_id: Annotated[str, Field(min_length=1), Msg("Center ID is required")]
    amount: Annotated[float, Field(strict=True, gt=0), Msg("Amount must be positive")]
    transaction_ids: Annotated[
        list[str], Field(min_length=1), Msg("At least one transaction required")
    ]
    reason: str | None = None


class VerifyAccountBody(Schema):
    account_number: Annotated[
        str,
        Field(min_length=10, max_length=10, pattern=r"^\d{10}$"),
        Msg("Account number must be 10 digits"),
    ]
    bank_code: Annotated[str, Field(min_length=1), Msg("Bank code is required")]
