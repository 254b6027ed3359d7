"""Analytics routes: /api/v1/analytics (dashboard, time report, geography, centres, campaigns,
downloads); admin only (D-AN-1: the reference left them public).

Reports are answered from analytics snapshots, refreshed through the analytics actor when older
than `ANALYTICS_MAX_AGE_SECONDS` (`edge/services/analytics.py`). When workers cannot refresh in
time the last snapshot is sent with two extra top-level keys, beside `ok` and `data`:

- `stale`: `true`: the data is older than the freshness limit;
- `generatedAt`: when that data was computed (ISO-8601 UTC).

With no snapshot at all the answer is 503 with `Retry-After`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file

from actors.contracts import Requester
from actors.contracts.messages import RefreshAnalyticsSnapshot
from edge.auth.guards import Principal, requires_role
from edge.envelope import dumps, iso, ok
from edge.errors import ApiError, NotFound, ServiceUnavailable, ValidationFailed
from edge.jobs import FINAL_STATES, JobRuntime
from edge.services import analytics
from edge.services.errors import DomainError
from edge.validation import Schema, parse_body
from models.jobs import JobStatus

log = logging.getLogger("zerocancer.edge.analytics")

bp = Blueprint("analytics", url_prefix="/analytics")

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[HTTPResponse]])


def failure_message(message: str) -> Callable[[Handler], Handler]:
    """Unexpected errors answer 500 with the contract's message for this route (spec §2-§6)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            try:
                return await handler(request, *args, **kwargs)
            except analytics.AnalyticsUnavailableError as error:
                raise ServiceUnavailable(error.message, retry_after=error.retry_after) from None
            except analytics.AnalyticsFailedError:
                raise ApiError(message, status=500) from None
            except (ApiError, DomainError):
                raise
            except Exception:
                log.exception("%s", message)
                raise ApiError(message, status=500) from None

        return run  # type: ignore[return-value]

    return decorate


def _requester(request: Request) -> Requester:
    principal: Principal = request.ctx.principal
    return Requester("admin", principal.id)


class RefreshWaiter:
    """The edge's job runtime (`edge.jobs`) seen by `analytics.answer`: the circuit breaker of
    the refresh actor admits a refresh, the shared `JobWaiter` waits for it, and the outcome
    (success, dead job, deadline passed) goes back to the breaker, as `run_job` does."""

    actor = RefreshAnalyticsSnapshot.actor_name
    queue = RefreshAnalyticsSnapshot.queue_name

    def __init__(self, runtime: JobRuntime) -> None:
        self.runtime = runtime
        self.probe = False

    async def admit(self) -> analytics.Admission:
        admission = await self.runtime.breaker.admit(self.actor, self.queue)
        self.probe = admission.probe
        return analytics.Admission(admission.allowed, admission.retry_after)

    async def wait(self, job_id: str, seconds: float) -> str | None:
        breaker = self.runtime.breaker
        known = False
        try:
            job = await self.runtime.waiter.wait(job_id, seconds, stop_states=FINAL_STATES)
            known = True
        finally:
            if not known and self.probe:
                breaker.release(self.actor)
        if job is None:
            breaker.record_failure(self.actor, "timeout")
            return None
        if job.status == JobStatus.SUCCEEDED:
            breaker.record_success(self.actor)
        else:
            breaker.record_failure(self.actor, "dead")
        return str(job.status)


def _waiter(request: Request) -> analytics.Waiter | None:
    runtime: JobRuntime | None = getattr(request.app.ctx, "jobs", None)
    return RefreshWaiter(runtime) if runtime is not None else None


def _respond(answer: analytics.Answer, data: Any = None, *, filtered: bool = False) -> HTTPResponse:
    """The snapshot's JSON as `data`, sent without re-encoding unless it was filtered."""
    head = '{"ok":true'
    if answer.stale:
        head += f',"stale":true,"generatedAt":"{iso(answer.snapshot.computed_at)}"'
    payload = dumps(data) if filtered else answer.snapshot.data_json
    return HTTPResponse(f'{head},"data":{payload}}}', content_type="application/json")


async def _report(request: Request, kind: str, scope: str = "") -> analytics.Answer:
    return await analytics.answer(
        kind, scope, requester=_requester(request), waiter=_waiter(request)
    )


#: The OpenAPI description of the reports that take no query window.
STALE_OR_503 = """\
When workers cannot refresh the data in time the last computed report is sent with
`"stale": true` and `"generatedAt": "<ISO>"` beside `data`; 503 with Retry-After when there
is none."""

#: The OpenAPI description of the time report.
TIME_WINDOW_OR_STALE = """\
`from`/`to` accept ISO-8601 date-times with `Z` or an offset, and dates (`from` = the day's
start, `to` = its end, UTC). When workers cannot refresh the data in time the last computed
report is sent with `"stale": true` and `"generatedAt"` beside `data`."""


def _whole(request: Request, answer: analytics.Answer) -> HTTPResponse:
    return _respond(answer)


def snapshot_route(
    path: str,
    *,
    name: str,
    kind: str,
    failure: str,
    summary: str,
    description: str = STALE_OR_503,
    scope: Callable[[Request], str] | None = None,
    select: Callable[[Request, analytics.Answer], HTTPResponse] = _whole,
) -> None:
    """Adds `GET /analytics<path>` for admins: the `kind` report of the request's `scope`,
    answered by `select` (the whole snapshot by default); unexpected errors answer 500
    `failure`. `summary` and `description` are the handler's docstring (OpenAPI)."""

    async def handler(request: Request) -> HTTPResponse:
        answer = await _report(request, kind, scope(request) if scope else "")
        return select(request, answer)

    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = f"{summary}\n\n{description}"
    guarded = requires_role("admin")(failure_message(failure)(handler))
    bp.route(path, methods=["GET"], name=name, ignore_body=True)(guarded)


def _time_window(request: Request) -> str:
    """The scope of the time report's `period`, `from` and `to`; 400 in zod's shape if bad."""
    args = {name: request.args.get(name) for name in ("period", "from", "to")}
    try:
        query = analytics.parse_time_query({k: v for k, v in args.items() if v is not None})
    except analytics.QueryIssues as error:
        raise ApiError(
            {"issues": error.issues, "name": "ZodError"}, status=400, extra={"success": False}
        ) from None
    return query.scope()


def _center_rows(request: Request, answer: analytics.Answer) -> HTTPResponse:
    """The report's row of `centerId` when given (an empty list for an unknown one)."""
    center_id = request.args.get("centerId")
    if not center_id:
        return _respond(answer)
    rows = [row for row in answer.snapshot.data() if row.get("centerId") == center_id]
    return _respond(answer, rows, filtered=True)


snapshot_route(
    "/dashboard",
    name="get_dashboard_metrics",
    kind="dashboard",
    failure="Failed to fetch dashboard metrics",
    summary="Platform totals: revenue, users, appointments, campaigns, centres, waitlist "
    "(spec §2).",
)
snapshot_route(
    "/reports/time",
    name="get_time_based_report",
    kind="time",
    failure="Failed to fetch time-based report",
    summary="Revenue, appointments and registrations per period bucket, with growth rates "
    "(spec §3).",
    description=TIME_WINDOW_OR_STALE,
    scope=_time_window,
)
snapshot_route(
    "/geographic",
    name="get_geographic_report",
    kind="geographic",
    failure="Failed to fetch geographic report",
    summary="Users, centres, appointments, revenue and waitlist hot zones per state (spec §4).",
)
snapshot_route(
    "/centers",
    name="get_center_performance",
    kind="centers",
    failure="Failed to fetch center performance report",
    summary="Per-centre appointments, revenue, payouts pending and result turnaround (spec §5).",
    select=_center_rows,
)
snapshot_route(
    "/campaigns",
    name="get_campaign_analytics",
    kind="campaigns",
    failure="Failed to fetch campaign analytics",
    summary="Per-campaign funding, donations, matches and depletion estimate (spec §6).",
)


# -- downloads -------------------------------------------------------------------------------------


class ReportRequest(Schema):
    format: str | None = None


@bp.post("/reports/dashboard", name="request_dashboard_report")
@requires_role("admin")
async def request_dashboard_report(request: Request) -> HTTPResponse:
    """Ask for the admin dashboard as a file (`format`: `csv` or `pdf`, in the body or query).

    Answers 202 with the job; once it succeeded, the job's `result.downloadUrl` serves the file.
    """
    body = parse_body(request, ReportRequest)
    chosen = body.format or request.args.get("format") or "csv"
    if chosen not in analytics.REPORT_FORMATS:
        raise ValidationFailed.issue(["format"], "Format must be csv or pdf", "invalid_enum_value")
    job_id, status = await analytics.request_report(chosen, requester=_requester(request))
    return ok(
        {"jobId": job_id, "status": status, "statusUrl": f"/api/v1/jobs/{job_id}"},
        message="Report accepted",
        status=202,
    )


@bp.get("/reports/files/<file_id:uuid>", name="download_analytics_report")
@requires_role("admin")
async def download_analytics_report(request: Request, file_id: Any) -> HTTPResponse:
    """A rendered analytics report (the `downloadUrl` of its job's result)."""
    stored = await analytics.report_file(str(file_id))
    if stored is None:
        raise NotFound("Report not found")
    return await file(
        stored.path,
        mime_type=stored.content_type,
        filename=stored.file_name,
        headers={"Cache-Control": "private, no-store"},
    )
