"""Receipt routes: /api/v1/receipts (get, PDF download, create or regenerate, resend, admin
monitoring; receipts.md §6), plus the PDF alias /api/receipts/{transactionId}/pdf the web client
calls without `/v1` and with only its refresh cookie (D-RCP-13).

Issuing and rendering run on `actor: pdf`; these handlers ask for a `render_receipt` job and wait
for it with a deadline (202 with the job's address past it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, raw

from actors.contracts.messages import RenderReceipt
from edge.auth.cookies import refresh_cookie
from edge.auth.guards import Principal, authenticate, requires_role
from edge.auth.tokens import TokenError, decode_refresh
from edge.deps import principal_of, settings_of
from edge.envelope import ok
from edge.errors import ApiError, Forbidden, NotAuthenticated
from edge.jobs import FINAL_STATES, accepted_response, requested_wait, run_job, runtime_of
from edge.schemas.dates import parse_bound
from edge.schemas.receipts import CreateReceiptBody, ReceiptListQuery, ResendReceiptBody
from edge.services import receipts
from edge.services.errors import AccessDeniedError
from edge.storage import file_settings
from edge.validation import parse_body, parse_query
from models.jobs import Job, JobStatus
from models.transactions import Receipt

log = logging.getLogger("zerocancer.edge.receipts")

bp = Blueprint("receipts", url_prefix="/receipts")

ALIAS_PATH = "/api/receipts/<transaction_id:str>/pdf"
ACCEPTED = "Receipt accepted"
#: How long a receipt request waits for its job before answering 202.
RECEIPT_WAIT_SECONDS = 20.0

Answer = Callable[[Receipt], Awaitable[HTTPResponse]]


def setup(app: Sanic[Any, Any]) -> None:
    app.add_route(
        download_receipt_pdf_alias, ALIAS_PATH, methods=["GET"], name="download_receipt_pdf_alias"
    )


def job_error(job: Job) -> str:
    error = job.error if isinstance(job.error, dict) else {}
    return str(error.get("message") or "")


async def with_job(
    request: Request,
    message: RenderReceipt,
    *,
    failure: str,
    answer: Answer,
    after: Callable[[Job], Awaitable[HTTPResponse | None]] | None = None,
) -> HTTPResponse:
    """Runs `render_receipt` and answers with the receipt it left (202 past the deadline, 503
    while no worker serves the `pdf` queue)."""

    async def render(job: Job) -> HTTPResponse:
        if job.status == JobStatus.DEAD:
            if receipts.NOT_ISSUABLE in job_error(job):
                raise receipts.ReceiptNotIssuableError()
            log.error("receipt job %s died: %s", job.id, job_error(job))
            raise ApiError(failure, status=500)
        if after is not None:
            early = await after(job)
            if early is not None:
                return early
        receipt = await receipts.receipt_of(message.transaction_id)
        if receipt is None:
            raise ApiError(failure, status=500)
        return await answer(receipt)

    return await run_job(
        request,
        message,
        wait_seconds=RECEIPT_WAIT_SECONDS,
        render=render,
        accepted_message=ACCEPTED,
        unavailable_message="Receipt workers unavailable; try again later",
    )


async def as_object(receipt: Receipt) -> HTTPResponse:
    return ok(receipts.receipt_object(receipt))


@bp.get("/<transaction_id:str>", name="get_receipt")
@requires_role()
async def get_receipt(request: Request, transaction_id: str) -> HTTPResponse:
    """A transaction's receipt (issued on first request)."""
    transaction = await receipts.readable_transaction(transaction_id, principal_of(request))
    receipt = await receipts.receipt_of(transaction_id)
    if receipt is not None:
        return ok(receipts.receipt_object(receipt))
    receipts.check_issuable(transaction)
    return await with_job(
        request,
        RenderReceipt(transaction_id=transaction_id),
        failure="Failed to get receipt",
        answer=as_object,
    )


def stored_path(key: str | None) -> Path | None:
    if not key:
        return None
    root = file_settings().storage_dir.resolve()
    path = (root / key).resolve()
    return path if path.is_relative_to(root) else None


async def pdf_of(receipt: Receipt) -> HTTPResponse | None:
    """The stored PDF as the download answer, or None when the file is not there."""
    path = stored_path(receipt.pdf_path)
    if path is None or not await asyncio.to_thread(path.is_file):
        return None
    content = await asyncio.to_thread(path.read_bytes)
    return raw(
        content,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{receipt.receipt_number}.pdf"'
        },
    )


async def rendered_pdf(receipt: Receipt) -> HTTPResponse:
    answer = await pdf_of(receipt)
    if answer is None:
        raise ApiError("Failed to generate receipt PDF", status=500)
    return answer


async def pdf_response(request: Request, principal: Principal, transaction_id: str) -> HTTPResponse:
    transaction = await receipts.readable_transaction(transaction_id, principal)
    receipt = await receipts.receipt_of(transaction_id)
    if receipt is not None:
        stored = await pdf_of(receipt)
        if stored is not None:
            return stored
    else:
        receipts.check_issuable(transaction)
    # Issue it, or re-render a missing file from the stored data (same number, §4).
    return await with_job(
        request,
        RenderReceipt(transaction_id=transaction_id),
        failure="Failed to generate receipt PDF",
        answer=rendered_pdf,
    )


@bp.get("/<transaction_id:str>/pdf", name="download_receipt_pdf")
async def download_receipt_pdf(request: Request, transaction_id: str) -> HTTPResponse:
    """The receipt as a PDF (bearer token, or the refresh cookie as the web client sends)."""
    return await pdf_response(request, cookie_or_bearer(request), transaction_id)


async def download_receipt_pdf_alias(request: Request, transaction_id: str) -> HTTPResponse:
    """`/api/receipts/{id}/pdf`: the path the web client fetches (no `/v1`)."""
    return await pdf_response(request, cookie_or_bearer(request), transaction_id)


def cookie_or_bearer(request: Request) -> Principal:
    """A bearer token when present, else the refresh cookie verified like one (D-RCP-13)."""
    if "authorization" in request.headers:
        return authenticate(request)
    cookie = refresh_cookie(request)
    if not cookie:
        raise NotAuthenticated("no authorization included in request")
    try:
        claims = decode_refresh(settings_of(request), cookie)
    except TokenError:
        raise NotAuthenticated("token verification failure", err_code="invalid_token") from None
    principal = Principal.from_claims(claims)
    request.ctx.principal = principal
    return principal


async def guarded_address(principal: Principal, address: str) -> None:
    try:
        await receipts.check_resend_address(principal, address)
    except AccessDeniedError as exc:
        raise Forbidden(exc.message) from None


@bp.post("/<transaction_id:str>", name="create_receipt")
@requires_role()
async def create_receipt(request: Request, transaction_id: str) -> HTTPResponse:
    """Issue, or with `forceRegenerate` rebuild, a receipt; optionally email it."""
    body = parse_body(request, CreateReceiptBody)
    if body.transaction_id != transaction_id:
        raise ApiError("transactionId does not match the path")
    principal = principal_of(request)
    transaction = await receipts.readable_transaction(transaction_id, principal)
    receipt = await receipts.receipt_of(transaction_id)
    if receipt is None:
        receipts.check_issuable(transaction)
    elif not body.force_regenerate and not body.email_recipient:
        return ok(receipts.receipt_object(receipt))
    if body.email_recipient:
        await guarded_address(principal, body.email_recipient)
    return await with_job(
        request,
        RenderReceipt(
            transaction_id=transaction_id,
            email_to=body.email_recipient,
            regenerate=body.force_regenerate,
            resend=bool(body.email_recipient),
        ),
        failure="Failed to create receipt",
        answer=as_object,
    )


@bp.post("/<transaction_id:str>/resend", name="resend_receipt")
@requires_role()
async def resend_receipt(request: Request, transaction_id: str) -> HTTPResponse:
    """Email an existing receipt again (owners: to their own address only)."""
    body = parse_body(request, ResendReceiptBody)
    principal = principal_of(request)
    await receipts.readable_transaction(transaction_id, principal)
    if await receipts.receipt_of(transaction_id) is None:
        raise ApiError(receipts.NOT_FOUND, status=404)
    await guarded_address(principal, body.email_recipient)

    async def delivered(job: Job) -> HTTPResponse:
        """Waits for the email job the render job wrote (answered once SMTP took it)."""
        email_job_id = (job.result or {}).get("emailJobId")
        if email_job_id is None:
            raise ApiError("Failed to resend receipt", status=502)
        waited = requested_wait(request, RECEIPT_WAIT_SECONDS)
        sent = await runtime_of(request.app).waiter.wait(email_job_id, waited, FINAL_STATES)
        if sent is None:
            email_job = await Job.get(id=email_job_id)
            return accepted_response(email_job, ACCEPTED)
        if sent.status != JobStatus.SUCCEEDED or not (sent.result or {}).get("sent"):
            raise ApiError("Failed to resend receipt", status=502)
        return ok({"success": True}, message="Receipt sent successfully")

    return await with_job(
        request,
        RenderReceipt(transaction_id=transaction_id, email_to=body.email_recipient, resend=True),
        failure="Failed to resend receipt",
        answer=as_object,
        after=delivered,
    )


@bp.get("", name="list_receipts")
@requires_role("admin")
async def list_receipts(request: Request) -> HTTPResponse:
    """Admin receipt monitoring (filters: type, user, dates, emailSent=false for unsent)."""
    query = parse_query(request, ReceiptListQuery)
    return ok(
        await receipts.list_receipts(
            page=query.page,
            limit=query.limit,
            receipt_type=query.type,
            user_id=query.user_id,
            start=parse_bound(query.start_date, "startDate"),
            end=parse_bound(query.end_date, "endDate", end=True),
            email_sent=None if query.email_sent is None else query.email_sent == "true",
        )
    )
