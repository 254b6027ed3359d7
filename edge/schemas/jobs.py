"""Request models of /api/v1/jobs and /api/v1/admin/jobs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge.validation import EmailStr, Schema


class FailedJobsQuery(Schema):
    """The operators' list: failed and dead jobs (or one of them), newest change first."""

    page: Annotated[int, Field(ge=1)] = 1
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    status: Literal["failed", "dead"] | None = None
    actor: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    queue: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    date_from: str | None = None
    date_to: str | None = None


class EmailCheckBody(Schema):
    to: EmailStr
