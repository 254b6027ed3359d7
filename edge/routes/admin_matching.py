"""Admin matching oversight: /api/v1/admin/matching (executions, their logs, a manual run;
admin.md §10)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from actors.contracts.messages import RunMatching
from edge.auth.guards import requires_role
from edge.deps import principal_of
from edge.envelope import ok
from edge.errors import ApiError, NotFound
from edge.jobs import run_job
from edge.schemas.admin import ExecutionsQuery, LogsQuery, MatchingConfigBody
from edge.schemas.dates import parse_bound
from edge.services.listing import offset, page_body
from edge.services.rows import row
from edge.validation import parse_body, parse_query
from models.jobs import Job, JobStatus
from models.matching import MatchingExecution, MatchingExecutionLog, MatchingScreeningTypeResult

bp = Blueprint("admin_matching", url_prefix="/admin")

#: A manual run waits this long (at most) before answering 202 (matching.md: runs take seconds).
TRIGGER_WAIT_SECONDS = 30.0


@bp.get("/matching/executions", name="list_matching_executions")
@requires_role("admin")
async def list_matching_executions(request: Request) -> HTTPResponse:
    """Matching runs, newest first, with per-type summaries."""
    query = parse_query(request, ExecutionsQuery)
    start = parse_bound(query.date_from, "dateFrom")
    end = parse_bound(query.date_to, "dateTo", end=True)
    found = MatchingExecution.all()
    if query.status:
        found = found.filter(status=query.status)
    if start is not None:
        found = found.filter(started_at__gte=start)
    if end is not None:
        found = found.filter(started_at__lte=end)
    total = await found.count()
    executions = (
        await found.order_by("-started_at", "-id")
        .offset(offset(query.page, query.page_size))
        .limit(query.page_size)
    )
    summaries: dict[str, list[dict[str, Any]]] = {}
    for result in await MatchingScreeningTypeResult.filter(
        execution_id__in=[e.id for e in executions]
    ).order_by("processing_started", "id"):
        summaries.setdefault(result.execution_id, []).append(
            {
                "id": result.id,
                "screeningTypeName": result.screening_type_name,
                "patientsProcessed": result.patients_processed,
                "matchesCreated": result.matches_created,
                "fundsAllocated": result.funds_allocated,
                "processingTimeMs": result.processing_time_ms,
            }
        )
    shown = [{**row(e), "screeningTypeResults": summaries.get(e.id, [])} for e in executions]
    return ok(page_body("executions", shown, page=query.page, size=query.page_size, total=total))


@bp.get("/matching/executions/<execution_id:str>", name="get_matching_execution")
@requires_role("admin")
async def get_matching_execution(request: Request, execution_id: str) -> HTTPResponse:
    """One run with its full per-type results."""
    execution = await MatchingExecution.filter(id=execution_id).first()
    if execution is None:
        raise NotFound("Execution not found")
    results = await MatchingScreeningTypeResult.filter(execution_id=execution_id).order_by(
        "processing_started", "id"
    )
    return ok({**row(execution), "screeningTypeResults": [row(r) for r in results]})


@bp.get("/matching/executions/<execution_id:str>/logs", name="list_execution_logs")
@requires_role("admin")
async def list_execution_logs(request: Request, execution_id: str) -> HTTPResponse:
    """A run's log lines in time order (filters: level, patient, campaign)."""
    query = parse_query(request, LogsQuery)
    found = MatchingExecutionLog.filter(execution_id=execution_id)
    if query.level:
        found = found.filter(level=query.level)
    if query.patient_id:
        found = found.filter(patient_id=query.patient_id)
    if query.campaign_id:
        found = found.filter(campaign_id=query.campaign_id)
    total = await found.count()
    logs = (
        await found.order_by("timestamp", "id")
        .offset(offset(query.page, query.page_size))
        .limit(query.page_size)
    )
    return ok(
        page_body(
            "logs",
            [row(entry) for entry in logs],
            page=query.page,
            size=query.page_size,
            total=total,
        )
    )


@bp.post("/matching/trigger", name="trigger_matching")
@requires_role("admin")
async def trigger_matching(request: Request) -> HTTPResponse:
    """Run waitlist matching now, with optional overrides for this run."""
    body = parse_body(request, MatchingConfigBody)
    message = RunMatching(
        trigger_source="admin",
        admin_id=principal_of(request).id,
        overrides=body.model_dump(by_alias=True, exclude_unset=True, exclude_none=True),
    )

    def render(job: Job) -> HTTPResponse:
        if job.status != JobStatus.SUCCEEDED:
            raise ApiError("Failed to trigger matching algorithm", status=500)
        return ok({"message": "Matching algorithm triggered successfully", "jobId": str(job.id)})

    return await run_job(
        request,
        message,
        wait_seconds=TRIGGER_WAIT_SECONDS,
        render=render,
        accepted_message="Matching run accepted",
        unavailable_message="Matching workers unavailable",
    )
