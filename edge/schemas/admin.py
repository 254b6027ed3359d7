"""Request models of the admin routes (admin.md §3-§11)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from edge.schemas.donor import Uuid
from edge.validation import Msg, Schema
from models.enums import LogLevel

Page = Annotated[int, Field(ge=1)]
PageSize = Annotated[int, Field(ge=1, le=100)]


def _strict_bool(value: object) -> object:
    """`true`/`false` in any case; anything else fails (D-ADM-4: no truthiness)."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError("Expected true or false")
    return value


QueryBool = Annotated[bool, BeforeValidator(_strict_bool)]


class Paging(Schema):
    page: Page = 1
    page_size: PageSize = 20


class CentersQuery(Paging):
    status: Literal["ACTIVE", "INACTIVE", "SUSPENDED"] | None = None
    state: str | None = None
    search: str | None = None


class CenterStatusBody(Schema):
    status: Literal["ACTIVE", "INACTIVE", "SUSPENDED"]
    reason: str | None = None


class UsersQuery(Paging):
    profile_type: Literal["PATIENT", "DONOR"] | None = None
    search: str | None = None


class CampaignsQuery(Paging):
    status: Literal["ACTIVE", "COMPLETED", "DELETED"] | None = None
    search: str | None = None


class CampaignStatusBody(Schema):
    status: Literal["ACTIVE", "COMPLETED", "DELETED"]
    reason: str | None = None


class AppointmentsQuery(Paging):
    status: Literal["SCHEDULED", "IN_PROGRESS", "COMPLETED", "CANCELLED"] | None = None
    center_id: Uuid | None = None
    is_donation: QueryBool | None = None
    date_from: str | None = None
    date_to: str | None = None


class TransactionsQuery(Paging):
    type: Literal["DONATION", "APPOINTMENT", "PAYOUT", "REFUND"] | None = None
    status: Literal["PENDING", "COMPLETED", "FAILED"] | None = None
    date_from: str | None = None
    date_to: str | None = None


class ProductsQuery(Paging):
    search: str | None = None


Price = Annotated[float, Field(strict=True, ge=0), Msg("Price must be non-negative")]
Stock = Annotated[
    int, Field(strict=True, ge=0), Msg("Stock must be non-negative integer", on_type=True)
]


class ProductCreateBody(Schema):
    name: Annotated[str, Field(min_length=1), Msg("Product name is required")]
    description: str | None = None
    price: Price
    stock: Stock


class ProductUpdateBody(Schema):
    name: Annotated[str, Field(min_length=1), Msg("Product name is required")] | None = None
    description: str | None = None
    price: Price | None = None
    stock: Stock | None = None


class ExecutionsQuery(Paging):
    status: Literal["RUNNING", "COMPLETED", "FAILED", "PARTIALLY_COMPLETED"] | None = None
    date_from: str | None = None
    date_to: str | None = None


class LogsQuery(Schema):
    page: Page = 1
    page_size: PageSize = 50
    level: LogLevel | None = None
    patient_id: Uuid | None = None
    campaign_id: Uuid | None = None


class AllocationsQuery(Paging):
    status: Literal["MATCHED", "CLAIMED", "EXPIRED"] | None = None
    patient_id: Uuid | None = None
    campaign_id: Uuid | None = None
    date_from: str | None = None
    date_to: str | None = None


class MatchingConfigBody(Schema):
    """The seven knobs (triggerMatchingSchema / updateMatchingConfigSchema); all optional."""

    patients_per_screening_type: Annotated[int, Field(ge=1, le=100)] | None = None
    max_total_patients: Annotated[int, Field(ge=1, le=1000)] | None = None
    enable_parallel_processing: Annotated[bool, Field(strict=True)] | None = None
    max_concurrent_screening_types: Annotated[int, Field(ge=1, le=10)] | None = None
    enable_demographic_targeting: Annotated[bool, Field(strict=True)] | None = None
    enable_geographic_targeting: Annotated[bool, Field(strict=True)] | None = None
    allocation_expiry_days: Annotated[int, Field(ge=1, le=365)] | None = None
