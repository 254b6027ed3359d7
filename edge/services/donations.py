"""Payments (donations.md §4.1, §4.2, §4.9-§4.11): anonymous donations, the payment completion
routine shared by the webhook and verify-payment, and the donor's receipts and impact.

The completion routine is exactly-once per payment reference (D-DON-1): the local ``Transaction``
is locked ``FOR UPDATE`` and only a PENDING/FAILED -> COMPLETED transition credits money, in the
same database transaction as the credit, the receipt job and the matching trigger. A repeat (a
redelivered webhook, a verify after the webhook) finds the row COMPLETED and changes nothing.
The local row, not the provider's metadata, says what is credited (D-DON-9).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from actors.contracts.messages import RenderReceipt, RunMatching
from actors.contracts.outbox import Requester, enqueue
from edge.services.campaigns import PendingPayment, credit_pool, page_count
from edge.services.check_in_codes import assign_check_in_code
from models.appointments import Appointment
from models.base import new_id, utc_now
from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.enums import (
    AppointmentStatus,
    CampaignStatus,
    TransactionStatus,
    TransactionType,
)
from models.jobs import Job, JobStatus
from models.transactions import Receipt, Transaction
from models.users import User

log = logging.getLogger("zerocancer.edge.payments")

#: Where anonymous donors' provider receipts go when they did not ask for one (§4.1).
DEFAULT_ANONYMOUS_EMAIL = "receipt@zerocancer.africa"
#: Self-pay check-in codes are valid this long after payment (appointments spec).
PAID_CODE_LIFETIME = dt.timedelta(days=365)


def anonymous_reference() -> str:
    """``donation-anon-{ms}-{hex16}`` (§2.2)."""
    return f"donation-anon-{int(time.time() * 1000)}-{secrets.token_hex(8)}"


async def create_pending_anonymous(*, amount: float, email: str) -> PendingPayment:
    """The PENDING pool donation, committed before the provider is called (D-DON-11)."""
    reference = anonymous_reference()
    transaction = await Transaction.create(
        id=new_id(),
        type=TransactionType.DONATION,
        status=TransactionStatus.PENDING,
        amount=amount,
        payment_reference=reference,
        payment_channel="PAYSTACK",
        related_donation_id=GENERAL_DONOR_POOL_ID,
    )
    return PendingPayment(transaction.id, reference, amount, email, GENERAL_DONOR_POOL_ID)


# ---------------------------------------------------------------------------------------------
# The payment completion routine (§4.2)


class Outcome(StrEnum):
    COMPLETED = "completed"
    REPEAT = "repeat"
    UNKNOWN_REFERENCE = "unknown_reference"
    WRONG_CURRENCY = "wrong_currency"


@dataclass(frozen=True, slots=True)
class Payment:
    """What the provider says was paid (from a webhook or a verification)."""

    reference: str
    amount_kobo: int
    currency: str | None
    metadata: dict[str, Any] | None


async def complete_payment(payment: Payment) -> Outcome:
    """Completes the local payment once; see the module docstring."""
    async with in_transaction() as conn:
        transaction = (
            await Transaction.filter(payment_reference=payment.reference)
            .select_for_update()
            .using_db(conn)
            .first()
        )
        if transaction is None:
            log.warning("unknown payment reference %s: nothing credited", payment.reference)
            return Outcome.UNKNOWN_REFERENCE
        if transaction.status == TransactionStatus.COMPLETED:
            return Outcome.REPEAT
        if (payment.currency or "").upper() != "NGN":
            log.error(
                "payment %s in currency %r ignored: only NGN is credited",
                payment.reference,
                payment.currency,
            )
            return Outcome.WRONG_CURRENCY
        paid = round(payment.amount_kobo / 100, 2)
        if abs(paid - transaction.amount) > 0.005:
            log.warning(
                "payment %s: paid %.2f, expected %.2f; crediting what was paid",
                payment.reference,
                paid,
                transaction.amount,
            )
        await (
            Transaction.filter(id=transaction.id)
            .using_db(conn)
            .update(status=TransactionStatus.COMPLETED)
        )
        email_to: str | None = None
        donor_email: str | None = None
        credited = False
        if transaction.type == TransactionType.DONATION:
            email_to, donor_email = await _credit_donation(
                transaction, paid, payment.metadata or {}, using_db=conn
            )
            credited = True
        elif transaction.type == TransactionType.APPOINTMENT:
            email_to = await _confirm_booking(transaction, using_db=conn)
        await enqueue(
            RenderReceipt(
                transaction_id=transaction.id, email_to=email_to, donor_email=donor_email
            ),
            using_db=conn,
            requested_by=Requester("system"),
            idempotency_key=f"receipt:issue:{transaction.id}",
        )
        if credited:
            await _request_matching(using_db=conn)
    return Outcome.COMPLETED


async def _credit_donation(
    transaction: Transaction,
    paid: float,
    metadata: dict[str, Any],
    *,
    using_db: BaseDBAsyncClient,
) -> tuple[str | None, str | None]:
    """Credits the pool or the campaign; returns (receipt email, anonymous donor's email)."""
    target = transaction.related_donation_id or GENERAL_DONOR_POOL_ID
    campaign = None
    if target != GENERAL_DONOR_POOL_ID:
        campaign = (
            await DonationCampaign.filter(id=target).select_for_update().using_db(using_db).first()
        )
    if campaign is None or campaign.status == CampaignStatus.DELETED:
        # Anonymous gifts, and late payments for a deleted campaign, go to the pool (D-DON-9).
        await credit_pool(paid, using_db=using_db)
        if campaign is not None:
            return await _donor_email(campaign.donor_id, using_db=using_db), None
        given = metadata.get("actual_email")
        given = str(given).strip() if isinstance(given, str) and given.strip() else None
        return (given if metadata.get("wants_receipt") is True else None), given
    campaign.total_amount = round(campaign.total_amount + paid, 2)
    campaign.available_amount = round((campaign.available_amount or 0.0) + paid, 2)
    if campaign.status in (CampaignStatus.PENDING, CampaignStatus.COMPLETED):
        campaign.status = CampaignStatus.ACTIVE  # a SUSPENDED campaign keeps its status
    campaign.updated_at = utc_now()
    await campaign.save(using_db=using_db)
    return await _donor_email(campaign.donor_id, using_db=using_db), None


async def _donor_email(user_id: str, *, using_db: BaseDBAsyncClient) -> str | None:
    user = await User.filter(id=user_id).using_db(using_db).first()
    return user.email if user is not None else None


async def _confirm_booking(transaction: Transaction, *, using_db: BaseDBAsyncClient) -> str | None:
    """PENDING self-pay appointment -> SCHEDULED with a fresh check-in code; returns the
    patient's email for the receipt."""
    appointment = (
        await Appointment.filter(transaction_id=transaction.id)
        .select_for_update()
        .using_db(using_db)
        .order_by("created_at", "id")
        .first()
    )
    if appointment is None:
        log.warning("paid booking %s has no appointment", transaction.payment_reference)
        return None
    if appointment.status == AppointmentStatus.PENDING:
        appointment.status = AppointmentStatus.SCHEDULED
        await assign_check_in_code(appointment, utc_now() + PAID_CODE_LIFETIME, using_db=using_db)
    else:
        log.info(
            "paid booking %s: appointment %s is %s; left unchanged",
            transaction.payment_reference,
            appointment.id,
            appointment.status,
        )
    return await _donor_email(appointment.patient_id, using_db=using_db)


async def _request_matching(*, using_db: BaseDBAsyncClient) -> None:
    """New money may fund waiting patients: ask for a matching run unless one is queued."""
    queued = (
        await Job.filter(actor_name=RunMatching.actor_name, status=JobStatus.QUEUED)
        .using_db(using_db)
        .exists()
    )
    if not queued:
        await enqueue(
            RunMatching(trigger_source="event"),
            using_db=using_db,
            requested_by=Requester("system"),
        )


async def fail_if_pending(reference: str) -> None:
    """The provider says the payment failed: a PENDING local row becomes FAILED (§4.9)."""
    await Transaction.filter(payment_reference=reference, status=TransactionStatus.PENDING).update(
        status=TransactionStatus.FAILED
    )


# ---------------------------------------------------------------------------------------------
# Donor views (§4.10, §4.11)


async def donor_receipts(*, donor_id: str, page: int, size: int) -> dict[str, Any]:
    campaigns = {
        c.id: c
        for c in await DonationCampaign.filter(donor_id=donor_id).exclude(id=GENERAL_DONOR_POOL_ID)
    }
    query = Transaction.filter(
        related_donation_id__in=list(campaigns),
        type=TransactionType.DONATION,
        status=TransactionStatus.COMPLETED,
    )
    total = await query.count() if campaigns else 0
    rows = (
        await query.order_by("-created_at", "-id").offset((page - 1) * size).limit(size)
        if campaigns
        else []
    )
    receipts = {
        r.transaction_id: r for r in await Receipt.filter(transaction_id__in=[t.id for t in rows])
    }
    items = []
    for transaction in rows:
        campaign = campaigns[str(transaction.related_donation_id)]
        receipt = receipts.get(transaction.id)
        items.append(
            {
                "transactionId": transaction.id,
                "reference": transaction.payment_reference,
                "amount": transaction.amount,
                "status": transaction.status,
                "paymentChannel": transaction.payment_channel,
                "createdAt": transaction.created_at,
                "campaign": {"id": campaign.id, "title": campaign.title},
                "receipt": (
                    {
                        "id": receipt.id,
                        "receiptNumber": receipt.receipt_number,
                        "emailSentAt": receipt.email_sent_at,
                        "emailRecipient": receipt.email_recipient,
                    }
                    if receipt
                    else None
                ),
            }
        )
    return {
        "receipts": items,
        "page": page,
        "pageSize": size,
        "total": total,
        "totalPages": page_count(total, size),
    }


_IMPACT_SQL = """
WITH mine AS (
    SELECT id, status, "availableAmount" FROM "DonationCampaign"
    WHERE "donorId" = $1 AND status <> 'PENDING' AND id <> 'general-donor-pool'
)
SELECT
    (SELECT COALESCE(sum(t.amount), 0) FROM "Transaction" t
      WHERE t."relatedDonationId" IN (SELECT id FROM mine)
        AND t.type = 'DONATION' AND t.status = 'COMPLETED') AS total_donated,
    (SELECT count(*) FROM mine) AS campaigns_count,
    (SELECT count(*) FROM mine WHERE status = 'ACTIVE') AS active_campaigns,
    (SELECT COALESCE(sum("availableAmount"), 0) FROM mine) AS available_amount,
    (SELECT count(*) FROM "DonationAllocation" d WHERE d."campaignId" IN (SELECT id FROM mine))
        AS patients_matched,
    (SELECT count(*) FILTER (WHERE a.status = 'COMPLETED') FROM "DonationAllocation" d
      JOIN "Appointment" a ON a.id = d."appointmentId"
      WHERE d."campaignId" IN (SELECT id FROM mine)) AS patients_helped,
    (SELECT count(*) FILTER (WHERE a.status = 'IN_PROGRESS') FROM "DonationAllocation" d
      JOIN "Appointment" a ON a.id = d."appointmentId"
      WHERE d."campaignId" IN (SELECT id FROM mine)) AS in_progress,
    (SELECT count(*) FILTER (WHERE a.status = 'SCHEDULED') FROM "DonationAllocation" d
      JOIN "Appointment" a ON a.id = d."appointmentId"
      WHERE d."campaignId" IN (SELECT id FROM mine)) AS scheduled
"""

_IMPACT_TYPES_SQL = """
SELECT s.id, s.name,
       count(d.id) FILTER (WHERE a.status = 'COMPLETED') AS patients_helped
FROM "DonationCampaign" c
JOIN "_DonationCampaignScreeningTypes" j ON j."A" = c.id
JOIN "ScreeningType" s ON s.id = j."B"
LEFT JOIN "DonationAllocation" d ON d."campaignId" = c.id
LEFT JOIN "Waitlist" w ON w.id = d."waitlistId" AND w."screeningTypeId" = s.id
LEFT JOIN "Appointment" a ON a.id = d."appointmentId" AND w.id IS NOT NULL
WHERE c."donorId" = $1 AND c.status <> 'PENDING' AND c.id <> 'general-donor-pool'
GROUP BY s.id, s.name
ORDER BY s.name, s.id
"""


async def donor_impact(*, donor_id: str) -> dict[str, Any]:
    from tortoise import connections

    conn = connections.get("default")
    row = (await conn.execute_query_dict(_IMPACT_SQL, [donor_id]))[0]
    types = await conn.execute_query_dict(_IMPACT_TYPES_SQL, [donor_id])
    return {
        "totalDonated": float(row["total_donated"]),
        "campaignsCount": int(row["campaigns_count"]),
        "activeCampaigns": int(row["active_campaigns"]),
        "availableAmount": float(row["available_amount"]),
        "patientsMatched": int(row["patients_matched"]),
        "patientsHelped": int(row["patients_helped"]),
        "appointmentsInProgress": int(row["in_progress"]),
        "appointmentsScheduled": int(row["scheduled"]),
        "screeningTypes": [
            {"id": t["id"], "name": t["name"], "patientsHelped": int(t["patients_helped"])}
            for t in types
        ],
    }
