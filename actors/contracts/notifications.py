"""notify(): in-app notifications written in the caller's transaction (notifications.md 4.1).

Edge handlers and actors alike call it inside the transaction of the change that causes the
notification, so the rows commit or roll back with that change (D-NOT-6). The same transaction
issues ``pg_notify('notification_created', ...)``: PostgreSQL delivers it only at COMMIT, which is
the "after commit" push the edge's stream listens for (``edge.notification_stream``). E-mails, when
asked for, are one outbox job per recipient, also sent only after commit.

This module is imported by the edge: it must not import Dramatiq or pika.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from actors.contracts.messages import SendEmail
from actors.contracts.outbox import enqueue
from models.base import new_id, utc_now
from models.notifications import Notification
from models.users import User

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tortoise.backends.base.client import BaseDBAsyncClient

#: NOTIFY channel the edge's notification stream LISTENs on.
CHANNEL = "notification_created"
#: The general donor pool's owner: a system user that never receives notifications (D-NOT-4).
SYSTEM_USER_ID = "general-public"
#: E-mail template of notification e-mails (email.md 3: subject ``ZeroCancer - {title}``).
EMAIL_TEMPLATE = "notification"
#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; past this size the recipient list
#: is left out and listeners load the recipients of the notification themselves.
MAX_PAYLOAD_BYTES = 7000

_INSERT_RECIPIENTS = """
INSERT INTO "NotificationRecipient" ("id", "notificationId", "userId", "read")
SELECT r.id, $2, r.user_id, false
FROM unnest($1::text[], $3::text[]) AS r(id, user_id)
"""


def unique_recipients(recipient_ids: Iterable[str]) -> list[str]:
    """The ids in first-seen order, without duplicates, blanks and the system user."""
    seen: dict[str, None] = {}
    for user_id in recipient_ids:
        if user_id and user_id != SYSTEM_USER_ID:
            seen.setdefault(user_id, None)
    return list(seen)


def notify_payload(notification_id: str, user_ids: list[str]) -> str:
    """The NOTIFY payload: ``{"notificationId", "userIds"}``, or without ``userIds`` when long."""
    payload = json.dumps(
        {"notificationId": notification_id, "userIds": user_ids}, separators=(",", ":")
    )
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        payload = json.dumps({"notificationId": notification_id}, separators=(",", ":"))
    return payload


async def notify(
    *,
    using_db: BaseDBAsyncClient,
    type: str,
    title: str,
    message: str,
    recipient_ids: Iterable[str],
    data: dict[str, Any] | None = None,
    email: bool = False,
) -> Notification | None:
    """Insert one ``Notification`` and one ``NotificationRecipient`` per user, in ``using_db``.

    Duplicate ids, the system user ``general-public`` and ids with no ``User`` row are dropped;
    when no recipient is left nothing is written and None is returned. With ``email`` one
    ``SendEmail`` job per recipient is written to the outbox (best effort, never blocking the
    change). Any failure here is a database failure and fails the caller's transaction too.
    """
    wanted = unique_recipients(recipient_ids)
    if not wanted:
        return None
    found = await User.filter(id__in=wanted).using_db(using_db).values_list("id", flat=True)
    existing = {str(user_id) for user_id in found}
    users = [user_id for user_id in wanted if user_id in existing]
    if not users:
        return None
    notification = await Notification.create(
        id=new_id(),
        type=type,
        title=title,
        message=message,
        data=data,
        created_at=utc_now(),
        using_db=using_db,
    )
    await using_db.execute_query(
        _INSERT_RECIPIENTS, [[new_id() for _ in users], notification.id, users]
    )
    await using_db.execute_query(
        "SELECT pg_notify($1, $2)", [CHANNEL, notify_payload(notification.id, users)]
    )
    if email:
        addresses = dict(
            await User.filter(id__in=users).using_db(using_db).values_list("id", "email")
        )
        for user_id in users:
            address = addresses.get(user_id)
            if address:
                await enqueue(
                    SendEmail(
                        template=EMAIL_TEMPLATE,
                        to=address,
                        context={"type": type, "title": title, "message": message},
                    ),
                    using_db=using_db,
                )
    return notification
