"""Rows and helpers for the center, screening-type and notification tests (beside tests/factories).

await offer(center, screening_type, price=None)      # offered, priced at agreedPrice
invite = await make_invite(center, expired=True)
row = await make_notification([patient.id], created_at=...)
async for event in sse_events(response): ...
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from edge.services.accounts import one_time_token
from models.base import utc_now
from models.centers import ServiceCenter, ServiceCenterScreeningType
from models.notifications import Notification, NotificationRecipient
from models.screening_types import ScreeningType, ScreeningTypeCategory
from models.staff import CenterStaffInvite


async def offer(
    center: ServiceCenter, screening_type: ScreeningType, *, price: float | None = None
) -> None:
    """The center offers the type; with `price`, it also has its own price row."""
    await center.services.add(screening_type)
    if price is not None:
        await ServiceCenterScreeningType.create(
            center_id=center.id, screening_type_id=screening_type.id, amount=price
        )


async def make_category(*, name: str | None = None) -> ScreeningTypeCategory:
    return await ScreeningTypeCategory.create(name=name or f"Category {uuid.uuid4().hex[:6]}")


async def make_invite(
    center: ServiceCenter,
    *,
    email: str | None = None,
    expires_at: dt.datetime | None = None,
    expired: bool = False,
    accepted: bool = False,
    token: str | None = None,
) -> CenterStaffInvite:
    """A pending invite expiring in 7 days (or already `expired`, or `accepted`)."""
    if expires_at is None:
        expires_at = utc_now() + (dt.timedelta(days=-1) if expired else dt.timedelta(days=7))
    return await CenterStaffInvite.create(
        center_id=center.id,
        email=email or f"invitee-{uuid.uuid4().hex[:8]}@example.com",
        token=token or one_time_token(),
        expires_at=expires_at,
        accepted_at=utc_now() if accepted else None,
    )


async def make_notification(
    user_ids: Iterable[str],
    *,
    type: str = "MATCHED",
    title: str = "You have been matched to a donation campaign!",
    message: str = "You have been matched for a free screening: Pap smear.",
    data: Any = None,
    created_at: dt.datetime | None = None,
    read: bool = False,
) -> list[NotificationRecipient]:
    """A notification and one recipient row per user, written directly (no NOTIFY)."""
    notification = await Notification.create(
        type=type,
        title=title,
        message=message,
        data=data,
        created_at=created_at or utc_now(),
    )
    rows = []
    for user_id in user_ids:
        rows.append(
            await NotificationRecipient.create(
                notification_id=notification.id,
                user_id=user_id,
                read=read,
                read_at=utc_now() if read else None,
            )
        )
    return rows


async def jobs(db: asyncpg.Connection, actor_name: str = "send_email") -> list[dict[str, Any]]:
    """The keyword arguments of the queued jobs of one actor, oldest first."""
    rows = await db.fetch(
        "SELECT args FROM jobs WHERE actor_name = $1 ORDER BY created_at, id", actor_name
    )
    return [json.loads(row["args"]) for row in rows]


def assert_validation_error(response: httpx.Response, *paths: str) -> list[dict[str, Any]]:
    """The 400 validation envelope (zod shape); each of `paths` names a failing field."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["name"] == "ZodError"
    issues: list[dict[str, Any]] = body["error"]["issues"]
    assert issues
    for issue in issues:
        assert isinstance(issue["path"], list)
        assert isinstance(issue["message"], str)
    failing = {str(issue["path"][0]) for issue in issues if issue["path"]}
    for path in paths:
        assert path in failing, (path, issues)
    return issues


@dataclass
class Event:
    """One server-sent event (comments are kept as `comment`)."""

    event: str = "message"
    id: str | None = None
    data: str = ""
    comment: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.data)


async def sse_events(response: httpx.Response) -> AsyncIterator[Event]:
    """The events of a streaming `text/event-stream` response, as they arrive."""
    current = Event()
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data or current.comment is not None or current.fields:
                current.data = "\n".join(data)
                yield current
            current, data = Event(), []
            continue
        if line.startswith(":"):
            current.comment = line[1:].strip()
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        current.fields[name] = value
        if name == "event":
            current.event = value
        elif name == "id":
            current.id = value
        elif name == "data":
            data.append(value)
