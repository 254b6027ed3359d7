"""Health routes: /api/v1/healthz (liveness) and /api/v1/readyz (readiness)."""

from __future__ import annotations

import logging

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from tortoise import connections

from edge.envelope import ok, respond
from edge.jobs import readiness
from models.fingerprint import check_schema

log = logging.getLogger("zerocancer.edge.health")

bp = Blueprint("health")


@bp.get("/healthz", name="healthz")
async def healthz(request: Request) -> HTTPResponse:
    """Liveness: the process answers (no dependency is checked)."""
    return ok({"status": "ok"})


@bp.get("/readyz", name="readyz")
async def readyz(request: Request) -> HTTPResponse:
    """Readiness: the database answers and its schema fingerprint matches this edge.

    `jobs` reports the broker path (relay, outbox backlog), fresh worker heartbeats and the
    job_done listener; it does not gate readiness (the outbox and the breaker absorb those).
    """
    checks: dict[str, str] = {}
    try:
        connection = connections.get("default")
        await connection.execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readiness: database unavailable: %s", type(exc).__name__)
        checks["database"] = "unavailable"
    if checks["database"] == "ok":
        try:
            await check_schema(connection)
            checks["schema"] = "ok"
        except Exception as exc:
            log.warning("readiness: schema check failed: %s", exc)
            checks["schema"] = "mismatch"
    else:
        checks["schema"] = "unknown"
    jobs = await readiness(request.app) if checks["database"] == "ok" else {}
    if all(value == "ok" for value in checks.values()):
        return ok({"status": "ready", "checks": checks, "jobs": jobs})
    return respond(
        {
            "ok": False,
            "error": "Not ready",
            "data": {"status": "not_ready", "checks": checks, "jobs": jobs},
        },
        status=503,
        headers={"Retry-After": "5"},
    )
