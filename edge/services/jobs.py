"""Jobs as clients and operators see them: who may read a job, its public view, the operators'
list of failed and dead jobs, and requeueing one through the outbox with an audit row.

A job the caller may not read answers exactly like a missing one (``NotFoundError``), so job
ids never reveal whether a job exists. Arguments (``jobs.args``) are never shown: they can hold
one-time tokens (verification and reset e-mails carry them in their context).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from actors.contracts import Requester
from edge.auth.guards import CENTER_ROLES, Principal
from edge.services.errors import AlreadyExistsError, NotFoundError
from models.jobs import Job, JobStatus

NOT_FOUND = "Job not found"
#: Statuses an operator may requeue (``failed``: a retry is scheduled but may be far off).
REQUEUEABLE = (JobStatus.FAILED, JobStatus.DEAD)
#: Requester kinds a principal's role maps to (``center_staff`` asks as ``staff``).
_REQUESTER_KINDS = {"center_staff": "staff"}
_KNOWN_KINDS = frozenset({"patient", "donor", "center", "staff", "admin", "api_key"})


class JobNotRequeueableError(AlreadyExistsError):
    """The job is queued, running or succeeded: nothing to requeue (409)."""

    default_message = "Only failed or dead jobs can be requeued"
    default_code = "job_not_requeueable"


def requester_for(principal: Principal | None) -> Requester:
    """Who asks, as a ``jobs.requested_by_*`` pair. Center roles ask for their center."""
    if principal is None:
        return Requester("system")
    kind = _REQUESTER_KINDS.get(principal.kind, principal.kind)
    if kind not in _KNOWN_KINDS:
        return Requester("system")
    if principal.kind in CENTER_ROLES:
        return Requester(kind, principal.center_id or principal.id)
    return Requester(kind, principal.id)


def may_read(job: Job, principal: Principal) -> bool:
    """Admins read every job; others only jobs they (or, for center roles, their center) asked
    for."""
    if principal.kind == "admin":
        return True
    if job.requested_by_id is None:
        return False
    if principal.kind in CENTER_ROLES:
        center = principal.center_id or principal.id
        return job.requested_by_kind in ("center", "staff") and job.requested_by_id == center
    mine = requester_for(principal)
    return job.requested_by_kind == mine.kind and job.requested_by_id == mine.id


def parse_job_id(job_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(job_id)
    except (ValueError, TypeError):
        return None


async def readable_job(job_id: str, principal: Principal) -> Job:
    """The job when the caller may read it, else ``NotFoundError`` (same for a missing one)."""
    key = parse_job_id(job_id)
    job = await Job.get_or_none(id=key) if key is not None else None
    if job is None or not may_read(job, principal):
        raise NotFoundError(NOT_FOUND)
    return job


def job_url(job_id: Any) -> str:
    return f"/api/v1/jobs/{job_id}"


def job_view(job: Job, *, operator: bool = False) -> dict[str, Any]:
    """The public JSON of a job (``operator`` adds who asked for it)."""
    view: dict[str, Any] = {
        "id": str(job.id),
        "actor": job.actor_name,
        "queue": job.queue_name,
        "status": str(job.status),
        "attempts": job.attempts,
        "progress": job.progress,
        "result": job.result,
        "error": job.error,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
        "startedAt": job.started_at,
        "finishedAt": job.finished_at,
        "statusUrl": job_url(job.id),
    }
    if operator:
        view["requestedBy"] = (
            {"kind": job.requested_by_kind, "id": job.requested_by_id}
            if job.requested_by_kind
            else None
        )
    return view


# -- the operators' list -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailedJobFilter:
    statuses: Sequence[str] = (JobStatus.FAILED, JobStatus.DEAD)
    actor: str | None = None
    queue: str | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None


async def list_failed(filters: FailedJobFilter, *, page: int, limit: int) -> tuple[list[Job], int]:
    """Failed and dead jobs (or the given statuses), most recently changed first."""
    query = Job.filter(status__in=[str(status) for status in filters.statuses])
    if filters.actor:
        query = query.filter(actor_name=filters.actor)
    if filters.queue:
        query = query.filter(queue_name=filters.queue)
    if filters.created_from is not None:
        query = query.filter(created_at__gte=filters.created_from)
    if filters.created_to is not None:
        query = query.filter(created_at__lte=filters.created_to)
    total = await query.count()
    rows = await query.order_by("-updated_at", "id").offset((page - 1) * limit).limit(limit)
    return list(rows), total


# -- requeue -------------------------------------------------------------------------------

_LOCK_SQL = """
SELECT id::text AS id, actor_name, queue_name, args::text AS args, status, attempts,
       error::text AS error,
       (SELECT count(*) FROM job_requeues r WHERE r.job_id = jobs.id)::int AS requeues
FROM jobs WHERE id = $1::uuid FOR UPDATE
"""
#: Message option numbering a requeued job's attempt chains: the worker skips a message whose
#: number is below the job's requeue count (``actors.middleware.jobs.REQUEUE_OPTION``).
REQUEUE_OPTION = "zc_requeue"
_AUDIT_SQL = """
INSERT INTO job_requeues (job_id, requeued_by_kind, requeued_by_id, previous_status,
                          previous_attempts, previous_error, created_at)
VALUES ($1::uuid, $2, $3, $4, $5, $6::jsonb, now())
"""
_QUEUED_SQL = """
UPDATE jobs SET status = 'queued', finished_at = NULL, updated_at = now() WHERE id = $1::uuid
"""
# The outbox trigger sends NOTIFY outbox: relays wake at COMMIT.
_OUTBOX_SQL = """
INSERT INTO outbox (job_id, queue_name, message, available_at, created_at)
VALUES ($1::uuid, $2, $3::jsonb, now(), now())
"""


async def requeue(job_id: str, *, by: Requester) -> Job:
    """Sends a failed or dead job again: same job id (= message id), attempts kept, status
    ``queued``, a new outbox row, and an audit row naming ``by``; all in one transaction.

    The new message starts with fresh options, so the attempt gets the actor's whole retry
    budget and retry window again. It carries the job's new requeue count, so the worker skips
    the messages of the attempts it replaces: a ``failed`` job's retry still held by Dramatiq
    never runs beside or after the requeued attempt. Raises ``NotFoundError`` or
    ``JobNotRequeueableError``.
    """
    key = parse_job_id(job_id)
    if key is None:
        raise NotFoundError(NOT_FOUND)
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(_LOCK_SQL, [str(key)])
        if not rows:
            raise NotFoundError(NOT_FOUND)
        row = rows[0]
        if row["status"] not in REQUEUEABLE:
            raise JobNotRequeueableError()
        await conn.execute_query(
            _AUDIT_SQL,
            [row["id"], by.kind, by.id, row["status"], row["attempts"], row["error"]],
        )
        await conn.execute_query(_QUEUED_SQL, [row["id"]])
        message = message_dict(
            row["actor_name"],
            row["queue_name"],
            row["args"],
            row["id"],
            options={REQUEUE_OPTION: row["requeues"] + 1},
        )
        await conn.execute_query(_OUTBOX_SQL, [row["id"], row["queue_name"], message])
    return await Job.get(id=key)


def message_dict(
    actor_name: str,
    queue_name: str,
    args_json: str | None,
    job_id: str,
    *,
    options: dict[str, Any] | None = None,
) -> str:
    """The Dramatiq message (as ``actors.contracts.wire.message_dict`` writes it) for a job
    row's stored keyword arguments, as JSON text."""
    return json.dumps(
        {
            "queue_name": queue_name,
            "actor_name": actor_name,
            "args": [],
            "kwargs": json.loads(args_json) if args_json else {},
            "options": options or {},
            "message_id": job_id,
            "message_timestamp": int(time.time() * 1000),
        },
        separators=(",", ":"),
    )
