"""Waitlist routes: /api/v1/waitlist (patient entries, public demand, matching triggers, status
and statistics; waitlist.md).

Validation failures here answer plain texts, as the reference router does:
`Invalid query parameters` / `Invalid request data` (the issues ride along under `issues`).
"""

from __future__ import annotations

import os
import time
from typing import Any, TypeVar

from pydantic import BaseModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from tortoise.exceptions import DBConnectionError

from actors.contracts import Requester
from actors.contracts.messages import RunMatching
from edge.auth.api_keys import requires_api_key
from edge.auth.guards import requires_role
from edge.deps import principal_of
from edge.envelope import iso, ok, respond
from edge.errors import ApiError, ValidationFailed
from edge.jobs import run_job
from edge.schemas.waitlist import DemandQuery, JoinBody, LeaveBody, PatientWaitlistsQuery
from edge.services import matching_status, matching_trigger, waitlist_demand, waitlists
from edge.validation import parse_body, parse_query
from models.base import utc_now
from models.jobs import Job, JobStatus

bp = Blueprint("waitlist", url_prefix="/waitlist")

ModelT = TypeVar("ModelT", bound=BaseModel)


def _query(request: Request, model: type[ModelT]) -> ModelT:
    try:
        return parse_query(request, model)
    except ValidationFailed as exc:
        raise ApiError("Invalid query parameters", extra={"issues": exc.issues}) from None


def _body(request: Request, model: type[ModelT]) -> ModelT:
    try:
        return parse_body(request, model)
    except ValidationFailed as exc:
        raise ApiError("Invalid request data", extra={"issues": exc.issues}) from None


# -- patient -----------------------------------------------------------------------------------


@bp.get("/patient", name="list_patient_waitlists")
@requires_role("patient")
async def list_patient_waitlists(request: Request) -> HTTPResponse:
    """The caller's waitlist entries, newest first (filter: status)."""
    query = _query(request, PatientWaitlistsQuery)
    return ok(
        await waitlists.list_entries(
            patient_id=principal_of(request).id,
            page=query.page,
            page_size=query.page_size,
            status=query.status,
        )
    )


@bp.get("/patient/status/<screening_type_id:str>", name="check_waitlist_status")
@requires_role("patient")
async def check_waitlist_status(request: Request, screening_type_id: str) -> HTTPResponse:
    """Whether the caller waits for this screening type, with any reserved donation."""
    return ok(
        await waitlists.status_for_type(
            patient_id=principal_of(request).id, screening_type_id=screening_type_id
        )
    )


@bp.post("/patient/join", name="join_waitlist")
@requires_role("patient")
async def join_waitlist(request: Request) -> HTTPResponse:
    """Join the waitlist of a screening type (one active entry per type)."""
    body = _body(request, JoinBody)
    return ok(
        await waitlists.join(
            patient_id=principal_of(request).id, screening_type_id=body.screening_type_id
        )
    )


@bp.post("/patient/leave", name="leave_waitlist")
@requires_role("patient")
async def leave_waitlist(request: Request) -> HTTPResponse:
    """Leave a waitlist; a reserved donation goes back to its campaign."""
    body = _body(request, LeaveBody)
    return ok(
        await waitlists.leave(patient_id=principal_of(request).id, waitlist_id=body.waitlist_id)
    )


@bp.get("/patient/<waitlist_id:str>", name="get_patient_waitlist")
@requires_role("patient")
async def get_patient_waitlist(request: Request, waitlist_id: str) -> HTTPResponse:
    """One of the caller's waitlist entries."""
    return ok(
        await waitlists.get_entry(patient_id=principal_of(request).id, waitlist_id=waitlist_id)
    )


# -- public ------------------------------------------------------------------------------------


@bp.get("", name="list_waitlist_demand")
async def list_waitlist_demand(request: Request) -> HTTPResponse:
    """Pending demand per screening type (public; counts only)."""
    query = _query(request, DemandQuery)
    return ok(
        await waitlist_demand.demand(
            page=query.page, page_size=query.page_size, descending=query.demand_order == "desc"
        )
    )


@bp.get("/matching-status", name="get_matching_status")
async def get_matching_status(request: Request) -> HTTPResponse:
    """Health of waitlist matching (public, for cron monitoring): healthy, warning or error."""
    try:
        health = await matching_status.matching_health()
    except (OSError, DBConnectionError):
        return respond({"ok": False, "error": "Service unavailable"}, status=503)
    timestamp = iso(utc_now())
    return respond(
        {
            "ok": True,
            "status": health.status,
            "message": health.message,
            "timestamp": timestamp,
            "data": {
                "status": health.status,
                "message": health.message,
                "timestamp": timestamp,
                "lastExecution": health.last_execution,
            },
        }
    )


@bp.get("/matching-stats", name="get_matching_stats")
@requires_role("admin")
async def get_matching_stats(request: Request) -> HTTPResponse:
    """Waitlist and campaign counts; also at the top level, where the admin panel reads them."""
    stats = await matching_status.matching_stats()
    return respond({"ok": True, "data": stats, **stats})


# -- matching triggers -------------------------------------------------------------------------

#: Default of `MATCHING_TRIGGER_WAIT_SECONDS`: longest a trigger waits for its run (§2.7).
#: `run_job` caps it at `edge.jobs.MAX_WAIT_SECONDS`; `Prefer: wait=N` may shorten it.
DEFAULT_TRIGGER_WAIT_SECONDS = 30.0
#: Execution statuses that count as a successful run.
SUCCESSFUL_RUNS = frozenset({"COMPLETED", "PARTIALLY_COMPLETED"})


def trigger_wait_seconds() -> float:
    raw = os.environ.get("MATCHING_TRIGGER_WAIT_SECONDS", "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TRIGGER_WAIT_SECONDS
    except ValueError:
        return DEFAULT_TRIGGER_WAIT_SECONDS


def _job_error(job: Job) -> str | None:
    """The recorded error text of a dead job (never secrets: JobTracking writes it)."""
    error = job.error if isinstance(job.error, dict) else None
    return str(error.get("message")) if error and error.get("message") else None


async def _run_matching(
    request: Request,
    *,
    source: str,
    admin_id: str | None,
    requested_by: Requester,
    success_message: str,
    failure_message: str,
    extra: dict[str, Any],
) -> HTTPResponse:
    """Joins or enqueues a run, waits for it with a deadline, and answers with its outcome.

    Through ``edge.jobs.run_job``: the shared ``JobWaiter`` (a failed attempt that will be
    retried keeps the wait going), 202 past the deadline, and 503 with ``Retry-After`` at once,
    enqueueing nothing, while the circuit breaker says no worker serves the matching queue.
    """
    received = time.monotonic()

    async def submit() -> Job:
        return await matching_trigger.request_matching_run(
            source=source, admin_id=admin_id, requested_by=requested_by
        )

    def render(job: Job) -> HTTPResponse:
        result = job.result if isinstance(job.result, dict) else {}
        status = str(result.get("status") or "")
        if job.status != JobStatus.SUCCEEDED or status not in SUCCESSFUL_RUNS:
            error = result.get("error") or _job_error(job) or failure_message
            return respond({"ok": False, "error": str(error)}, status=500)
        return respond(
            {
                "ok": True,
                "message": success_message,
                "data": {
                    "executionTime": round((time.monotonic() - received) * 1000),
                    "timestamp": iso(utc_now()),
                    **extra,
                    "executionId": result.get("executionId"),
                    "executionReference": result.get("executionReference"),
                    "status": status,
                    "jobId": str(job.id),
                },
            }
        )

    return await run_job(
        request,
        RunMatching(trigger_source=source, admin_id=admin_id),
        wait_seconds=trigger_wait_seconds(),
        submit=submit,
        render=render,
        accepted_message="Waitlist matching accepted",
        unavailable_message="Matching workers unavailable",
    )


@bp.post("/trigger-matching", name="trigger_matching")
@requires_api_key("cron")
async def trigger_matching(request: Request) -> HTTPResponse:
    """Cron trigger (header `x-api-key`): run waitlist matching and answer with its outcome.

    Joins a run already queued; past the deadline it answers 202 with the job's address; 503
    with `Retry-After` while no worker serves the matching queue.
    """
    return await _run_matching(
        request,
        source="cron",
        admin_id=None,
        requested_by=Requester("api_key", "cron"),
        success_message="Waitlist matching algorithm executed successfully",
        failure_message="Failed to execute waitlist matching",
        extra={},
    )


@bp.post("/manual-trigger", name="trigger_matching_manually")
@requires_role("admin")
async def trigger_matching_manually(request: Request) -> HTTPResponse:
    """Admin trigger: run waitlist matching and answer with its outcome (202 past the deadline)."""
    principal = principal_of(request)
    return await _run_matching(
        request,
        source="admin",
        admin_id=principal.id,
        requested_by=Requester("admin", principal.id),
        success_message="Manual waitlist matching executed successfully",
        failure_message="Failed to execute manual waitlist matching",
        extra={
            "triggeredBy": {
                "adminId": principal.id or "unknown",
                "adminEmail": principal.email or "unknown",
            }
        },
    )
