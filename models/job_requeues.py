"""``job_requeues``: who requeued which job, when, and from which state (the operators' audit)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models.base import utc_now_aware
from models.fields import TextColumn, TimestamptzField

if TYPE_CHECKING:
    import uuid

    from models.jobs import Job


class JobRequeue(Model):
    """One operator requeue of a failed or dead job.

    ``requeued_by_kind``/``requeued_by_id`` name the principal (``admin`` and its id);
    ``previous_*`` keep the job's status, attempts and error as they were before the requeue.
    """

    id = fields.BigIntField(primary_key=True)
    job: fields.ForeignKeyRelation[Job] = fields.ForeignKeyField(
        "models.Job", related_name="requeues", on_delete=fields.CASCADE
    )
    job_id: uuid.UUID
    requeued_by_kind = TextColumn()
    requeued_by_id = TextColumn(null=True)
    previous_status = TextColumn()
    previous_attempts = fields.IntField()
    previous_error = fields.JSONField[dict[str, Any] | None](null=True)
    created_at = TimestamptzField(default=utc_now_aware)

    class Meta:
        table = "job_requeues"
