"""Payout rows: what a centre is owed, numbering, creation, and the guarded status updates.

Every status change is a conditional ``UPDATE ... WHERE status IN (...)`` (domain-model D-DM-1), so
a webhook, a retry and the processing of the same payout can race without undoing each other.
The eligibility rule is payouts.md §2.1: ``actors.contracts.payouts.ELIGIBLE_SQL``, the
statement the edge runs too.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from actors.contracts.payouts import ELIGIBLE_SQL, next_payout_number
from models.base import new_id, utc_now
from models.enums import PayoutStatus, PayoutType

#: Fee recorded on every payout ("₦10 flat", payouts.md §2.3, kept for parity: D-PAY-9).
PAYSTACK_FEE = 10.0
#: A monthly run skips centres owed less than this (naira).
MINIMUM_PAYOUT = 100.0
UNKNOWN_OUTCOME = "Transfer outcome unknown; awaiting provider confirmation"
NOT_PENDING = "Payout not found or not in pending status"
NOT_FAILED = "Payout not found or not in failed status"


@dataclass(frozen=True, slots=True)
class Eligible:
    id: str
    amount: float
    created_at: dt.datetime


async def eligible_transactions(
    center_id: str, *, using_db: BaseDBAsyncClient, lock: bool = False
) -> list[Eligible]:
    sql = ELIGIBLE_SQL + (" FOR UPDATE OF t" if lock else "")
    rows = await using_db.execute_query_dict(sql, [center_id])
    return [Eligible(r["id"], float(r["amount"]), r["created_at"]) for r in rows]


# ---------------------------------------------------------------------------------------------
# References (payouts.md §2.4)


def batch_reference(now: dt.datetime | None = None) -> str:
    moment = now or dt.datetime.now(dt.UTC)
    return f"PAY_{moment:%Y%m}_{secrets.token_hex(6).upper()}"


def transfer_reference(now: dt.datetime | None = None) -> str:
    moment = now or dt.datetime.now(dt.UTC)
    return f"TRF_{moment:%Y%m%d%H%M%S}_{secrets.token_hex(4).upper()}"


def recipient_reference(center_id: str) -> str:
    return f"RCP_{center_id[-8:].upper()}_{secrets.token_hex(3).upper()}"


# ---------------------------------------------------------------------------------------------
# Creation


async def item_rows(
    center_id: str, transactions: list[Eligible], *, using_db: BaseDBAsyncClient
) -> list[dict[str, Any]]:
    """One item per transaction: description and service date of its first appointment here."""
    if not transactions:
        return []
    rows = await using_db.execute_query_dict(
        """
        SELECT DISTINCT ON (a."transactionId") a."transactionId" AS transaction_id,
               a.id AS appointment_id, a."appointmentDateTime" AS service_date,
               s.name AS screening_name, u."fullName" AS patient_name
        FROM "Appointment" a
        JOIN "ScreeningType" s ON s.id = a."screeningTypeId"
        JOIN "User" u ON u.id = a."patientId"
        WHERE a."transactionId" = ANY($1::text[]) AND a."centerId" = $2
        ORDER BY a."transactionId", a."createdAt", a.id
        """,
        [[t.id for t in transactions], center_id],
    )
    by_transaction = {row["transaction_id"]: row for row in rows}
    items = []
    for transaction in transactions:
        row = by_transaction.get(transaction.id)
        items.append(
            {
                "transaction_id": transaction.id,
                "amount": transaction.amount,
                "description": (
                    f"{row['screening_name']} for {row['patient_name']}"
                    if row
                    else "Screening payment"
                ),
                "service_date": (row["service_date"] if row else None) or transaction.created_at,
                "appointment_id": row["appointment_id"] if row else None,
            }
        )
    return items


async def create_payout(
    *,
    center_id: str,
    transactions: list[Eligible],
    payout_type: PayoutType,
    batch: str,
    period_start: dt.datetime,
    period_end: dt.datetime,
    reason: str,
    initiated_by: str | None,
    using_db: BaseDBAsyncClient,
) -> str:
    """Inserts a PENDING payout and its items (the caller holds the transactions' locks)."""
    from models.payouts import Payout, PayoutItem

    amount = round(sum(t.amount for t in transactions), 2)
    now = utc_now()
    payout = await Payout.create(
        id=new_id(),
        batch_reference=batch,
        payout_number=await next_payout_number(now.date(), using_db=using_db),
        center_id=center_id,
        amount=amount,
        net_amount=round(amount - PAYSTACK_FEE, 2),
        status=PayoutStatus.PENDING,
        type=payout_type,
        initiated_by=initiated_by,
        period_start=period_start,
        period_end=period_end,
        reason=reason,
        created_at=now,
        updated_at=now,
        using_db=using_db,
    )
    for item in await item_rows(center_id, transactions, using_db=using_db):
        await PayoutItem.create(id=new_id(), payout_id=payout.id, using_db=using_db, **item)
    return payout.id


# ---------------------------------------------------------------------------------------------
# Guarded transitions


async def _update(
    sql: str, params: list[Any], *, using_db: BaseDBAsyncClient
) -> dict[str, Any] | None:
    rows = await using_db.execute_query_dict(sql, params)
    return rows[0] if rows else None


async def claim(
    payout_id: str, reference: str, recipient_id: str, *, using_db: BaseDBAsyncClient
) -> bool:
    """PENDING -> PROCESSING with a fresh transfer reference; False when not PENDING."""
    row = await _update(
        """
        UPDATE payouts SET status = 'PROCESSING', "transferReference" = $2, "processedAt" = $3,
               "recipientId" = $4, "failureReason" = NULL, "updatedAt" = $3
        WHERE id = $1 AND status = 'PENDING' RETURNING id
        """,
        [payout_id, reference, utc_now(), recipient_id],
        using_db=using_db,
    )
    return row is not None


async def mark_failed(
    payout_id: str,
    reason: str,
    *,
    count_retry: bool,
    from_statuses: tuple[str, ...] = ("PENDING", "PROCESSING"),
    using_db: BaseDBAsyncClient,
) -> bool:
    row = await _update(
        """
        UPDATE payouts SET status = 'FAILED', "failureReason" = $2,
               "retryCount" = "retryCount" + $3, "updatedAt" = $4
        WHERE id = $1 AND status::text = ANY($5::text[]) RETURNING id
        """,
        [payout_id, reason, 1 if count_retry else 0, utc_now(), list(from_statuses)],
        using_db=using_db,
    )
    return row is not None


async def mark_succeeded(
    payout_id: str,
    *,
    transfer_id: str | None = None,
    from_statuses: tuple[str, ...] = ("PENDING", "PROCESSING"),
    using_db: BaseDBAsyncClient,
) -> bool:
    now = utc_now()
    row = await _update(
        """
        UPDATE payouts SET status = 'SUCCESS', "completedAt" = $2, "failureReason" = NULL,
               "paystackTransferId" = COALESCE($3, "paystackTransferId"), "updatedAt" = $2
        WHERE id = $1 AND status::text = ANY($4::text[]) RETURNING id
        """,
        [payout_id, now, transfer_id, list(from_statuses)],
        using_db=using_db,
    )
    return row is not None


async def record_transfer_id(
    payout_id: str, transfer_id: str | None, *, using_db: BaseDBAsyncClient
) -> None:
    """Stores the provider's transfer id without touching the status (a webhook may have moved
    it on already)."""
    if transfer_id is None:
        return
    await using_db.execute_query(
        'UPDATE payouts SET "paystackTransferId" = $2, "updatedAt" = $3 '
        'WHERE id = $1 AND "paystackTransferId" IS NULL',
        [payout_id, transfer_id, utc_now()],
    )


async def mark_unknown(payout_id: str, *, using_db: BaseDBAsyncClient) -> None:
    await using_db.execute_query(
        'UPDATE payouts SET "failureReason" = $2, "updatedAt" = $3 '
        "WHERE id = $1 AND status = 'PROCESSING'",
        [payout_id, UNKNOWN_OUTCOME, utc_now()],
    )


async def reset_for_retry(payout_id: str, *, using_db: BaseDBAsyncClient) -> bool:
    """FAILED -> PENDING, type RETRY, reason cleared (payouts.md §3.5 step 4)."""
    row = await _update(
        """
        UPDATE payouts SET status = 'PENDING', type = 'RETRY', "failureReason" = NULL,
               "updatedAt" = $2
        WHERE id = $1 AND status = 'FAILED' AND "retryCount" < "maxRetries" RETURNING id
        """,
        [payout_id, utc_now()],
        using_db=using_db,
    )
    return row is not None


async def mark_processing(payout_id: str, *, using_db: BaseDBAsyncClient) -> bool:
    """FAILED -> PROCESSING when the provider says the previous transfer is still under way."""
    row = await _update(
        """
        UPDATE payouts SET status = 'PROCESSING', "failureReason" = NULL, "updatedAt" = $2
        WHERE id = $1 AND status = 'FAILED' RETURNING id
        """,
        [payout_id, utc_now()],
        using_db=using_db,
    )
    return row is not None
