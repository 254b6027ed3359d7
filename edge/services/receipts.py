"""Receipts, the edge's part (receipts.md): who may read a transaction's receipt, the receipt
object, the admin listing, and the ``render_receipt`` jobs the edge asks for and waits on.

Issuing (number, data, PDF, email) happens only in ``actors.documents.render_receipt``; the edge
never writes a ``Receipt`` row, so there is one implementation of numbering and of the data.
A transaction the caller may not read answers exactly like a missing one (404, §2).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tortoise import connections

from edge.auth.guards import Principal
from edge.services.errors import AccessDeniedError, AlreadyExistsError, NotFoundError
from models.appointments import Appointment
from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.enums import TransactionStatus, TransactionType
from models.transactions import Receipt, Transaction
from models.users import User

NOT_FOUND = "Receipt not found"
NOT_ISSUABLE = "Receipts are only issued for completed donation or appointment payments"
OWN_ADDRESS_ONLY = "You can only resend a receipt to your own email address"


class ReceiptNotIssuableError(AlreadyExistsError):
    """The transaction exists but is not a COMPLETED donation or appointment payment (409)."""

    default_message = NOT_ISSUABLE


async def readable_transaction(transaction_id: str, principal: Principal) -> Transaction:
    """The transaction when the caller may read its receipt (§2), else ``NotFoundError``."""
    transaction = await Transaction.filter(id=transaction_id).first()
    if transaction is None or not await may_read(transaction, principal):
        raise NotFoundError(NOT_FOUND)
    return transaction


async def may_read(transaction: Transaction, principal: Principal) -> bool:
    if principal.kind == "admin":
        return True
    if transaction.type == TransactionType.APPOINTMENT:
        appointments = Appointment.filter(transaction_id=transaction.id)
        if principal.kind == "patient":
            return await appointments.filter(patient_id=principal.id).exists()
        if principal.kind in ("center", "center_staff"):
            return await appointments.filter(center_id=principal.id).exists()
        return False
    if transaction.type == TransactionType.DONATION and principal.kind == "donor":
        campaign_id = transaction.related_donation_id
        if not campaign_id or campaign_id == GENERAL_DONOR_POOL_ID:
            return False
        return await DonationCampaign.filter(id=campaign_id, donor_id=principal.id).exists()
    return False


def check_issuable(transaction: Transaction) -> None:
    if transaction.status != TransactionStatus.COMPLETED or transaction.type not in (
        TransactionType.DONATION,
        TransactionType.APPOINTMENT,
    ):
        raise ReceiptNotIssuableError()


def receipt_object(receipt: Receipt) -> dict[str, Any]:
    """TReceipt (§6.1)."""
    return {
        "id": receipt.id,
        "transactionId": receipt.transaction_id,
        "receiptNumber": receipt.receipt_number,
        "receiptData": receipt.receipt_data,
        "pdfPath": receipt.pdf_path,
        "emailSentAt": receipt.email_sent_at,
        "emailRecipient": receipt.email_recipient,
        "createdAt": receipt.created_at,
        "updatedAt": receipt.updated_at,
    }


async def receipt_of(transaction_id: str) -> Receipt | None:
    return await Receipt.filter(transaction_id=transaction_id).first()


async def check_resend_address(principal: Principal, address: str) -> None:
    """Owners may resend only to their own account address; admins anywhere (§6.4)."""
    if principal.kind == "admin":
        return
    own = principal.email
    if principal.kind in ("patient", "donor"):
        user = await User.filter(id=principal.id).first()
        own = user.email if user else own
    if address.strip().lower() != (own or "").strip().lower():
        raise AccessDeniedError(OWN_ADDRESS_ONLY)


# ---------------------------------------------------------------------------------------------
# Admin monitoring (§6.5)


_LIST_FILTER = """
FROM "Receipt" r JOIN "Transaction" t ON t.id = r."transactionId"
WHERE ($1::text IS NULL OR r."receiptData"->>'type' = $1)
  AND ($2::text IS NULL
       OR EXISTS (SELECT 1 FROM "Appointment" a
                  WHERE a."transactionId" = t.id AND a."patientId" = $2)
       OR EXISTS (SELECT 1 FROM "DonationCampaign" c
                  WHERE c.id = t."relatedDonationId" AND c."donorId" = $2))
  AND ($3::timestamp IS NULL OR r."createdAt" >= $3)
  AND ($4::timestamp IS NULL OR r."createdAt" <= $4)
  AND ($5::boolean IS NULL OR (r."emailSentAt" IS NOT NULL) = $5)
"""


async def list_receipts(
    *,
    page: int,
    limit: int,
    receipt_type: str | None,
    user_id: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    email_sent: bool | None,
) -> dict[str, Any]:
    """Every filter applies in SQL before paging (D-RCP-10); newest first."""
    conn = connections.get("default")
    params: list[Any] = [receipt_type, user_id, start, end, email_sent]
    total = (await conn.execute_query_dict("SELECT count(*) AS n " + _LIST_FILTER, params))[0]
    ids = [
        entry["id"]
        for entry in await conn.execute_query_dict(
            "SELECT r.id "
            + _LIST_FILTER
            + ' ORDER BY r."createdAt" DESC, r.id DESC OFFSET $6 LIMIT $7',
            [*params, (page - 1) * limit, limit],
        )
    ]
    found = {r.id: r for r in await Receipt.filter(id__in=ids)}
    return {
        "receipts": [receipt_object(found[i]) for i in ids if i in found],
        "total": int(total["n"]),
        "page": page,
        "limit": limit,
    }
