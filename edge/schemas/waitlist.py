"""Request models of /api/v1/waitlist (waitlist.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge.validation import Msg, Schema
from models.enums import AllocationStatus

Page = Annotated[int, Field(ge=1)]
PageSize = Annotated[int, Field(ge=1, le=100)]


class PatientWaitlistsQuery(Schema):
    page: Page = 1
    page_size: PageSize = 20
    #: The reference accepts PENDING, MATCHED, EXPIRED; CLAIMED is new (D-WL-7).
    status: AllocationStatus | None = None


class DemandQuery(Schema):
    page: Page = 1
    page_size: PageSize = 20
    demand_order: Literal["asc", "desc"] = "desc"


class JoinBody(Schema):
    screening_type_id: Annotated[str, Field(min_length=1)]


class LeaveBody(Schema):
    waitlist_id: Annotated[str, Field(min_length=1), Msg("Waitlist ID is required.")]
