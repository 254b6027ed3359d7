"""Centre payouts, the edge's part (payouts.md): balances, listings, manual payouts, transfer
webhook transitions, and the checks before a payout is handed to ``actor: payouts``.

What a centre is owed (§2.1) is ``actors.contracts.payouts.ELIGIBLE_SQL``, the statement
the payout worker runs too. Webhook transitions are guarded conditional updates, so a redelivered
or late event never undoes a final state (D-PAY-6).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from actors.contracts.payouts import ELIGIBLE_SQL, next_payout_number
from edge.services.campaigns import page_count
from edge.services.errors import InvalidInputError, NotFoundError
from edge.services.rows import row
from models.appointments import Appointment
from models.base import new_id, utc_now
from models.centers import ServiceCenter
from models.enums import PayoutStatus, PayoutType, ServiceCenterStatus
from models.payouts import Payout, PayoutItem
from models.transactions import Transaction

log = logging.getLogger("zerocancer.edge.payouts")

PAYSTACK_FEE = 10.0
INVALID_TRANSACTIONS = (
    "Some transactions are invalid, already paid out, or belong to a different center"
)
NOT_PENDING = "Payout not found or not in pending status"
NOT_FAILED = "Payout not found or not in failed status"
MAX_RETRIES = "Maximum retry attempts exceeded"

_ELIGIBLE_MANY_SQL = """
SELECT DISTINCT a."centerId" AS center_id, t.id
FROM "Transaction" t
JOIN "Appointment" a ON a."transactionId" = t.id AND a.status = 'COMPLETED'
WHERE t.status = 'COMPLETED' AND a."centerId" = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM payout_items pi WHERE pi."transactionId" = t.id)
"""

_PAYOUT_SUMS_SQL = """
SELECT "centerId" AS center_id,
       COALESCE(sum(amount) FILTER (WHERE status IN ('SUCCESS', 'PROCESSING')), 0) AS paid_out,
       COALESCE(sum(amount) FILTER (WHERE status = 'PENDING'), 0) AS pending,
       max("completedAt") FILTER (WHERE status = 'SUCCESS') AS last_payout
FROM payouts WHERE "centerId" = ANY($1::text[])
GROUP BY "centerId"
"""


def js_number(value: float) -> str:
    """A number as JavaScript prints it (``25000``, ``24999.5``)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def conn_of(using_db: BaseDBAsyncClient | None = None) -> BaseDBAsyncClient:
    return using_db or connections.get("default")


# ---------------------------------------------------------------------------------------------
# Shapes


async def appointment_rows(
    transaction_ids: Sequence[str], *, center_id: str | None = None, patient_email: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """Transaction id -> its appointments (row + center/patient/screeningType summaries)."""
    if not transaction_ids:
        return {}
    query = Appointment.filter(transaction_id__in=list(transaction_ids))
    if center_id is not None:
        query = query.filter(center_id=center_id)
    found: dict[str, list[dict[str, Any]]] = {}
    for appointment in await query.order_by("created_at", "id").select_related(
        "center", "patient", "screening_type"
    ):
        patient: dict[str, Any] = {"fullName": appointment.patient.full_name}
        if patient_email:
            patient["email"] = appointment.patient.email
        found.setdefault(str(appointment.transaction_id), []).append(
            {
                **row(appointment),
                "center": {"centerName": appointment.center.center_name},
                "patient": patient,
                "screeningType": {"name": appointment.screening_type.name},
            }
        )
    return found


async def payout_objects(
    payouts: Sequence[Payout], *, center: str | None = "summary", deep_items: bool = True
) -> list[dict[str, Any]]:
    """Payout rows + ``center`` (``summary``: {centerName}; ``contact``: + email; None: left
    out) + ``payoutItems`` (with their transaction and its appointments when ``deep_items``)."""
    ids = [p.id for p in payouts]
    items = await PayoutItem.filter(payout_id__in=ids).order_by("service_date", "id")
    transactions: dict[str, dict[str, Any]] = {}
    if deep_items and items:
        tx_ids = [i.transaction_id for i in items]
        appointments = await appointment_rows(tx_ids)
        for transaction in await Transaction.filter(id__in=tx_ids):
            transactions[transaction.id] = {
                **row(transaction),
                "appointments": [
                    {k: v for k, v in a.items() if k != "center"}
                    for a in appointments.get(transaction.id, [])
                ],
            }
    by_payout: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        shown = row(item)
        if deep_items:
            shown["transaction"] = transactions.get(item.transaction_id)
        by_payout.setdefault(item.payout_id, []).append(shown)
    centers = {
        c.id: c for c in await ServiceCenter.filter(id__in=list({p.center_id for p in payouts}))
    }
    result = []
    for payout in payouts:
        shown = row(payout)
        owner = centers.get(payout.center_id)
        if center is not None and owner is not None:
            shown["center"] = {"centerName": owner.center_name}
            if center == "contact":
                shown["center"]["email"] = owner.email
        shown["payoutItems"] = by_payout.get(payout.id, [])
        result.append(shown)
    return result


async def payout_detail(payout_id: str) -> dict[str, Any]:
    payout = await Payout.get(id=payout_id)
    return (await payout_objects([payout], deep_items=False))[0]


# ---------------------------------------------------------------------------------------------
# Balances (§3.1, §3.2)


async def balances(centers: Sequence[ServiceCenter]) -> list[dict[str, Any]]:
    """CenterBalance objects for ``centers``, with a fixed number of queries."""
    if not centers:
        return []
    conn = conn_of()
    ids = [c.id for c in centers]
    owed: dict[str, list[str]] = {}
    for entry in await conn.execute_query_dict(_ELIGIBLE_MANY_SQL, [ids]):
        owed.setdefault(entry["center_id"], []).append(entry["id"])
    tx_ids = [tx for txs in owed.values() for tx in txs]
    transactions = {
        t.id: t for t in await Transaction.filter(id__in=tx_ids).order_by("-created_at", "id")
    }
    appointments = await appointment_rows(tx_ids)
    sums = {r["center_id"]: r for r in await conn.execute_query_dict(_PAYOUT_SUMS_SQL, [ids])}
    result = []
    for center in centers:
        mine = sorted(
            (transactions[t] for t in owed.get(center.id, []) if t in transactions),
            key=lambda t: (t.created_at, t.id),
            reverse=True,
        )
        totals = sums.get(center.id, {})
        result.append(
            {
                "centerId": center.id,
                "centerName": center.center_name,
                "eligibleAmount": round(sum(t.amount for t in mine), 2),
                "eligibleTransactions": [
                    {**row(t), "appointments": appointments.get(t.id, [])} for t in mine
                ],
                "totalPaidOut": float(totals.get("paid_out") or 0),
                "pendingPayouts": float(totals.get("pending") or 0),
                "transactionCount": len(mine),
                "lastPayoutDate": totals.get("last_payout"),
            }
        )
    return result


async def center_balance(center_id: str) -> dict[str, Any]:
    center = await ServiceCenter.filter(id=center_id).first()
    if center is None:
        raise NotFoundError("Center not found")
    return (await balances([center]))[0]


async def all_center_balances() -> list[dict[str, Any]]:
    centers = await ServiceCenter.filter(status=ServiceCenterStatus.ACTIVE).order_by(
        "center_name", "id"
    )
    return await balances(centers)


# ---------------------------------------------------------------------------------------------
# Manual payouts (§3.3)


def batch_reference(now: dt.datetime) -> str:
    return f"PAY_{now:%Y%m}_{secrets.token_hex(6).upper()}"


_ITEM_SOURCES_SQL = """
SELECT DISTINCT ON (a."transactionId") a."transactionId" AS transaction_id,
       a.id AS appointment_id, a."appointmentDateTime" AS service_date,
       s.name AS screening_name, u."fullName" AS patient_name
FROM "Appointment" a
JOIN "ScreeningType" s ON s.id = a."screeningTypeId"
JOIN "User" u ON u.id = a."patientId"
WHERE a."transactionId" = ANY($1::text[]) AND a."centerId" = $2
ORDER BY a."transactionId", a."createdAt", a.id
"""


async def create_manual_payout(
    *,
    center_id: str,
    amount: float,
    transaction_ids: Sequence[str],
    reason: str | None,
    admin_id: str,
) -> dict[str, Any]:
    """A PENDING MANUAL payout of exactly the given eligible transactions; no transfer yet."""
    async with in_transaction() as conn:
        eligible = await conn.execute_query_dict(ELIGIBLE_SQL + " FOR UPDATE OF t", [center_id])
        by_id = {entry["id"]: entry for entry in eligible}
        chosen = [by_id[t] for t in transaction_ids if t in by_id]
        if len(chosen) != len(transaction_ids) or len(set(transaction_ids)) != len(transaction_ids):
            raise InvalidInputError(INVALID_TRANSACTIONS)
        total = round(sum(float(entry["amount"]) for entry in chosen), 2)
        if abs(total - amount) > 0.01:
            raise InvalidInputError(
                f"Amount mismatch: expected ₦{js_number(total)}, received ₦{js_number(amount)}"
            )
        now = utc_now()
        created = [entry["created_at"] for entry in chosen]
        payout = await Payout.create(
            id=new_id(),
            batch_reference=batch_reference(now),
            payout_number=await next_payout_number(now.date(), using_db=conn),
            center_id=center_id,
            amount=total,
            net_amount=round(total - PAYSTACK_FEE, 2),
            status=PayoutStatus.PENDING,
            type=PayoutType.MANUAL,
            initiated_by=admin_id,
            period_start=min(created),
            period_end=max(created),
            reason=reason or "Manual payout for completed appointments",
            created_at=now,
            updated_at=now,
            using_db=conn,
        )
        sources = {
            entry["transaction_id"]: entry
            for entry in await conn.execute_query_dict(
                _ITEM_SOURCES_SQL, [[e["id"] for e in chosen], center_id]
            )
        }
        for entry in chosen:
            source = sources.get(entry["id"])
            await PayoutItem.create(
                id=new_id(),
                payout_id=payout.id,
                transaction_id=entry["id"],
                amount=float(entry["amount"]),
                description=(
                    f"{source['screening_name']} for {source['patient_name']}"
                    if source
                    else "Screening payment"
                ),
                service_date=(source["service_date"] if source else None) or entry["created_at"],
                appointment_id=source["appointment_id"] if source else None,
                using_db=conn,
            )
    return await payout_detail(payout.id)


# ---------------------------------------------------------------------------------------------
# Checks before processing (§3.4, §3.5); the actor re-checks under its claim


async def check_processable(payout_id: str) -> None:
    payout = await Payout.filter(id=payout_id).first()
    if payout is None or payout.status != PayoutStatus.PENDING:
        raise InvalidInputError(NOT_PENDING)


async def check_retryable(payout_id: str) -> None:
    payout = await Payout.filter(id=payout_id).first()
    if payout is None or payout.status != PayoutStatus.FAILED:
        raise InvalidInputError(NOT_FAILED)
    if payout.retry_count >= payout.max_retries:
        raise InvalidInputError(MAX_RETRIES)


# ---------------------------------------------------------------------------------------------
# Listings (§3.6-§3.8)


async def list_payouts(
    *,
    page: int,
    limit: int,
    center_id: str | None = None,
    status: str | None = None,
    payout_type: str | None = None,
    batch_reference: str | None = None,
    with_center: bool = True,
) -> dict[str, Any]:
    query = Payout.all()
    if center_id:
        query = query.filter(center_id=center_id)
    if status:
        query = query.filter(status=status)
    if payout_type:
        query = query.filter(type=payout_type)
    if batch_reference:
        query = query.filter(batch_reference=batch_reference)
    total = await query.count()
    found = await query.order_by("-created_at", "-id").offset((page - 1) * limit).limit(limit)
    return {
        "payouts": await payout_objects(found, center="contact" if with_center else None),
        "pagination": {
            "page": page,
            "limit": limit,
            "total": total,
            "totalPages": page_count(total, limit),
        },
    }


_CENTER_TRANSACTIONS_SQL = """
FROM "Transaction" t
WHERE EXISTS (SELECT 1 FROM "Appointment" a WHERE a."transactionId" = t.id AND a."centerId" = $1)
  AND ($2::text IS NULL OR t.status::text = $2)
  AND ($3::timestamp IS NULL OR t."createdAt" >= $3)
  AND ($4::timestamp IS NULL OR t."createdAt" <= $4)
"""


async def center_transactions(
    *,
    center_id: str,
    page: int,
    limit: int,
    status: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> dict[str, Any]:
    conn = conn_of()
    params = [center_id, status, start, end]
    totals = (
        await conn.execute_query_dict(
            "SELECT count(*) AS n, COALESCE(sum(t.amount), 0) AS amount "
            + _CENTER_TRANSACTIONS_SQL,
            params,
        )
    )[0]
    ids = [
        entry["id"]
        for entry in await conn.execute_query_dict(
            "SELECT t.id "
            + _CENTER_TRANSACTIONS_SQL
            + ' ORDER BY t."createdAt" DESC, t.id DESC OFFSET $5 LIMIT $6',
            [*params, (page - 1) * limit, limit],
        )
    ]
    transactions = {t.id: t for t in await Transaction.filter(id__in=ids)}
    appointments = await appointment_rows(ids, center_id=center_id, patient_email=True)
    items = {i.transaction_id: i for i in await PayoutItem.filter(transaction_id__in=ids)}
    payouts = {
        p.id: p for p in await Payout.filter(id__in=list({i.payout_id for i in items.values()}))
    }
    shown = []
    for tx_id in ids:
        item = items.get(tx_id)
        payout = payouts.get(item.payout_id) if item else None
        shown.append(
            {
                **row(transactions[tx_id]),
                "appointments": [
                    {k: v for k, v in a.items() if k != "center"}
                    for a in appointments.get(tx_id, [])
                ],
                "payoutItem": (
                    {
                        **row(item),
                        "payout": {
                            "id": payout.id,
                            "payoutNumber": payout.payout_number,
                            "status": payout.status,
                            "completedAt": payout.completed_at,
                        }
                        if payout
                        else None,
                    }
                    if item
                    else None
                ),
            }
        )
    total = int(totals["n"])
    return {
        "transactions": shown,
        "totals": {"totalAmount": float(totals["amount"]), "totalCount": total},
        "pagination": {
            "page": page,
            "limit": limit,
            "total": total,
            "totalPages": page_count(total, limit),
        },
    }


# ---------------------------------------------------------------------------------------------
# Transfer webhooks (§3.10)

_TRANSFER_TRANSITIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "transfer.success": ("SUCCESS", ("PENDING", "PROCESSING")),
    "transfer.failed": ("FAILED", ("PENDING", "PROCESSING")),
    "transfer.reversed": ("FAILED", ("PROCESSING", "SUCCESS")),
}
TRANSFER_EVENTS = frozenset(_TRANSFER_TRANSITIONS)


async def apply_transfer_event(event: str, data: dict[str, Any]) -> int:
    """Moves the payouts of ``data.reference``; returns how many changed (0 for a repeat)."""
    reference = data.get("reference")
    if event not in _TRANSFER_TRANSITIONS or not isinstance(reference, str) or not reference:
        log.info("transfer event %s without a usable reference ignored", event)
        return 0
    target, sources = _TRANSFER_TRANSITIONS[event]
    now = utc_now()
    if event == "transfer.success":
        reason = None
    elif event == "transfer.failed":
        reason = str(data.get("failure_reason") or "Transfer failed via webhook")
    else:
        reason = "Transfer was reversed"
    rows = await conn_of().execute_query_dict(
        """
        UPDATE payouts SET status = $2::"PayoutStatus",
               "completedAt" = CASE WHEN $2 = 'SUCCESS' THEN $3 ELSE "completedAt" END,
               "failureReason" = CASE WHEN $2 = 'SUCCESS' THEN "failureReason" ELSE $4 END,
               "updatedAt" = $3
        WHERE "transferReference" = $1 AND status::text = ANY($5::text[])
        RETURNING id
        """,
        [reference, target, now, reason, list(sources)],
    )
    if not rows:
        log.info("transfer event %s for %s changed nothing (repeat or unknown)", event, reference)
    return len(rows)
