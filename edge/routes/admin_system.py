"""Admin system health: GET /api/v1/admin/system/health (analytics.md §8, admin.md §11.7).

The contract's matching health (`status`, `metrics`, `lastExecution`) plus `components`: the
database, the outbox (with this edge's relay), jobs, worker heartbeats and this edge's circuit
breakers. A part that is down is reported as such; the answer is still 200.
"""

from __future__ import annotations

import logging
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from actors.contracts import all_messages
from actors.contracts.messages import RunMatching
from edge.auth.guards import requires_role
from edge.envelope import ok
from edge.errors import ApiError
from edge.jobs import JobRuntime, JobRuntimeSettings
from edge.services import admin_overview
from monitoring.metrics import BreakerState

log = logging.getLogger("zerocancer.edge.admin_system")

bp = Blueprint("admin_system", url_prefix="/admin")

FAILED = "Failed to check system health"


def _relay(request: Request) -> dict[str, Any]:
    """Who relays the outbox for this edge and whether its last publish reached the broker."""
    relay = getattr(request.app.ctx, "relay", None)
    settings = request.app.ctx.settings
    if relay is not None:
        return {"relay": "in-process", "connected": relay.stats.broker_ok}
    return {"relay": "external" if settings.broker_url else "embedded", "connected": None}


def _breakers(runtime: JobRuntime | None) -> dict[str, Any]:
    """This edge process's circuit breakers that are not closed."""
    if runtime is None:
        return {"status": "unknown", "open": [], "halfOpen": []}
    states = {
        message.actor_name: runtime.breaker.state(message.actor_name) for message in all_messages()
    }
    opened = sorted(actor for actor, state in states.items() if state == BreakerState.OPEN)
    probing = sorted(actor for actor, state in states.items() if state == BreakerState.HALF_OPEN)
    return {
        "status": "degraded" if opened or probing else "up",
        "open": opened,
        "halfOpen": probing,
    }


@bp.get("/system/health", name="admin_system_health")
@requires_role("admin")
async def admin_system_health(request: Request) -> HTTPResponse:
    """Matching health metrics and the state of the database, outbox, jobs and workers."""
    try:
        runtime: JobRuntime | None = getattr(request.app.ctx, "jobs", None)
        settings = runtime.settings if runtime is not None else JobRuntimeSettings()
        report = await admin_overview.system_health(
            stale_seconds=settings.worker_stale_seconds, matching_queue=RunMatching.queue_name
        )
        components = report["components"]
        relay = _relay(request)
        components["outbox"].update(relay)
        if relay["connected"] is False and components["outbox"]["status"] == "up":
            components["outbox"]["status"] = "degraded"
        components["circuitBreakers"] = _breakers(runtime)
    except Exception as exc:
        log.error("system health failed: %s", type(exc).__name__, exc_info=exc)
        raise ApiError(FAILED, status=500) from None
    return ok(report)
