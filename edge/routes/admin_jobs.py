"""Admin jobs: /api/v1/admin/jobs (failed and dead jobs, requeue with an audit row)."""

from __future__ import annotations

import datetime as dt
import logging

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from actors.contracts import Requester
from edge.auth.guards import requires_role
from edge.deps import principal_of
from edge.envelope import ok, paginated
from edge.schemas.dates import parse_bound
from edge.schemas.jobs import FailedJobsQuery
from edge.services import jobs
from edge.validation import parse_query

log = logging.getLogger("zerocancer.edge.admin_jobs")

bp = Blueprint("admin_jobs", url_prefix="/admin")


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


@bp.get("/jobs", name="list_failed_jobs")
@requires_role("admin")
async def list_failed_jobs(request: Request) -> HTTPResponse:
    """Failed and dead jobs, most recently changed first (filters: status, actor, queue,
    dateFrom/dateTo on creation)."""
    query = parse_query(request, FailedJobsQuery)
    filters = jobs.FailedJobFilter(
        statuses=(query.status,) if query.status else jobs.REQUEUEABLE,
        actor=query.actor,
        queue=query.queue,
        created_from=_aware(parse_bound(query.date_from, "dateFrom")),
        created_to=_aware(parse_bound(query.date_to, "dateTo", end=True)),
    )
    rows, total = await jobs.list_failed(filters, page=query.page, limit=query.limit)
    items = [jobs.job_view(job, operator=True) for job in rows]
    return paginated(items, query.page, query.limit, total)


@bp.post("/jobs/<job_id:str>/requeue", name="requeue_job")
@requires_role("admin")
async def requeue_job(request: Request, job_id: str) -> HTTPResponse:
    """Sends a failed or dead job again (same id, attempts kept, status queued); 409 for
    other statuses. Who requeued is recorded."""
    admin = principal_of(request)
    job = await jobs.requeue(job_id, by=Requester("admin", admin.id))
    log.info("job %s (%s) requeued by admin %s", job.id, job.actor_name, admin.id)
    return ok(
        jobs.job_view(job, operator=True),
        message="Job requeued",
        status=202,
        headers={"Location": jobs.job_url(job.id)},
    )
