"""Refresh-token revocation (spec/api/auth.md §2.1): revoked token ids, credential changes."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.base import utc_now_aware
from models.fields import TextColumn, TimestamptzField

#: ``auth_credential_changes.subject_type`` values and the id each one names.
SUBJECT_TYPES = {
    "user": "User.id (patient and donor tokens)",
    "center": "ServiceCenter.id (center tokens without staffId)",
    "staff": "CenterStaff.id (tokens with staffId)",
    "admin": "Admins.id",
}


class TokenRevocation(Model):
    """``token_revocations``: a refresh token (by ``jti``) revoked by logout.

    Rows past ``expires_at`` are useless and purged daily.
    """

    jti = TextColumn(primary_key=True)
    expires_at = TimestamptzField()
    revoked_at = TimestamptzField(default=utc_now_aware)

    class Meta:
        table = "token_revocations"


class CredentialChange(Model):
    """``auth_credential_changes``: the last password reset or suspension of one subject.

    ``/auth/refresh`` rejects refresh tokens issued (``iat``) before ``changed_at``. Upsert on
    the unique ``(subject_type, subject_id)``.
    """

    id = fields.BigIntField(primary_key=True)
    subject_type = TextColumn()
    subject_id = TextColumn()
    changed_at = TimestamptzField(default=utc_now_aware)

    class Meta:
        table = "auth_credential_changes"
        unique_together = (("subject_type", "subject_id"),)
