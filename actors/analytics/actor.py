"""The analytics actor: `refresh_analytics_snapshot` (queue `analytics`, one run at a time).

Refreshes are idempotent: running one twice stores the same reports with a later
`computed_at`. One at a time across all workers (a concurrent rate limit), because two full
refreshes would only compete for the same tables; a refresh that finds the slot taken waits a
moment and runs after it.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.analytics import snapshots
from actors.contracts.messages import RefreshAnalyticsSnapshot
from actors.errors import InvalidMessageError
from actors.policy import ActorPolicy, RateLimit, register

log = logging.getLogger(__name__)

REFRESH_POLICY = ActorPolicy(
    max_retries=3,
    min_backoff_ms=2_000,
    max_backoff_ms=60_000,
    time_limit_ms=180_000,
    rate_limit=RateLimit("concurrent", 1, ttl_ms=240_000, retry_delay_ms=250),
    notes="one refresh at a time; recomputing a snapshot is harmless",
)


@register(RefreshAnalyticsSnapshot, REFRESH_POLICY)
async def refresh_analytics_snapshot(kind: str | None = None, scope: str = "") -> dict[str, Any]:
    """Recomputes the snapshots of `kind` (all when None) and returns what it stored."""
    try:
        refreshed = await snapshots.refresh(kind, scope)
    except snapshots.UnknownKindError as error:
        raise InvalidMessageError(str(error)) from None
    log.info(
        "analytics refreshed: %d snapshot(s) in %d ms",
        len(refreshed.snapshots),
        refreshed.duration_ms,
    )
    return refreshed.summary()
