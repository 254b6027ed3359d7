"""``schema_version``: which migration files ran, with their checksums and the fingerprint.

Written only by ``models.migrate`` (which also creates the table); read by
``models.fingerprint.check_schema``.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.base import utc_now_aware
from models.fields import TextColumn, TimestamptzField


class SchemaVersion(Model):
    """One applied (or, for 0001 on an existing production database, baselined) file.

    ``fingerprint`` is ``models.fingerprint.model_fingerprint()`` of the code that applied the
    newest version, recorded once the live schema was checked against those models.
    """

    version = fields.IntField(primary_key=True, generated=False)
    name = TextColumn()
    checksum = TextColumn()
    applied_at = TimestamptzField(default=utc_now_aware)
    baseline = fields.BooleanField(default=False)
    fingerprint = TextColumn(null=True)

    class Meta:
        table = "schema_version"
