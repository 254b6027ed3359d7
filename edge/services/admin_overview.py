"""Admin overviews: waitlist analytics and system health (analytics.md §7, §8).

Both are read-only and set-based: the waitlist page is one page query plus one count, an
aggregation one ``GROUP BY``; system health is a handful of aggregate statements, one per part.

System health never fails because a part is down. Each part (database, matching metrics,
outbox, jobs, worker heartbeats) runs on its own with a deadline; a part that fails or times out
is reported (``"status": "down"`` for the database, ``"unknown"`` for a check that could not run)
and the others are still answered. When the matching metrics cannot be read the contract's
``status`` is ``critical`` and the metrics are ``null``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Literal, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from edge.services.rows import row
from models.base import utc_now
from models.matching import MatchingExecution

log = logging.getLogger("zerocancer.edge.admin_overview")

T = TypeVar("T")

GroupBy = Literal["state", "screening_type", "status"]

# ---------------------------------------------------------------------------------------------
# Waitlist (analytics.md §7)

#: groupBy -> (SQL expression of the key, key name in each element). Fixed fragments only.
GROUP_KEYS: dict[str, tuple[str, str]] = {
    "state": ("COALESCE(NULLIF(p.state, ''), 'Unknown')", "state"),
    "screening_type": ("s.name", "screeningType"),
    "status": ("w.status::text", "status"),
}

_FROM = """
FROM "Waitlist" w
JOIN "ScreeningType" s ON s.id = w."screeningTypeId"
LEFT JOIN "PatientProfile" p ON p."userId" = w."patientId"
"""

_PAGE_SQL = """
SELECT w.id, w."screeningTypeId" AS screening_type_id, w."patientId" AS patient_id,
       w.status::text AS status, w."joinedAt" AS joined_at, w."claimedAt" AS claimed_at,
       w."expiredAt" AS expired_at, u."fullName" AS full_name,
       p.id AS profile_id, p.state AS profile_state, p.city AS profile_city,
       s.name AS screening_name,
       a.id AS allocation_id, a."claimedAt" AS allocation_claimed_at
{from_}
JOIN "User" u ON u.id = w."patientId"
LEFT JOIN "DonationAllocation" a ON a."waitlistId" = w.id
{where}
ORDER BY w."joinedAt", w.id
OFFSET ${offset} LIMIT ${limit}
"""


def _where(
    status: str | None, screening_type_id: str | None, state: str | None
) -> tuple[str, list[Any]]:
    """The WHERE clause of the filters that are set, and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if status is not None:
        params.append(status)
        clauses.append(f'w.status = ${len(params)}::"AllocationStatus"')
    if screening_type_id is not None:
        params.append(screening_type_id)
        clauses.append(f'w."screeningTypeId" = ${len(params)}')
    if state:
        params.append(state)
        clauses.append(f"p.state = ${len(params)}")
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


async def waitlist_aggregation(
    group_by: GroupBy,
    *,
    status: str | None = None,
    screening_type_id: str | None = None,
    state: str | None = None,
) -> list[dict[str, Any]]:
    """`[{"count": n, <key name>: key}]` over the filtered entries; count descending, then key
    ascending (byte order, so the same on every database collation)."""
    expression, name = GROUP_KEYS[group_by]
    where, params = _where(status, screening_type_id, state)
    sql = (
        f'SELECT ({expression}) COLLATE "C" AS key, count(*) AS n {_FROM} {where} '
        "GROUP BY 1 ORDER BY n DESC, key"
    )
    found = await connections.get("default").execute_query_dict(sql, params)
    return [{"count": int(entry["n"]), name: entry["key"]} for entry in found]


async def waitlist_page(
    *,
    page: int,
    page_size: int,
    status: str | None = None,
    screening_type_id: str | None = None,
    state: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of filtered entries (oldest `joinedAt` first) and the filtered total."""
    conn = connections.get("default")
    where, params = _where(status, screening_type_id, state)
    counted = await conn.execute_query_dict(f"SELECT count(*) AS n {_FROM} {where}", params)
    sql = _PAGE_SQL.format(from_=_FROM, where=where, offset=len(params) + 1, limit=len(params) + 2)
    found = await conn.execute_query_dict(sql, [*params, (page - 1) * page_size, page_size])
    return [_entry(item) for item in found], int(counted[0]["n"])


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "screeningTypeId": item["screening_type_id"],
        "patientId": item["patient_id"],
        "status": item["status"],
        "joinedAt": item["joined_at"],
        "claimedAt": item["claimed_at"],
        "expiredAt": item["expired_at"],
        "patient": {
            "id": item["patient_id"],
            "fullName": item["full_name"],
            "patientProfile": (
                {"state": item["profile_state"], "city": item["profile_city"]}
                if item["profile_id"] is not None
                else None
            ),
        },
        "screening": {"id": item["screening_type_id"], "name": item["screening_name"]},
        "allocation": (
            {"id": item["allocation_id"], "claimedAt": item["allocation_claimed_at"]}
            if item["allocation_id"] is not None
            else None
        ),
    }


# ---------------------------------------------------------------------------------------------
# System health (analytics.md §8, plus the runtime's parts)

#: Longest the whole health report may take; a part still running then is reported timed out.
HEALTH_BUDGET_SECONDS = 5.0
#: Past this age of the oldest due, unsent outbox row the outbox is reported degraded (the
#: threshold readiness uses, edge/relay_task.py).
OUTBOX_DEGRADED_SECONDS = 60.0
#: The matching window of §8: executions started within the last 24 hours.
RECENT_WINDOW = timedelta(hours=24)
#: At most this many executions make up `recent` (§8).
RECENT_LIMIT = 10

_MATCHING_SQL = """
WITH recent AS (
    SELECT status, "processingTimeMs" FROM matching_executions
    WHERE "startedAt" >= $1 ORDER BY "startedAt" DESC, id DESC LIMIT $2
)
SELECT
    (SELECT count(*) FROM recent) AS total,
    (SELECT count(*) FROM recent WHERE status = 'COMPLETED') AS successful,
    (SELECT count(*) FROM recent WHERE status = 'FAILED') AS failed,
    (SELECT round(avg("processingTimeMs")) FROM recent) AS average_ms,
    (SELECT count(*) FROM "Waitlist" WHERE status = 'PENDING') AS pending,
    (SELECT count(*) FROM "DonationAllocation" a
       JOIN matching_executions e ON e.id = a."matchingExecutionId"
      WHERE e."startedAt" >= $1) AS allocations
"""

_OUTBOX_SQL = """
SELECT count(*) AS pending,
       count(*) FILTER (WHERE available_at <= now()) AS due,
       EXTRACT(EPOCH FROM (now() - min(available_at) FILTER (WHERE available_at <= now())))
           ::float8 AS oldest_due_age
FROM outbox WHERE sent_at IS NULL
"""

_JOBS_SQL = """
SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
       count(*) FILTER (WHERE status = 'running') AS running,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'dead') AS dead,
       count(*) FILTER (WHERE status = 'dead' AND finished_at >= now() - interval '24 hours')
           AS dead_last_24h
FROM jobs WHERE status IN ('queued', 'running', 'failed', 'dead')
"""

_WORKERS_SQL = """
SELECT count(*) AS total,
       count(*) FILTER (WHERE beat_at >= now() - make_interval(secs => $1)) AS fresh,
       count(*) FILTER (
           WHERE beat_at >= now() - make_interval(secs => $1)
             AND (cardinality(queues) = 0 OR $2 = ANY(queues))
       ) AS serving_matching,
       max(beat_at) AS newest,
       EXTRACT(EPOCH FROM (now() - max(beat_at)))::float8 AS newest_age
FROM worker_heartbeats
"""

METRIC_KEYS = (
    "totalExecutions",
    "successfulExecutions",
    "failedExecutions",
    "successRate",
    "averageProcessingTimeMs",
    "pendingWaitlistCount",
    "recentAllocations",
)


def health_status(total: int, failed: int) -> str:
    """§8: healthy without failures; warning while failures are under half; else critical."""
    if failed == 0:
        return "healthy"
    return "warning" if failed < total / 2 else "critical"


async def _part(name: str, work: Awaitable[T], seconds: float) -> T | BaseException:
    """The part's value, or the exception that stopped it (a timeout included)."""
    try:
        return await asyncio.wait_for(work, seconds)
    except Exception as exc:
        log.warning("system health: %s unavailable: %s", name, type(exc).__name__)
        return exc


class DatabaseDownError(Exception):
    """A part that was not tried because the database did not answer."""


def _error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "Timeout"
    if isinstance(exc, DatabaseDownError):
        return "DatabaseDown"
    return type(exc).__name__


async def _database(conn: BaseDBAsyncClient) -> dict[str, Any]:
    started = time.perf_counter()
    await conn.execute_query_dict("SELECT 1 AS one")
    return {"status": "up", "latencyMs": round((time.perf_counter() - started) * 1000, 1)}


async def _matching(conn: BaseDBAsyncClient) -> dict[str, Any]:
    since = utc_now() - RECENT_WINDOW
    found = (await conn.execute_query_dict(_MATCHING_SQL, [since, RECENT_LIMIT]))[0]
    last = (
        await MatchingExecution.filter(started_at__gte=since)
        .using_db(conn)
        .order_by("-started_at", "-id")
        .first()
    )
    total, successful, failed = int(found["total"]), int(found["successful"]), int(found["failed"])
    average = found["average_ms"]
    return {
        "status": health_status(total, failed),
        "metrics": {
            "totalExecutions": total,
            "successfulExecutions": successful,
            "failedExecutions": failed,
            "successRate": successful / total * 100 if total else 0,
            "averageProcessingTimeMs": int(average) if average is not None else 0,
            "pendingWaitlistCount": int(found["pending"]),
            "recentAllocations": int(found["allocations"]),
        },
        "lastExecution": row(last) if last is not None else None,
    }


async def _outbox(conn: BaseDBAsyncClient) -> dict[str, Any]:
    found = (await conn.execute_query_dict(_OUTBOX_SQL))[0]
    age = found["oldest_due_age"]
    oldest = None if age is None else round(max(0.0, float(age)), 1)
    lagging = oldest is not None and oldest > OUTBOX_DEGRADED_SECONDS
    return {
        "status": "degraded" if lagging else "up",
        "pending": int(found["pending"]),
        "due": int(found["due"]),
        "oldestDueAgeSeconds": oldest,
    }


async def _jobs(conn: BaseDBAsyncClient) -> dict[str, Any]:
    found = (await conn.execute_query_dict(_JOBS_SQL))[0]
    counts = {key: int(found[key]) for key in ("queued", "running", "failed", "dead")}
    recent_dead = int(found["dead_last_24h"])
    return {
        "status": "degraded" if recent_dead else "up",
        **counts,
        "deadLast24h": recent_dead,
    }


async def _workers(
    conn: BaseDBAsyncClient, stale_seconds: float, matching_queue: str
) -> dict[str, Any]:
    found = (await conn.execute_query_dict(_WORKERS_SQL, [float(stale_seconds), matching_queue]))[0]
    fresh, serving = int(found["fresh"]), int(found["serving_matching"])
    age = found["newest_age"]
    if fresh == 0:
        status = "down"
    elif serving == 0:
        status = "degraded"
    else:
        status = "up"
    return {
        "status": status,
        "fresh": fresh,
        "total": int(found["total"]),
        "matchingQueueServed": serving > 0,
        "staleAfterSeconds": stale_seconds,
        "lastHeartbeatAt": found["newest"],
        "lastHeartbeatAgeSeconds": None if age is None else round(max(0.0, float(age)), 1),
    }


async def system_health(
    *,
    stale_seconds: float,
    matching_queue: str = "matching",
    budget_seconds: float = HEALTH_BUDGET_SECONDS,
    conn: BaseDBAsyncClient | None = None,
) -> dict[str, Any]:
    """§8's `{"status", "metrics", "lastExecution"}` plus `components` (database, matching,
    outbox, jobs, workers) and `checkedAt`. Never raises for a part that is down.

    The database is probed first; when it does not answer, the other parts are not tried (they
    read the same database) and are reported `unknown`. Parts run one after the other on one
    pooled connection at a time, all within `budget_seconds` together.
    """
    db = conn if conn is not None else connections.get("default")
    deadline = time.monotonic() + budget_seconds
    answers: dict[str, dict[str, Any] | BaseException] = {}
    answers["database"] = await _part("database", _database(db), budget_seconds)
    database_down = isinstance(answers["database"], BaseException)
    checks: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "matching": lambda: _matching(db),
        "outbox": lambda: _outbox(db),
        "jobs": lambda: _jobs(db),
        "workers": lambda: _workers(db, stale_seconds, matching_queue),
    }
    for name, check in checks.items():
        remaining = deadline - time.monotonic()
        if database_down:
            answers[name] = DatabaseDownError()
        elif remaining <= 0:
            answers[name] = TimeoutError()
        else:
            answers[name] = await _part(name, check(), remaining)

    components: dict[str, Any] = {}
    for name, answer in answers.items():
        if isinstance(answer, BaseException):
            status = "down" if name == "database" else "unknown"
            components[name] = {"status": status, "error": _error(answer)}
        elif name == "matching":
            components[name] = {"status": "up"}
        else:
            components[name] = answer

    matching = answers["matching"]
    if isinstance(matching, BaseException):
        report: dict[str, Any] = {
            "status": "critical",
            "metrics": dict.fromkeys(METRIC_KEYS),
            "lastExecution": None,
        }
    else:
        report = matching
    return {**report, "components": components, "checkedAt": utc_now()}
