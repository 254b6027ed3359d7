"""Request models of /api/v1/donor (donations.md §4; zod schemas of donation.schema.ts)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from edge.errors import ValidationFailed
from edge.validation import EmailStr, Msg, Schema

Page = Annotated[int, Field(ge=1)]
PageSize = Annotated[int, Field(ge=1, le=100)]
#: JSON numbers only (zod's `z.number()` refuses "1000" and true).
Number = Annotated[float, Field(strict=True)]
Age = Annotated[int, Field(ge=0, le=100)]
Gender = Literal["MALE", "FEMALE", "ALL"]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _uuid(value: str) -> str:
    if not _UUID.match(value):
        raise ValueError("Invalid uuid")
    return value


Uuid = Annotated[str, AfterValidator(_uuid)]


def check_money(value: float, field: str) -> None:
    """At most two decimal places (D-DON-17): kobo must be a whole number."""
    if abs(value * 100 - round(value * 100)) > 1e-6:
        raise ValidationFailed.issue([field], "Amount must have at most 2 decimal places")


def check_ages(low: int | None, high: int | None, message: str) -> None:
    """min <= max when both are given; 0 is a value (D-DON-13)."""
    if low is not None and high is not None and low > high:
        raise ValidationFailed.issue([], message)


class AnonymousDonationBody(Schema):
    amount: Annotated[Number, Field(ge=100), Msg("Minimum donation is ₦100")]
    message: str | None = None
    wants_receipt: Annotated[bool, Field(strict=True)] = False
    email: EmailStr | None = None


class CreateCampaignBody(Schema):
    title: Annotated[str, Field(min_length=1, max_length=100), Msg("Campaign title is required")]
    description: Annotated[
        str, Field(min_length=10, max_length=500), Msg("Description must be at least 10 characters")
    ]
    funding_amount: Annotated[Number, Field(ge=1000), Msg("Minimum campaign amount is ₦1,000")]
    target_states: list[str] | None = None
    target_lgas: list[str] | None = None
    target_gender: Gender = "ALL"
    target_age_min: Age | None = None
    target_age_max: Age | None = None
    screening_type_ids: list[str] | None = None


class FundCampaignBody(Schema):
    campaign_id: Uuid
    amount: Annotated[Number, Field(ge=100), Msg("Minimum funding amount is ₦100")]


class UpdateCampaignBody(Schema):
    campaign_id: Uuid
    title: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    description: Annotated[str, Field(min_length=10, max_length=500)] | None = None
    target_states: list[str] | None = None
    target_lgas: list[str] | None = None
    target_gender: Gender | None = None
    target_age_min: Age | None = None
    target_age_max: Age | None = None
    screening_type_ids: (
        Annotated[list[Uuid], Field(min_length=1), Msg("At least one screening type is required")]
        | None
    ) = None


class DeleteCampaignBody(Schema):
    campaign_id: Uuid
    action: Literal["recycle_to_general", "transfer_to_campaign", "request_refund"]
    target_campaign_id: Uuid | None = None
    reason: str | None = None


class CampaignsQuery(Schema):
    page: Page = 1
    page_size: PageSize = 20
    status: Literal["ACTIVE", "COMPLETED", "DELETED"] | None = None
    search: str | None = None


class DonorReceiptsQuery(Schema):
    page: Page = 1
    size: PageSize = 20
