"""``stored_files``: bytes kept under ``STORAGE_DIR`` (spec/api/appointments.md §3.2)."""

from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.models import Model

from models.base import utc_now_aware
from models.fields import TextColumn, TimestamptzField


class StoredFile(Model):
    """A stored file; ``id`` is the owning row's id (e.g. the ``ScreeningResultFile.id``).

    ``storage_key`` is the path relative to ``STORAGE_DIR`` (unique), ``sha256`` the hex digest.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    storage_key = TextColumn(unique=True)
    content_type = TextColumn()
    size_bytes = fields.BigIntField()
    sha256 = TextColumn()
    original_name = TextColumn(null=True)
    created_at = TimestamptzField(default=utc_now_aware)

    class Meta:
        table = "stored_files"
