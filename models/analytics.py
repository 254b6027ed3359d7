"""``analytics_snapshots``: precomputed analytics, one row per (kind, scope)."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.base import utc_now_aware
from models.fields import TextColumn, TimestamptzField


class AnalyticsSnapshot(Model):
    """The latest result of one metric or report.

    ``scope`` narrows it (e.g. a center id); ``""`` is the platform-wide scope. Refreshes upsert
    on ``(kind, scope)``.
    """

    id = fields.BigIntField(primary_key=True)
    kind = TextColumn()
    scope = TextColumn(default="")
    data = fields.JSONField[Any]()
    computed_at = TimestamptzField(default=utc_now_aware)
    duration_ms = fields.IntField()

    class Meta:
        table = "analytics_snapshots"
        unique_together = (("kind", "scope"),)
