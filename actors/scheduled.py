"""Maintenance actors the scheduler triggers (queue ``scheduled``)."""

from __future__ import annotations

import logging

from actors.contracts.messages import PurgeExpiredTokens
from actors.policy import ActorPolicy, RateLimit, register

log = logging.getLogger(__name__)

PURGE_POLICY = ActorPolicy(
    max_retries=3,
    min_backoff_ms=60_000,
    max_backoff_ms=600_000,
    time_limit_ms=300_000,
    rate_limit=RateLimit("concurrent", 1, ttl_ms=360_000, retry_delay_ms=10_000),
    notes="daily; deleting expired rows twice is harmless",
)


@register(PurgeExpiredTokens, PURGE_POLICY)
async def purge_expired_tokens() -> dict[str, int]:
    """Deletes expired one-time tokens and revocations past expiry; returns rows deleted per table.

    Unused staff invitations are kept (they are history the centre may list).
    """
    from models.auth import TokenRevocation
    from models.base import utc_now, utc_now_aware
    from models.tokens import (
        AdminResetToken,
        CenterStaffResetToken,
        EmailVerificationToken,
        PasswordResetToken,
    )

    now = utc_now()  # the token tables hold naive UTC TIMESTAMP(3)
    deleted = {
        "EmailVerificationToken": await EmailVerificationToken.filter(expires_at__lt=now).delete(),
        "PasswordResetToken": await PasswordResetToken.filter(expires_at__lt=now).delete(),
        "CenterStaffResetToken": await CenterStaffResetToken.filter(expires_at__lt=now).delete(),
        "AdminResetToken": await AdminResetToken.filter(expires_at__lt=now).delete(),
        "token_revocations": await TokenRevocation.filter(expires_at__lt=utc_now_aware()).delete(),
    }
    log.info("purged expired tokens: %s", deleted)
    return deleted
