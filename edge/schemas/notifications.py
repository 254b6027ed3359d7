"""Request models of /api/v1/notifications (notifications.md 3)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from edge.validation import Schema

#: Default and largest number of notifications one list call returns.
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
#: Most recipients one admin notification may have (New).
MAX_RECIPIENTS = 1000


def _iso_timestamp(value: Any) -> dt.datetime:
    """An ISO-8601 timestamp string as naive UTC (the columns' form); naive input is UTC."""
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_date", "Invalid datetime")
    text = value.strip()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError("invalid_date", "Invalid datetime") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class NotificationsQuery(Schema):
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    before: Annotated[dt.datetime | None, BeforeValidator(_iso_timestamp)] = None


class NotificationCreate(Schema):
    type: Annotated[str, Field(min_length=1)]
    title: Annotated[str, Field(min_length=1)]
    message: Annotated[str, Field(min_length=1)]
    data: dict[str, Any] | None = None
    user_ids: Annotated[
        list[Annotated[str, Field(min_length=1)]],
        Field(min_length=1, max_length=MAX_RECIPIENTS),
        AfterValidator(_unique),
    ]
