"""``worker_heartbeats``: one row per running worker process (written by the worker, read by the
edge's circuit breaker and readiness check)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.base import utc_now_aware
from models.fields import TextArrayField, TextColumn, TimestamptzField


class WorkerHeartbeat(Model):
    """A worker process's latest sign of life.

    ``id`` is ``"<worker_name>:<pid>"``; ``worker_name`` is the stable name also used as the
    ``worker`` label of ``zerocancer_worker_heartbeat_timestamp_seconds``; ``queues`` are the
    queues the process consumes. ``beat_at`` is written with the database's clock, so readers
    compare it with ``now()`` and never with their own clock.
    """

    id = TextColumn(primary_key=True)
    worker_name = TextColumn()
    pid = fields.IntField()
    queues = TextArrayField(null=False)
    started_at = TimestamptzField(default=utc_now_aware)
    beat_at = TimestamptzField(default=utc_now_aware)

    class Meta:
        table = "worker_heartbeats"
