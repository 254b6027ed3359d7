"""Payout actors (queue ``payouts``): process or retry one payout, reconcile an unknown transfer,
run the monthly batch (payouts.md §3.4, §3.5, §3.9, §2.2).

Business refusals (not pending, bank details incomplete, the provider rejected the transfer) are
results ``{"ok": false, "error": <text>}``, not exceptions: retrying them cannot help, and the edge
answers them with 400. Exceptions are infrastructure failures and are retried; processing is safe
to retry because the claim (``PENDING -> PROCESSING``) is committed before the transfer call and a
second attempt finds the payout no longer ``PENDING``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from actors.contracts.messages import ProcessPayout, ReconcilePayout, RunMonthlyPayouts
from actors.contracts.outbox import Requester, enqueue
from actors.middleware.jobs import report_progress
from actors.payouts import store
from actors.payouts.gateway import (
    TransferGateway,
    TransferNotFoundError,
    TransferProviderError,
    TransferRejectedError,
    TransferUnavailableError,
)
from actors.policy import ActorPolicy, RateLimit, register
from models.base import new_id, utc_now
from models.enums import PayoutType

log = logging.getLogger(__name__)

BANK_DETAILS_INCOMPLETE = (
    "Center bank details not complete. Please ensure bankName, bankAccount, and bankCode are set."
)
BATCH_RUNNING = "A payout batch is already running"
#: Session advisory lock held by a monthly run (one run at a time).
MONTHLY_LOCK = "zerocancer:monthly-payouts"
#: Provider transfer statuses meaning "under way, not final".
IN_FLIGHT = frozenset({"pending", "processing", "otp", "queued", "received"})
#: First reconciliation attempt after an unknown outcome (PAYOUT_RECONCILE_DELAY_MS).
RECONCILE_DELAY_MS = 60_000

PAYOUT_POLICY = ActorPolicy(
    max_retries=5,
    min_backoff_ms=10_000,
    max_backoff_ms=600_000,
    time_limit_ms=120_000,
    rate_limit=RateLimit("window", 10, window_s=1, retry_delay_ms=1_000),
    notes="claim before transfer; an unknown outcome is reconciled, never re-sent",
)
RECONCILE_POLICY = ActorPolicy(
    max_retries=60,
    min_backoff_ms=60_000,
    max_backoff_ms=3_600_000,
    retry_for_ms=7 * 24 * 3_600_000,
    time_limit_ms=60_000,
    rate_limit=RateLimit("window", 10, window_s=1, retry_delay_ms=1_000),
    notes="asks the provider until the transfer's outcome is known (up to 7 days)",
)
MONTHLY_POLICY = ActorPolicy(
    max_retries=2,
    min_backoff_ms=60_000,
    max_backoff_ms=600_000,
    time_limit_ms=3_600_000,
    rate_limit=RateLimit("concurrent", 1, ttl_ms=3_700_000, retry_delay_ms=10_000),
    notes="one run at a time (advisory lock); re-running pays only newly eligible work",
)

GatewayFactory = Callable[[], TransferGateway]


def default_gateway() -> TransferGateway:
    return TransferGateway()


#: How actors get their provider client (tests swap it for one with a short timeout).
gateway_factory: GatewayFactory = default_gateway


class RecipientError(Exception):
    """The centre's transfer recipient could not be ensured; ``count_retry`` says whether the
    failure counts against the payout's retries (bank details missing do not, D-PAY-10)."""

    def __init__(self, message: str, *, count_retry: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.count_retry = count_retry


class TransferOutcomePendingError(Exception):
    """The provider still reports the transfer as under way; ask again later."""


def refused(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


# ---------------------------------------------------------------------------------------------
# Recipients (payouts.md §2.5)


async def ensure_recipient(center_id: str, gateway: TransferGateway) -> Any:
    """The centre's ``PaystackRecipient``, created (or refreshed when the bank details changed)
    under a per-centre lock so two payouts never create two."""
    from models.centers import ServiceCenter
    from models.payouts import PaystackRecipient

    async with in_transaction() as conn:
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [f"zerocancer:recipient:{center_id}"],
        )
        center = await ServiceCenter.get(id=center_id, using_db=conn)
        if not (center.bank_name and center.bank_account and center.bank_code):
            raise RecipientError(BANK_DETAILS_INCOMPLETE, count_retry=False)
        existing = await PaystackRecipient.filter(center_id=center_id).using_db(conn).first()
        if (
            existing is not None
            and existing.account_number == center.bank_account
            and existing.bank_code == center.bank_code
        ):
            return existing
        try:
            resolved = await gateway.resolve_account(center.bank_account, center.bank_code)
        except TransferProviderError as exc:
            raise RecipientError(
                "Failed to create Paystack recipient: Failed to verify account number: "
                f"Account verification failed: {exc.message}"
            ) from None
        name = center.account_name or str(resolved.get("account_name") or center.center_name)
        try:
            created = await gateway.create_transfer_recipient(
                name=name, account_number=center.bank_account, bank_code=center.bank_code
            )
        except TransferProviderError as exc:
            raise RecipientError(
                "Failed to create Paystack recipient: Paystack recipient creation failed: "
                f"{exc.message}"
            ) from None
        code = str(created.get("recipient_code") or "")
        if not code:
            raise RecipientError(
                "Failed to create Paystack recipient: no recipient code in the provider answer"
            )
        fields = {
            "recipient_code": code,
            "bank_name": center.bank_name,
            "bank_code": center.bank_code,
            "account_number": center.bank_account,
            "account_name": name,
            "is_active": True,
            "updated_at": utc_now(),
        }
        if existing is not None:
            await PaystackRecipient.filter(id=existing.id).using_db(conn).update(**fields)
            return await PaystackRecipient.get(id=existing.id, using_db=conn)
        return await PaystackRecipient.create(
            id=new_id(),
            center_id=center_id,
            reference=str(created.get("reference") or store.recipient_reference(center_id)),
            using_db=conn,
            **fields,
        )


# ---------------------------------------------------------------------------------------------
# Processing (payouts.md §3.4, §3.5)


async def _schedule_reconcile(payout_id: str, reference: str) -> None:
    delay = int(os.environ.get("PAYOUT_RECONCILE_DELAY_MS", "") or RECONCILE_DELAY_MS)
    async with in_transaction() as conn:
        await enqueue(
            ReconcilePayout(payout_id=payout_id),
            using_db=conn,
            requested_by=Requester("system"),
            idempotency_key=f"payout-reconcile:{reference}",
            delay_ms=delay,
        )


async def process_one(payout_id: str, gateway: TransferGateway) -> dict[str, Any]:
    """Recipient, claim, one transfer (payouts.md §3.4); the result says what happened."""
    from models.payouts import Payout

    conn = connections.get("default")
    payout = await Payout.filter(id=payout_id).first()
    if payout is None or payout.status != "PENDING":
        return refused(store.NOT_PENDING)
    try:
        recipient = await ensure_recipient(payout.center_id, gateway)
    except RecipientError as exc:
        await store.mark_failed(payout_id, exc.message, count_retry=exc.count_retry, using_db=conn)
        return refused(exc.message)
    reference = store.transfer_reference()
    if not await store.claim(payout_id, reference, recipient.id, using_db=conn):
        return refused(store.NOT_PENDING)
    try:
        transfer = await gateway.initiate_transfer(
            amount_kobo=round(payout.amount * 100),
            recipient=recipient.recipient_code,
            reason=payout.reason,
            reference=reference,
        )
    except TransferRejectedError as exc:
        message = f"Failed to initiate Paystack transfer: Paystack transfer failed: {exc.message}"
        await store.mark_failed(payout_id, message, count_retry=True, using_db=conn)
        return refused(message)
    except TransferUnavailableError as exc:
        # The provider may have taken the transfer: never mark it FAILED (that would invite a
        # second transfer); keep PROCESSING and ask the provider later (D-PAY-1).
        log.warning("payout %s: transfer %s outcome unknown: %s", payout_id, reference, exc)
        await store.mark_unknown(payout_id, using_db=conn)
        await _schedule_reconcile(payout_id, reference)
        return {"ok": True, "transfer": None, "outcome": "unknown"}
    transfer_id = str(transfer["id"]) if transfer.get("id") is not None else None
    if str(transfer.get("status") or "").lower() == "success":
        await store.mark_succeeded(
            payout_id, transfer_id=transfer_id, from_statuses=("PROCESSING",), using_db=conn
        )
    else:
        await store.record_transfer_id(payout_id, transfer_id, using_db=conn)
    return {"ok": True, "transfer": transfer, "outcome": str(transfer.get("status") or "")}


async def retry_one(payout_id: str, gateway: TransferGateway) -> dict[str, Any]:
    """Retry a FAILED payout (payouts.md §3.5): verify the previous transfer first."""
    from models.payouts import Payout

    conn = connections.get("default")
    payout = await Payout.filter(id=payout_id).first()
    if payout is None or payout.status != "FAILED":
        return refused(store.NOT_FAILED)
    if payout.retry_count >= payout.max_retries:
        return refused("Maximum retry attempts exceeded")
    if payout.transfer_reference:
        try:
            previous = await gateway.verify_transfer(payout.transfer_reference)
        except TransferNotFoundError:
            previous = {}
        except TransferProviderError as exc:
            # Without the provider's word the previous transfer may have gone through.
            return refused(f"Failed to verify transfer: Transfer verification failed: {exc}")
        status = str(previous.get("status") or "").lower()
        if status == "success":
            transfer_id = str(previous["id"]) if previous.get("id") is not None else None
            await store.mark_succeeded(
                payout_id, transfer_id=transfer_id, from_statuses=("FAILED",), using_db=conn
            )
            return {"ok": True, "transfer": previous, "outcome": "success"}
        if status in IN_FLIGHT:
            await store.mark_processing(payout_id, using_db=conn)
            return {"ok": True, "transfer": previous, "outcome": status}
    if not await store.reset_for_retry(payout_id, using_db=conn):
        return refused(store.NOT_FAILED)
    return await process_one(payout_id, gateway)


async def reconcile_one(payout_id: str, gateway: TransferGateway) -> dict[str, Any]:
    """Settle a PROCESSING payout from the provider's record of its transfer."""
    from models.payouts import Payout

    conn = connections.get("default")
    payout = await Payout.filter(id=payout_id).first()
    if payout is None or payout.status != "PROCESSING" or not payout.transfer_reference:
        return {"ok": True, "outcome": "nothing to do"}
    try:
        transfer = await gateway.verify_transfer(payout.transfer_reference)
    except TransferNotFoundError:
        # The provider never received the transfer: it can be retried safely.
        await store.mark_failed(
            payout_id,
            "Transfer not received by the provider",
            count_retry=True,
            from_statuses=("PROCESSING",),
            using_db=conn,
        )
        return {"ok": True, "outcome": "not_found"}
    status = str(transfer.get("status") or "").lower()
    if status == "success":
        transfer_id = str(transfer["id"]) if transfer.get("id") is not None else None
        await store.mark_succeeded(
            payout_id, transfer_id=transfer_id, from_statuses=("PROCESSING",), using_db=conn
        )
    elif status in ("failed", "reversed", "abandoned", "rejected"):
        reason = "Transfer was reversed" if status == "reversed" else "Transfer failed"
        await store.mark_failed(
            payout_id, reason, count_retry=True, from_statuses=("PROCESSING",), using_db=conn
        )
    else:
        raise TransferOutcomePendingError(f"transfer still {status or 'unknown'}")
    return {"ok": True, "outcome": status}


# ---------------------------------------------------------------------------------------------
# The monthly batch (payouts.md §3.9)


def month_start(moment: dt.datetime) -> dt.datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def run_monthly(trigger: str, gateway: TransferGateway) -> dict[str, Any]:
    """The batch under a session advisory lock held on one pooled connection for its length;
    a concurrent run gets ``{"ok": false, "conflict": true}``."""
    client: Any = connections.get("default")
    async with client.acquire_connection() as raw:
        locked = await raw.fetchval(
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", MONTHLY_LOCK
        )
        if not locked:
            return {"ok": False, "conflict": True, "error": BATCH_RUNNING}
        try:
            return await monthly_batch(trigger, gateway)
        finally:
            await raw.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", MONTHLY_LOCK)


async def monthly_batch(trigger: str, gateway: TransferGateway) -> dict[str, Any]:
    """One payout per ACTIVE centre owed at least ₦100, each processed at once."""
    from models.centers import ServiceCenter
    from models.enums import ServiceCenterStatus

    now = utc_now()
    batch = store.batch_reference(now)
    period_start = month_start(now)
    reason = f"Automated monthly payout for {now:%B %Y}"
    centers = await ServiceCenter.filter(status=ServiceCenterStatus.ACTIVE).order_by(
        "center_name", "id"
    )
    details: list[dict[str, Any]] = []
    processed = failed = 0
    total = 0.0
    for index, center in enumerate(centers):
        entry: dict[str, Any] = {"centerId": center.id, "centerName": center.center_name}
        async with in_transaction() as conn:
            owed = await store.eligible_transactions(center.id, using_db=conn, lock=True)
            amount = round(sum(t.amount for t in owed), 2)
            payout_id: str | None = None
            if amount >= store.MINIMUM_PAYOUT:
                payout_id = await store.create_payout(
                    center_id=center.id,
                    transactions=owed,
                    payout_type=PayoutType.AUTOMATED,
                    batch=batch,
                    period_start=period_start,
                    period_end=now,
                    reason=reason,
                    initiated_by=None,
                    using_db=conn,
                )
        if payout_id is None:
            details.append(
                {
                    **entry,
                    "status": "skipped",
                    "amount": amount,
                    "error": "Below minimum payout threshold (₦100)",
                }
            )
        else:
            try:
                outcome = await process_one(payout_id, gateway)
            except Exception:
                log.exception("monthly payout %s for centre %s failed", payout_id, center.id)
                outcome = refused("Failed to process payout")
            if outcome.get("ok"):
                processed += 1
                total = round(total + amount, 2)
                details.append({**entry, "status": "success", "amount": amount})
            else:
                failed += 1
                details.append(
                    {**entry, "status": "failed", "amount": 0, "error": outcome.get("error")}
                )
        await report_progress(index + 1, len(centers))
    log.info(
        "monthly payouts (%s): %d processed, %d failed, ₦%.2f", trigger, processed, failed, total
    )
    return {
        "ok": True,
        "batchReference": batch,
        "processed": processed,
        "failed": failed,
        "totalAmount": total,
        "details": details,
    }


# ---------------------------------------------------------------------------------------------
# Actors


async def _with_gateway(work: Callable[[TransferGateway], Awaitable[dict[str, Any]]]) -> Any:
    gateway = gateway_factory()
    try:
        return await work(gateway)
    finally:
        await gateway.close()


@register(ProcessPayout, PAYOUT_POLICY)
async def process_payout(payout_id: str, retry: bool = False) -> dict[str, Any]:
    """Process (or retry) one payout."""
    action = retry_one if retry else process_one
    result: dict[str, Any] = await _with_gateway(lambda gateway: action(payout_id, gateway))
    return result


@register(ReconcilePayout, RECONCILE_POLICY)
async def reconcile_payout(payout_id: str) -> dict[str, Any]:
    """Learn the outcome of a transfer whose answer was lost."""
    result: dict[str, Any] = await _with_gateway(lambda gateway: reconcile_one(payout_id, gateway))
    return result


@register(RunMonthlyPayouts, MONTHLY_POLICY)
async def run_monthly_payouts(trigger: str = "schedule") -> dict[str, Any]:
    """The monthly payout batch."""
    result: dict[str, Any] = await _with_gateway(lambda gateway: run_monthly(trigger, gateway))
    return result
