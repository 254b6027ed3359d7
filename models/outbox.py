"""``outbox``: messages waiting for the relay to publish them to the broker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models.base import utc_now_aware
from models.fields import TextColumn, TimestamptzField

if TYPE_CHECKING:
    import uuid

    from models.jobs import Job


class OutboxMessage(Model):
    """One Dramatiq message (``message`` = the message dict) for the relay.

    Pending rows are ``sent_at IS NULL`` (partial index ``outbox_pending_idx`` on
    ``(available_at, id)``). A statement trigger sends ``NOTIFY outbox`` on every insert, so
    writers need not call ``pg_notify`` themselves (doing so as well is harmless: PostgreSQL
    folds identical notifications of one transaction into one).
    """

    id = fields.BigIntField(primary_key=True)
    job: fields.ForeignKeyRelation[Job] = fields.ForeignKeyField(
        "models.Job", related_name="outbox_messages", on_delete=fields.CASCADE
    )
    job_id: uuid.UUID
    queue_name = TextColumn()
    message = fields.JSONField[dict[str, Any]]()
    available_at = TimestamptzField(default=utc_now_aware)
    sent_at = TimestamptzField(null=True)
    created_at = TimestamptzField(default=utc_now_aware)

    class Meta:
        table = "outbox"
