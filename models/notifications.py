"""In-app notifications and their per-user recipient rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields

from models.base import CreatedAtModel, ProductionModel
from models.fields import TextColumn, Timestamp3Field

if TYPE_CHECKING:
    from models.users import User


class Notification(CreatedAtModel):
    """A notification; ``type`` is free text (catalogue in the notifications spec).

    There is no ``updatedAt`` column: the API reports ``updatedAt = createdAt``.
    """

    type = TextColumn()
    title = TextColumn()
    message = TextColumn()
    data = fields.JSONField[dict[str, Any] | None](null=True)

    recipients: fields.ReverseRelation[NotificationRecipient]

    class Meta:
        table = "Notification"


class NotificationRecipient(ProductionModel):
    """One ``User``'s copy of a notification; its ``id`` is what the frontend marks as read."""

    notification: fields.ForeignKeyRelation[Notification] = fields.ForeignKeyField(
        "models.Notification",
        related_name="recipients",
        source_field="notificationId",
        on_delete=fields.CASCADE,
    )
    notification_id: str
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User",
        related_name="notifications",
        source_field="userId",
        on_delete=fields.CASCADE,
    )
    user_id: str
    read = fields.BooleanField(default=False)
    read_at = Timestamp3Field(source_field="readAt", null=True)

    class Meta:
        table = "NotificationRecipient"
