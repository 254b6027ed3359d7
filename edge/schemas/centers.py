"""Request models of /api/v1/center and /api/v1/screening-types (centers.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from edge.validation import EmailStr, Schema
from models.enums import ServiceCenterStatus, StaffStatus

#: Largest page a list endpoint serves (D-CEN-5).
MAX_PAGE_SIZE = 100
#: Most addresses one invitation request may carry (centers.md 3.4, New).
MAX_INVITES = 20
#: One-time tokens are 64 hex characters; the shared schema only asks for 10 (auth.md 2.6).
MIN_TOKEN_LENGTH = 10

Page = Annotated[int, Field(ge=1)]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]
NonEmpty = Annotated[str, Field(min_length=1)]


def _at_most_20(emails: list[str]) -> list[str]:
    if len(emails) > MAX_INVITES:
        raise PydanticCustomError("too_big", "At most 20 invitations per request")
    return emails


class CentersQuery(Schema):
    """`GET /center`: empty `search`/`state`/`lga` mean "no filter"."""

    page: Page = 1
    page_size: PageSize = 20
    search: str = ""
    status: ServiceCenterStatus | None = None
    state: str = ""
    lga: str = ""


class InviteStaffBody(Schema):
    center_id: NonEmpty
    emails: Annotated[list[EmailStr], Field(min_length=1), AfterValidator(_at_most_20)]


class InviteTokenPath(Schema):
    token: Annotated[str, Field(min_length=MIN_TOKEN_LENGTH)]


class StaffStatusBody(Schema):
    status: StaffStatus


class ScreeningTypesQuery(Schema):
    """`GET /screening-types` (and `/all`, `/category/{id}`, where paging may be ignored)."""

    page: Page = 1
    page_size: PageSize = 20
    search: str = ""
