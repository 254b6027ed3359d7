"""Job routes: /api/v1/jobs (a job's status for the caller who asked for it; the e-mail
pipeline check, answered synchronously through `edge.jobs.run_job`)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from actors.contracts import SendEmail
from edge.auth.guards import requires_role
from edge.deps import principal_of
from edge.envelope import ok
from edge.jobs import run_job
from edge.schemas.jobs import EmailCheckBody
from edge.services import jobs
from edge.validation import parse_body

bp = Blueprint("jobs", url_prefix="/jobs")

#: Deadline of the e-mail check before it answers 202 with the job's address.
EMAIL_CHECK_WAIT_SECONDS = 20.0


@bp.get("/<job_id:str>", name="get_job")
@requires_role()
async def get_job(request: Request, job_id: str) -> HTTPResponse:
    """A job's status, progress, result and error (own jobs; admins: every job).

    Jobs of other callers answer 404 exactly like missing ones.
    """
    principal = principal_of(request)
    job = await jobs.readable_job(job_id, principal)
    return ok(jobs.job_view(job, operator=principal.kind == "admin"))


@bp.post("/email-check", name="check_email_pipeline")
@requires_role("admin")
async def check_email_pipeline(request: Request) -> HTTPResponse:
    """Sends a test e-mail through outbox, relay, broker, worker and SMTP, and waits for it.

    200 with the e-mail job's result; 202 with the job's address past the deadline; 503 with
    `Retry-After` at once while no e-mail worker is available.
    """
    body = parse_body(request, EmailCheckBody)
    message = SendEmail(
        template="notification",
        to=body.to,
        context={
            "type": "INFO",
            "title": "ZeroCancer job pipeline check",
            "message": "This test e-mail went through the outbox, the broker and a worker.",
        },
    )
    return await run_job(
        request,
        message,
        wait_seconds=EMAIL_CHECK_WAIT_SECONDS,
        accepted_message="E-mail check accepted",
        unavailable_message="E-mail workers unavailable",
    )
