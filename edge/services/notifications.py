"""In-app notifications: a user's list, marking read, admin notifications (notifications.md 3).

Recipient rows are what users see (`TNotificationRecipient`); the stream
(`edge.notification_stream`) loads them with `recipients_of` and `recipients_after`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from actors.contracts.notifications import SYSTEM_USER_ID, notify
from edge.services.errors import InvalidInputError, NotFoundError
from models.base import utc_now
from models.notifications import Notification, NotificationRecipient
from models.users import User


def notification_json(notification: Notification) -> dict[str, Any]:
    """`TNotification`: `data` only when it is an object; `updatedAt` repeats `createdAt`."""
    data = notification.data if isinstance(notification.data, dict) else None
    return {
        "id": notification.id,
        "type": notification.type,
        "title": notification.title,
        "message": notification.message,
        "data": data,
        "createdAt": notification.created_at,
        "updatedAt": notification.created_at,
    }


def recipient_json(recipient: NotificationRecipient) -> dict[str, Any]:
    """`TNotificationRecipient` (its `notification` must be loaded)."""
    return {
        "id": recipient.id,
        "userId": recipient.user_id,
        "notificationId": recipient.notification_id,
        "read": recipient.read,
        "readAt": recipient.read_at,
        "notification": notification_json(recipient.notification),
    }


async def list_for_user(
    user_id: str, *, limit: int, before: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The user's newest notifications first (ties: recipient id descending)."""
    query = NotificationRecipient.filter(user_id=user_id).select_related("notification")
    if before is not None:
        query = query.filter(notification__created_at__lt=before)
    rows = await query.order_by("-notification__created_at", "-id").limit(limit)
    return [recipient_json(row) for row in rows]


# An already-read row keeps the `readAt` it got the first time (D-NOT-2).
_MARK_READ = """
UPDATE "NotificationRecipient"
SET "read" = true, "readAt" = COALESCE("readAt", $3)
WHERE "id" = $1 AND "userId" = $2
RETURNING "readAt"
"""


async def mark_read(recipient_id: str, *, user_id: str) -> dict[str, Any]:
    """Marks the user's own recipient row read; raises NotFoundError for any other id."""
    rows = await connections.get("default").execute_query_dict(
        _MARK_READ, [recipient_id, user_id, utc_now()]
    )
    if not rows:
        raise NotFoundError("Notification not found")
    return {"id": recipient_id, "read": True, "readAt": rows[0]["readAt"]}


async def create_for_users(
    *,
    type: str,
    title: str,
    message: str,
    user_ids: Collection[str],
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An admin's notification to existing users (the system user is not one).

    Raises InvalidInputError "Some users not found" before writing anything.
    """
    async with in_transaction() as conn:
        found = await User.filter(id__in=list(user_ids)).using_db(conn).count()
        if SYSTEM_USER_ID in user_ids or found != len(set(user_ids)):
            raise InvalidInputError("Some users not found")
        notification = await notify(
            using_db=conn,
            type=type,
            title=title,
            message=message,
            recipient_ids=user_ids,
            data=data,
        )
    if notification is None:  # pragma: no cover - every id was checked above
        raise InvalidInputError("Some users not found")
    return notification_json(notification)


async def recipients_of(
    notification_id: str, user_ids: Collection[str] | None
) -> list[NotificationRecipient]:
    """The recipient rows of one notification for these users (all users when None)."""
    query = NotificationRecipient.filter(notification_id=notification_id)
    if user_ids is not None:
        query = query.filter(user_id__in=list(user_ids))
    return await query.select_related("notification").order_by("id")


async def cursor_of(recipient_id: str, *, user_id: str) -> tuple[dt.datetime, str] | None:
    """Where a recipient row of this user sits in stream order: (created at, recipient id)."""
    row = await NotificationRecipient.get_or_none(id=recipient_id, user_id=user_id).select_related(
        "notification"
    )
    if row is None:
        return None
    return row.notification.created_at, row.id


# Stream order is (notification createdAt, recipient id), as the list's order reversed.
_AFTER = """
SELECT r."id" FROM "NotificationRecipient" r
JOIN "Notification" n ON n."id" = r."notificationId"
WHERE r."userId" = $1 AND (n."createdAt", r."id") > ($2::timestamp, $3::text)
ORDER BY n."createdAt" DESC, r."id" DESC
LIMIT $4
"""


async def recipients_after(
    user_id: str, cursor: tuple[dt.datetime, str], *, limit: int
) -> list[NotificationRecipient]:
    """The newest `limit` rows of the user after `cursor`, oldest first."""
    rows = await connections.get("default").execute_query_dict(
        _AFTER, [user_id, cursor[0], cursor[1], limit]
    )
    ids = [row["id"] for row in rows]
    if not ids:
        return []
    loaded = {
        row.id: row
        for row in await NotificationRecipient.filter(id__in=ids).select_related("notification")
    }
    return [loaded[recipient_id] for recipient_id in reversed(ids) if recipient_id in loaded]


def stream_key(recipient: NotificationRecipient) -> tuple[dt.datetime, str]:
    """A delivered row's place in stream order (see `recipients_after`)."""
    return recipient.notification.created_at, recipient.id
