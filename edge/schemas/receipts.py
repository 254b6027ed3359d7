"""Request models of /api/v1/receipts (receipts.md §6)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge.validation import EmailStr, Schema


class CreateReceiptBody(Schema):
    transaction_id: Annotated[str, Field(min_length=1)]
    email_recipient: EmailStr | None = None
    force_regenerate: Annotated[bool, Field(strict=True)] = False


class ResendReceiptBody(Schema):
    email_recipient: EmailStr


class ReceiptListQuery(Schema):
    page: Annotated[int, Field(ge=1)] = 1
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    type: Literal["DONATION", "APPOINTMENT", "PAYOUT", "REFUND"] | None = None
    user_id: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    email_sent: Literal["true", "false"] | None = None
