"""PDF actors (reportlab): ``render_receipt`` issues, renders and emails payment receipts.

Receipts (spec/api/receipts.md):

- **Number** ``RCP-YYYYMMDD-NNNNNN``: the Africa/Lagos issue day and a per-day sequence taken
  from ``receipt_number_counters`` in the transaction that inserts the ``Receipt`` row, so numbers
  are unique and gap-free (a rollback returns the number). Regeneration keeps the number.
- **Idempotent per transaction**: the ``Transaction`` row is locked ``FOR UPDATE`` while its
  receipt is looked up and created, so concurrent or redelivered jobs never make a second one.
- **PDF**: A4, one page, the lines of §4. The font is DejaVu Sans embedded as a TrueType font
  (not the built-in Helvetica the reference used), so names in any script the font covers
  (Yoruba diacritics, Cyrillic, Greek, ...) render; amounts still print ``NGN``. The file is
  written atomically under STORAGE_DIR at ``receipts/receipt-{number}.pdf`` (the ``pdfPath`` key).
- **Email** (E-11): one ``send_email`` job (template ``payment_receipt``, the PDF attached by the
  email actor), written through the outbox; the email actor records ``emailSentAt`` on delivery.
  Automatic sends happen once per address (idempotency key); ``resend`` always sends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from actors.contracts.messages import RenderReceipt, SendEmail
from actors.contracts.outbox import Requester, enqueue
from actors.errors import PermanentError
from actors.middleware.jobs import current_job
from actors.policy import ActorPolicy, RateLimit, register
from actors.settings import current

log = logging.getLogger(__name__)

#: Human-facing dates and receipt numbers use the Lagos calendar day (UTC+1, no DST).
LAGOS = ZoneInfo("Africa/Lagos")
#: Storage folder of receipt PDFs (relative to STORAGE_DIR).
RECEIPTS_FOLDER = "receipts"
#: Stand-in address when an anonymous donor gave none; never emailed.
UNKNOWN_EMAIL = "unknown@email.com"
POOL_ID = "general-donor-pool"
POOL_TITLE = "General donation public pool"
DEFAULT_CAMPAIGN_DESCRIPTION = "General donation to support cancer screening"
#: The email template of E-11.
RECEIPT_TEMPLATE = "payment_receipt"

#: Font search order: RECEIPT_FONT_PATH, the copy shipped in actors/fonts, the system's.
BUNDLED_FONT = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"
SYSTEM_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_NAME = "ZeroCancerSans"

DOCUMENTS_POLICY = ActorPolicy(
    max_retries=5,
    min_backoff_ms=5_000,
    max_backoff_ms=600_000,
    time_limit_ms=60_000,
    rate_limit=RateLimit("concurrent", 4, ttl_ms=90_000, retry_delay_ms=500),
    notes="one receipt per transaction (row lock); the PDF is rewritten atomically",
)


class ReceiptNotIssuableError(PermanentError):
    """The transaction does not exist, or is not a COMPLETED donation or appointment payment."""


@dataclass(frozen=True, slots=True)
class Organization:
    """The issuer printed on receipts (RECEIPT_ORG_*; defaults are the reference's placeholders,
    production must set real values, D-RCP-14)."""

    name: str = "Zero Cancer Initiative"
    address: str = "123 Health Street, Medical City, State 12345"
    tax_id: str = "TAX-123456789"
    email: str = "contact@zerocancer.org"
    phone: str = "+1 (555) 123-4567"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Organization:
        env = os.environ if environ is None else environ
        default = cls()

        def value(name: str, fallback: str) -> str:
            return env.get(name, "").strip() or fallback

        return cls(
            name=value("RECEIPT_ORG_NAME", default.name),
            address=value("RECEIPT_ORG_ADDRESS", default.address),
            tax_id=value("RECEIPT_ORG_TAX_ID", default.tax_id),
            email=value("RECEIPT_ORG_EMAIL", default.email),
            phone=value("RECEIPT_ORG_PHONE", default.phone),
        )


# ---------------------------------------------------------------------------------------------
# Formatting


def iso(moment: dt.datetime | None) -> str | None:
    """``2025-07-29T16:38:17.123Z``; naive values are UTC (as the database stores them)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def lagos_day(moment: dt.datetime) -> dt.date:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(LAGOS).date()


def parse_instant(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def long_date(value: str | dt.datetime | None) -> str:
    """``D MMMM YYYY`` of the Lagos day (``29 July 2025``); empty when unknown."""
    moment = parse_instant(value) if isinstance(value, str) or value is None else value
    if moment is None:
        return ""
    day = lagos_day(moment)
    return f"{day.day} {day:%B %Y}"


def money(amount: float) -> str:
    """``12,345.00``: thousands separator, exactly two decimals."""
    return f"{amount:,.2f}"


def receipt_key(receipt_number: str) -> str:
    return f"{RECEIPTS_FOLDER}/receipt-{receipt_number}.pdf"


# ---------------------------------------------------------------------------------------------
# Issuing (number + data)

_NEXT_NUMBER_SQL = """
INSERT INTO receipt_number_counters (day, last_value) VALUES ($1, 1)
ON CONFLICT (day) DO UPDATE SET last_value = receipt_number_counters.last_value + 1
RETURNING last_value
"""


async def allocate_receipt_number(day: dt.date, *, using_db: BaseDBAsyncClient) -> str:
    """The next number of ``day``; rolls back with the caller's transaction (gap-free)."""
    rows = await using_db.execute_query_dict(_NEXT_NUMBER_SQL, [day])
    return f"RCP-{day:%Y%m%d}-{int(rows[0]['last_value']):06d}"


async def build_receipt_data(
    transaction: Any,
    receipt_number: str,
    *,
    using_db: BaseDBAsyncClient,
    donor_email: str | None = None,
    previous: Mapping[str, Any] | None = None,
    organization: Organization | None = None,
) -> dict[str, Any]:
    """The ``ReceiptData`` object of receipts.md §3.3 (every key present)."""
    from models.appointments import Appointment
    from models.campaigns import DonationCampaign
    from models.enums import TransactionType
    from models.users import User

    org = organization or Organization.from_env()
    kind = str(transaction.type)
    data: dict[str, Any] = {
        "receiptNumber": receipt_number,
        "transactionId": transaction.id,
        "type": kind,
        "amount": float(transaction.amount),
        "date": iso(transaction.created_at),
        "paymentReference": transaction.payment_reference,
        "paymentChannel": transaction.payment_channel,
        "recipientName": None,
        "recipientEmail": None,
        "recipientPhone": None,
        "campaignName": None,
        "campaignDescription": None,
        "taxDeductible": kind == TransactionType.DONATION,
        "centerName": None,
        "centerAddress": None,
        "appointmentDateTime": None,
        "serviceType": None,
        "organizationName": org.name,
        "organizationAddress": org.address,
        "organizationTaxId": org.tax_id,
        "organizationEmail": org.email,
        "organizationPhone": org.phone,
    }
    if kind == TransactionType.APPOINTMENT:
        appointment = (
            await Appointment.filter(transaction_id=transaction.id)
            .using_db(using_db)
            .order_by("created_at", "id")
            .select_related("patient", "center", "screening_type")
            .first()
        )
        if appointment is not None:
            data.update(
                recipientName=appointment.patient.full_name,
                recipientEmail=appointment.patient.email,
                recipientPhone=appointment.patient.phone,
                centerName=appointment.center.center_name,
                centerAddress=appointment.center.address,
                appointmentDateTime=iso(appointment.appointment_date_time),
                serviceType=appointment.screening_type.name,
            )
        return data
    campaign = None
    if transaction.related_donation_id:
        campaign = (
            await DonationCampaign.filter(id=transaction.related_donation_id)
            .using_db(using_db)
            .first()
        )
    description = (campaign.purpose if campaign else None) or DEFAULT_CAMPAIGN_DESCRIPTION
    if campaign is None or campaign.id == POOL_ID:
        given = donor_email or (previous or {}).get("recipientEmail")
        data.update(
            recipientName="Anonymous Donor",
            recipientEmail=given or UNKNOWN_EMAIL,
            campaignName=campaign.title if campaign else POOL_TITLE,
            campaignDescription=description,
        )
        return data
    donor = await User.filter(id=campaign.donor_id).using_db(using_db).first()
    data.update(
        recipientName=donor.full_name if donor else None,
        recipientEmail=donor.email if donor else None,
        recipientPhone=donor.phone if donor else None,
        campaignName=campaign.title,
        campaignDescription=description,
    )
    return data


async def issue_receipt(
    transaction_id: str, *, donor_email: str | None = None, regenerate: bool = False
) -> tuple[Any, bool]:
    """The transaction's receipt, created when absent (or its data rebuilt with ``regenerate``);
    the boolean says whether the PDF must be (re-)rendered. Raises ``ReceiptNotIssuableError``."""
    from models.base import utc_now
    from models.enums import TransactionStatus, TransactionType
    from models.transactions import Receipt, Transaction

    async with in_transaction() as conn:
        transaction = (
            await Transaction.filter(id=transaction_id).select_for_update().using_db(conn).first()
        )
        if transaction is None:
            raise ReceiptNotIssuableError(f"transaction {transaction_id} does not exist")
        if transaction.status != TransactionStatus.COMPLETED or transaction.type not in (
            TransactionType.DONATION,
            TransactionType.APPOINTMENT,
        ):
            raise ReceiptNotIssuableError(
                "Receipts are only issued for completed donation or appointment payments"
            )
        receipt = await Receipt.filter(transaction_id=transaction_id).using_db(conn).first()
        if receipt is not None and not regenerate:
            if donor_email and receipt.receipt_data.get("recipientEmail") == UNKNOWN_EMAIL:
                receipt.receipt_data = {**receipt.receipt_data, "recipientEmail": donor_email}
                await receipt.save(using_db=conn)
            return receipt, not receipt.pdf_path
        if receipt is not None:
            receipt.receipt_data = await build_receipt_data(
                transaction,
                receipt.receipt_number,
                using_db=conn,
                donor_email=donor_email,
                previous=receipt.receipt_data,
            )
            await receipt.save(using_db=conn)
            return receipt, True
        number = await allocate_receipt_number(lagos_day(utc_now()), using_db=conn)
        data = await build_receipt_data(transaction, number, using_db=conn, donor_email=donor_email)
        receipt = await Receipt.create(
            transaction_id=transaction_id,
            receipt_number=number,
            receipt_data=data,
            using_db=conn,
        )
        return receipt, True


# ---------------------------------------------------------------------------------------------
# The PDF


@cache
def font_name() -> str:
    """Registers the receipt font once per process; Helvetica only when no TTF can be found."""
    configured = os.environ.get("RECEIPT_FONT_PATH", "").strip()
    candidates = [Path(configured)] if configured else []
    for candidate in [*candidates, BUNDLED_FONT, SYSTEM_FONT]:
        if candidate.is_file():
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(candidate)))
            return FONT_NAME
    log.warning("no TrueType font found for receipts; non-Latin names will not render")
    return "Helvetica"


@dataclass
class _Writer:
    canvas: Canvas
    font: str
    y: float
    left: float
    right: float

    def line(self, text: str, size: int, *, x: float | None = None, gap: float = 1.45) -> None:
        width = self.right - (x if x is not None else self.left)
        for part in simpleSplit(text, self.font, size, width) or [""]:
            self.canvas.setFont(self.font, size)
            self.canvas.drawString(x if x is not None else self.left, self.y, part)
            self.y -= size * gap

    def rule(self) -> None:
        self.y -= 4
        self.canvas.setLineWidth(0.8)
        self.canvas.line(self.left, self.y, self.right, self.y)
        self.y -= 18


def render_pdf(data: Mapping[str, Any]) -> bytes:
    """The receipt PDF of receipts.md §4 for a ``ReceiptData`` object."""
    buffer = io.BytesIO()
    width, height = A4
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(f"Receipt {data.get('receiptNumber')}")
    canvas.setAuthor(str(data.get("organizationName") or ""))
    margin = 50.0
    writer = _Writer(canvas, font_name(), height - margin - 20, margin, width - margin)

    writer.line("RECEIPT", 20, gap=1.8)
    top = writer.y
    for text in (
        str(data.get("organizationName") or ""),
        str(data.get("organizationAddress") or ""),
        f"Email: {data.get('organizationEmail') or ''}",
        f"Phone: {data.get('organizationPhone') or ''}",
    ):
        writer.line(text, 12)
    left_bottom, writer.y = writer.y, top
    middle = width / 2
    for text in (
        f"Receipt Number: {data.get('receiptNumber')}",
        f"Date: {long_date(data.get('date'))}",
        f"Transaction ID: {data.get('transactionId')}",
    ):
        writer.line(text, 12, x=middle)
    writer.y = min(writer.y, left_bottom)
    writer.rule()

    writer.line("Bill To:", 14)
    writer.line(str(data.get("recipientName") or "Unknown"), 12)
    writer.line(str(data.get("recipientEmail") or ""), 12)
    if data.get("recipientPhone"):
        writer.line(str(data["recipientPhone"]), 12)
    writer.y -= 8

    writer.line("Description:", 14)
    if data.get("type") == "APPOINTMENT":
        writer.line(f"Appointment - {data.get('serviceType') or 'Health Screening'}", 12)
        writer.line(f"Center: {data.get('centerName') or 'N/A'}", 12)
        if data.get("appointmentDateTime"):
            writer.line(f"Date: {long_date(data['appointmentDateTime'])}", 12)
    else:
        writer.line(f"Donation - {data.get('campaignName') or 'General Fund'}", 12)
        if data.get("campaignDescription"):
            writer.line(f"Description: {data['campaignDescription']}", 12)
        if data.get("taxDeductible"):
            writer.line("Tax Deductible Donation", 12)
    writer.rule()

    writer.line(f"Total Amount: NGN {money(float(data.get('amount') or 0))}", 14, gap=1.8)
    if data.get("paymentReference"):
        writer.line(f"Payment Reference: {data['paymentReference']}", 12)
    if data.get("paymentChannel"):
        writer.line(f"Payment Method: {data['paymentChannel']}", 12)
    writer.y -= 24

    writer.line("Thank you for your business!", 10)
    if data.get("taxDeductible"):
        writer.line("This receipt serves as proof of your tax-deductible donation.", 10)
        writer.line(f"Tax ID: {data.get('organizationTaxId') or ''}", 10)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def storage_path(root: Path, key: str) -> Path:
    relative = PurePosixPath(key)
    if relative.is_absolute() or any(part in {"", ".", ".."} for part in relative.parts):
        raise PermanentError(f"unsafe storage key {key!r}")
    return root.resolve() / relative


def write_atomically(path: Path, content: bytes) -> None:
    """Readers (the edge streaming the file, the email actor) never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        partial.write_bytes(content)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


async def store_pdf(receipt: Any) -> str:
    """Renders the receipt's PDF from its data, stores it and records ``pdfPath``."""
    from models.base import utc_now
    from models.transactions import Receipt

    key = receipt_key(receipt.receipt_number)
    content = await asyncio.to_thread(render_pdf, receipt.receipt_data)
    path = storage_path(current().storage_dir, key)
    await asyncio.to_thread(write_atomically, path, content)
    await Receipt.filter(id=receipt.id).update(pdf_path=key, updated_at=utc_now())
    receipt.pdf_path = key
    return key


# ---------------------------------------------------------------------------------------------
# Email


def email_context(receipt: Any) -> dict[str, Any]:
    """The ``payment_receipt`` template's values (receipts.md §5)."""
    data = receipt.receipt_data
    moment = parse_instant(data.get("date"))
    return {
        "receipt_id": receipt.id,
        "receipt_number": receipt.receipt_number,
        "pdf_path": receipt.pdf_path,
        "recipient_name": data.get("recipientName") or "Customer",
        "receipt_type": str(data.get("type") or "DONATION").lower(),
        "amount": float(data.get("amount") or 0),
        "date": lagos_day(moment).isoformat() if moment else "",
        "tax_deductible": bool(data.get("taxDeductible")),
        "organization_name": data.get("organizationName"),
    }


async def enqueue_receipt_email(receipt: Any, address: str, *, resend: bool) -> str | None:
    """Writes the E-11 job; an automatic send is made once per receipt and address."""
    if not address or address.strip().lower() == UNKNOWN_EMAIL:
        return None
    address = address.strip()
    job = current_job()
    if resend:
        key = f"receipt-resend:{job.job_id}" if job is not None else None
    else:
        key = f"receipt-email:{receipt.id}:{address.lower()}"
    async with in_transaction() as conn:
        email_job = await enqueue(
            SendEmail(template=RECEIPT_TEMPLATE, to=address, context=email_context(receipt)),
            using_db=conn,
            requested_by=Requester("system"),
            idempotency_key=key,
        )
    return str(email_job.id)


# ---------------------------------------------------------------------------------------------
# The actor


@register(RenderReceipt, DOCUMENTS_POLICY)
async def render_receipt(
    transaction_id: str,
    email_to: str | None = None,
    donor_email: str | None = None,
    regenerate: bool = False,
    resend: bool = False,
) -> dict[str, Any]:
    """Issues the receipt (if absent), renders its PDF when missing, emails it when asked."""
    receipt, render = await issue_receipt(
        transaction_id, donor_email=donor_email, regenerate=regenerate
    )
    if not render and receipt.pdf_path:
        render = not storage_path(current().storage_dir, receipt.pdf_path).is_file()
    if render:
        await store_pdf(receipt)
    email_job_id: str | None = None
    if email_to:
        already = (
            receipt.email_sent_at is not None
            and (receipt.email_recipient or "").lower() == email_to.strip().lower()
        )
        if resend or not already:
            email_job_id = await enqueue_receipt_email(receipt, email_to, resend=resend)
    return {
        "receiptId": receipt.id,
        "receiptNumber": receipt.receipt_number,
        "pdfPath": receipt.pdf_path,
        "rendered": render,
        "emailJobId": email_job_id,
    }
