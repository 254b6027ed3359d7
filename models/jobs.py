"""``jobs``: one row per message sent to an actor (id = Dramatiq message id)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models.base import utc_now_aware
from models.fields import TextColumn, TextEnumField, TimestamptzField

if TYPE_CHECKING:
    from models.outbox import OutboxMessage


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"


#: Who may appear in ``jobs.requested_by_kind`` (a CHECK constraint in 0002_system_tables.sql).
REQUESTER_KINDS = ("patient", "donor", "center", "staff", "admin", "api_key", "scheduler", "system")


class Job(Model):
    """A unit of actor work and its outcome.

    ``args`` are the actor's keyword arguments; ``progress`` is ``{"done": n, "total": m}``;
    ``error`` is ``{"type", "message"}`` and never holds secrets.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    actor_name = TextColumn()
    queue_name = TextColumn()
    args = fields.JSONField[dict[str, Any]](default=dict)
    status = TextEnumField(JobStatus, default=JobStatus.QUEUED)
    attempts = fields.IntField(default=0)
    progress = fields.JSONField[dict[str, Any] | None](null=True)
    result = fields.JSONField[Any](null=True)
    error = fields.JSONField[dict[str, Any] | None](null=True)
    requested_by_kind = TextColumn(null=True)
    requested_by_id = TextColumn(null=True)
    idempotency_key = TextColumn(null=True, unique=True)
    created_at = TimestamptzField(default=utc_now_aware)
    updated_at = TimestamptzField(default=utc_now_aware, auto_now=True)
    started_at = TimestamptzField(null=True)
    finished_at = TimestamptzField(null=True)
    heartbeat_at = TimestamptzField(null=True)

    outbox_messages: fields.ReverseRelation[OutboxMessage]

    class Meta:
        table = "jobs"
