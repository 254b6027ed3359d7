"""Payout routes: /api/v1/payouts (centre balances, manual payouts, processing and retries,
listings, the monthly-batch cron trigger, banks and account checks; payouts.md §3). The transfer
webhook is in `edge.routes.payments_webhook`.

Processing, retries and the monthly batch run on `actor: payouts`; the edge checks what it can,
enqueues the job and waits for it with a deadline (202 with the job's address past it).
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pydantic import BaseModel
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse
from tortoise.transactions import in_transaction

from actors.contracts.messages import ProcessPayout, RunMonthlyPayouts
from actors.contracts.outbox import Requester, enqueue
from edge.auth.api_keys import requires_api_key
from edge.auth.guards import Principal, requires_role
from edge.deps import principal_of
from edge.envelope import iso, ok, respond
from edge.errors import ApiError, ServiceUnavailable, ValidationFailed
from edge.jobs import (
    FINAL_STATES,
    Renderer,
    accepted_response,
    requested_wait,
    run_job,
    runtime_of,
)
from edge.payments import ProviderError, ProviderUnavailableError, gateway_for, setup_payments
from edge.schemas.dates import parse_bound
from edge.schemas.payouts import (
    CenterPayoutsQuery,
    CenterTransactionsQuery,
    ManualPayoutBody,
    PayoutsQuery,
    VerifyAccountBody,
)
from edge.services import payouts
from edge.validation import json_body, query_dict, validate
from models.base import utc_now
from models.jobs import Job, JobStatus

log = logging.getLogger("zerocancer.edge.payouts")

bp = Blueprint("payouts", url_prefix="/payouts")

ModelT = TypeVar("ModelT", bound=BaseModel)

CENTER_ROLES = ("admin", "center", "center_staff")
OWN_CENTER_ONLY = "You can only access your own center's records"
#: The monthly batch may run long: the HTTP trigger waits at most this, then answers 202.
MONTHLY_WAIT_SECONDS = 30.0
#: Processing one payout waits this long for its job (a transfer call takes seconds at most).
PAYOUT_WAIT_SECONDS = 20.0
UNAVAILABLE = "Payout workers unavailable; try again later"


def setup(app: Sanic[Any, Any]) -> None:
    setup_payments(app)


def checked(model: type[ModelT], data: Any) -> ModelT:
    """Validation with this router's 400 body: `{"ok": false, "success": false, "error": ...}`."""
    try:
        return validate(model, data)
    except ValidationFailed as exc:
        raise ApiError(exc.error, status=400, extra={"success": False}) from None


def own_center(principal: Principal, center_id: str) -> None:
    """Centre accounts and staff see only their own centre (D-PAY-4)."""
    if principal.kind != "admin" and principal.center_id != center_id:
        raise ApiError(OWN_CENTER_ONLY, status=403)


# ---------------------------------------------------------------------------------------------
# Balances


@bp.get("/center-balances", name="list_center_balances")
@requires_role("admin")
async def list_center_balances(request: Request) -> HTTPResponse:
    """What every ACTIVE centre is owed, by centre name."""
    return ok(await payouts.all_center_balances())


@bp.get("/center/<center_id:str>/balance", name="get_center_balance")
@requires_role(*CENTER_ROLES)
async def get_center_balance(request: Request, center_id: str) -> HTTPResponse:
    """What one centre is owed (eligible transactions), paid out and pending."""
    own_center(principal_of(request), center_id)
    return ok(await payouts.center_balance(center_id))


# ---------------------------------------------------------------------------------------------
# Payouts


@bp.post("/manual", name="create_manual_payout")
@requires_role("admin")
async def create_manual_payout(request: Request) -> HTTPResponse:
    """A PENDING payout of chosen eligible transactions of one centre (no transfer yet)."""
    body = checked(ManualPayoutBody, json_body(request))
    payout = await payouts.create_manual_payout(
        center_id=body.center_id,
        amount=body.amount,
        transaction_ids=body.transaction_ids,
        reason=body.reason,
        admin_id=principal_of(request).id,
    )
    return ok(payout, message="Manual payout created successfully")


def payout_outcome(payout_id: str, *, retry: bool, message: str) -> Renderer:
    """Turns the finished `process_payout` job into the answer (§3.4, §3.5)."""
    fallback = "Failed to retry payout" if retry else "Failed to process payout"

    async def render(job: Job) -> HTTPResponse:
        if job.status == JobStatus.DEAD:
            log.error("payout job %s died: %s", job.id, (job.error or {}).get("message"))
            raise ApiError(fallback)
        result = job.result if isinstance(job.result, dict) else {}
        if not result.get("ok"):
            raise ApiError(str(result.get("error") or fallback))
        detail = await payouts.payout_detail(payout_id)
        return ok({"payout": detail, "transfer": result.get("transfer")}, message=message)

    return render


@bp.post("/<payout_id:str>/process", name="process_payout")
@requires_role("admin")
async def process_payout(request: Request, payout_id: str) -> HTTPResponse:
    """Start the transfer of a PENDING payout."""
    await payouts.check_processable(payout_id)
    return await run_job(
        request,
        ProcessPayout(payout_id=payout_id),
        wait_seconds=PAYOUT_WAIT_SECONDS,
        render=payout_outcome(payout_id, retry=False, message="Payout processed successfully"),
        accepted_message="Payout processing accepted",
        unavailable_message=UNAVAILABLE,
    )


@bp.post("/<payout_id:str>/retry", name="retry_payout")
@requires_role("admin")
async def retry_payout(request: Request, payout_id: str) -> HTTPResponse:
    """Retry a FAILED payout (the provider is asked about the previous transfer first)."""
    await payouts.check_retryable(payout_id)
    return await run_job(
        request,
        ProcessPayout(payout_id=payout_id, retry=True),
        wait_seconds=PAYOUT_WAIT_SECONDS,
        render=payout_outcome(payout_id, retry=True, message="Payout retry initiated successfully"),
        accepted_message="Payout processing accepted",
        unavailable_message=UNAVAILABLE,
    )


@bp.get("", name="list_payouts")
@requires_role("admin")
async def list_payouts(request: Request) -> HTTPResponse:
    """All payouts, newest first (filters: centre, status, type, batch)."""
    query = checked(PayoutsQuery, query_dict(request))
    return ok(
        await payouts.list_payouts(
            page=query.page,
            limit=query.limit,
            center_id=query.center_id,
            status=query.status,
            payout_type=query.type,
            batch_reference=query.batch_reference,
        )
    )


@bp.get("/center/<center_id:str>", name="list_center_payouts")
@requires_role(*CENTER_ROLES)
async def list_center_payouts(request: Request, center_id: str) -> HTTPResponse:
    """One centre's payouts, newest first."""
    own_center(principal_of(request), center_id)
    query = checked(CenterPayoutsQuery, query_dict(request))
    return ok(
        await payouts.list_payouts(
            page=query.page,
            limit=query.limit,
            center_id=center_id,
            status=query.status,
            with_center=False,
        )
    )


@bp.get("/center/<center_id:str>/transactions", name="list_center_transactions")
@requires_role(*CENTER_ROLES)
async def list_center_transactions(request: Request, center_id: str) -> HTTPResponse:
    """Payments for a centre's appointments, with their payout items and totals."""
    own_center(principal_of(request), center_id)
    query = checked(CenterTransactionsQuery, query_dict(request))
    try:
        start = parse_bound(query.start_date, "startDate")
        end = parse_bound(query.end_date, "endDate", end=True)
    except ValidationFailed as exc:
        raise ApiError(exc.error, status=400, extra={"success": False}) from None
    return ok(
        await payouts.center_transactions(
            center_id=center_id,
            page=query.page,
            limit=query.limit,
            status=query.status,
            start=start,
            end=end,
        )
    )


# ---------------------------------------------------------------------------------------------
# The monthly batch (cron trigger)

_BATCH_LOCK = "zerocancer:monthly-payouts-trigger"


async def request_monthly_batch() -> Job | None:
    """The new batch job, or None when one is already queued or running."""
    async with in_transaction() as conn:
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [_BATCH_LOCK]
        )
        busy = (
            await Job.filter(
                actor_name=RunMonthlyPayouts.actor_name,
                status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
            )
            .using_db(conn)
            .exists()
        )
        if busy:
            return None
        return await enqueue(
            RunMonthlyPayouts(trigger="cron"),
            using_db=conn,
            requested_by=Requester("api_key", "cron"),
        )


def batch_failure(message: str) -> HTTPResponse:
    return respond({"ok": False, "error": message, "timestamp": iso(utc_now())}, status=500)


@bp.post("/monthly-batch", name="run_monthly_payouts")
@requires_api_key("cron")
async def run_monthly_payouts(request: Request) -> HTTPResponse:
    """Cron trigger of the monthly payout batch (x-api-key = CRON_API_KEY)."""
    runtime = runtime_of(request.app)
    actor, queue = RunMonthlyPayouts.actor_name, RunMonthlyPayouts.queue_name
    admission = await runtime.breaker.admit(actor, queue)
    if not admission.allowed:
        raise ServiceUnavailable(UNAVAILABLE, retry_after=admission.retry_after or 1)
    job = await request_monthly_batch()
    if job is None:
        runtime.breaker.release(actor)
        raise ApiError("A payout batch is already running", status=409)
    waited = requested_wait(request, MONTHLY_WAIT_SECONDS)
    finished = await runtime.waiter.wait(job.id, waited, FINAL_STATES)
    if finished is None:
        runtime.breaker.record_failure(actor, "timeout")
        return accepted_response(await Job.get(id=job.id), "Monthly payouts accepted")
    result = finished.result if isinstance(finished.result, dict) else {}
    if finished.status == JobStatus.DEAD:
        runtime.breaker.record_failure(actor, "dead")
        log.error("monthly payouts job %s died: %s", job.id, (finished.error or {}).get("message"))
        return batch_failure("Failed to process monthly payouts")
    runtime.breaker.record_success(actor)
    if result.get("conflict"):
        raise ApiError("A payout batch is already running", status=409)
    if not result.get("ok"):
        return batch_failure(str(result.get("error") or "Failed to process monthly payouts"))
    return respond(
        {
            "ok": True,
            "message": "Monthly payouts processed successfully",
            "data": {
                "processed": result.get("processed", 0),
                "failed": result.get("failed", 0),
                "totalAmount": result.get("totalAmount", 0),
                "details": result.get("details", []),
            },
        }
    )


# ---------------------------------------------------------------------------------------------
# Banks and accounts


@bp.get("/banks", name="list_banks")
@requires_role(*CENTER_ROLES)
async def list_banks(request: Request) -> HTTPResponse:
    """Nigerian banks, as the provider lists them."""
    try:
        banks = await gateway_for(request.app).list_banks()
    except ProviderError as exc:
        raise ApiError(
            f"Failed to get Nigerian banks: Failed to get banks: {exc.provider_message}",
            status=502,
        ) from None
    return ok(banks)


@bp.post("/verify-account", name="verify_account")
@requires_role(*CENTER_ROLES)
async def verify_account(request: Request) -> HTTPResponse:
    """The account holder's name for a bank account number."""
    body = checked(VerifyAccountBody, json_body(request))
    try:
        data = await gateway_for(request.app).resolve_account(body.account_number, body.bank_code)
    except ProviderError as exc:
        status = 502 if isinstance(exc, ProviderUnavailableError) else 400
        raise ApiError(
            f"Failed to verify account number: Account verification failed: {exc.provider_message}",
            status=status,
        ) from None
    return ok(
        {
            "account_number": data.get("account_number"),
            "account_name": data.get("account_name"),
            "bank_id": data.get("bank_id"),
        }
    )
