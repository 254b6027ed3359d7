"""actors.documents: receipt numbers, idempotent issuing, the PDF's content (with non-Latin names
in an embedded font) and the receipt email jobs (receipts.md §3-§5)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader

from actors import settings as settings_module
from actors.documents import (
    Organization,
    ReceiptNotIssuableError,
    long_date,
    money,
    render_pdf,
    render_receipt,
)
from actors.settings import WorkerSettings, use
from models.campaigns import GENERAL_DONOR_POOL_ID
from models.enums import AppointmentStatus, TransactionStatus, TransactionType
from models.jobs import Job
from models.transactions import Receipt, ReceiptNumberCounter, Transaction
from tests.edge.factories_appointments import booking_world, make_appointment, make_campaign
from tests.factories import make_donor

LAGOS = dt.timezone(dt.timedelta(hours=1))


@pytest.fixture(autouse=True)
def worker_settings() -> Iterator[None]:
    """The settings a worker process reads (STORAGE_DIR), put back afterwards."""
    previous = settings_module._current
    use(WorkerSettings.from_env())
    yield
    settings_module._current = previous


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


async def completed(
    *, campaign: Any = None, kind: TransactionType = TransactionType.DONATION, **fields: Any
) -> Transaction:
    return await Transaction.create(
        type=kind,
        status=fields.pop("status", TransactionStatus.COMPLETED),
        amount=fields.pop("amount", 12345.5),
        related_donation_id=campaign.id if campaign else GENERAL_DONOR_POOL_ID,
        payment_reference=f"ref-{uuid.uuid4()}",
        payment_channel="PAYSTACK",
        **fields,
    )


def test_a_donation_pdf_prints_every_line_with_a_non_latin_name() -> None:
    data = {
        "receiptNumber": "RCP-20250729-000042",
        "transactionId": "tx-1",
        "type": "DONATION",
        "amount": 1234567.5,
        "date": "2025-07-29T23:30:00.000Z",
        "paymentReference": "campaign-fund-1",
        "paymentChannel": "PAYSTACK",
        "recipientName": "Ọláṣeun Дмитрий Ἀθηνᾶ",
        "recipientEmail": "ola@example.com",
        "recipientPhone": "08030000000",
        "campaignName": "Screen Lagos",
        "campaignDescription": "Breast cancer screening",
        "taxDeductible": True,
        **dict.fromkeys(("centerName", "centerAddress", "appointmentDateTime", "serviceType")),
        "organizationName": "Zero Cancer Initiative",
        "organizationAddress": "1 Marina, Lagos",
        "organizationTaxId": "TAX-1",
        "organizationEmail": "contact@zerocancer.org",
        "organizationPhone": "+234 1 000",
    }

    text = pdf_text(render_pdf(data))

    for line in (
        "RECEIPT",
        "Zero Cancer Initiative",
        "Email: contact@zerocancer.org",
        "Receipt Number: RCP-20250729-000042",
        "Date: 30 July 2025",  # the Lagos day of 23:30 UTC
        "Transaction ID: tx-1",
        "Bill To:",
        "Ọláṣeun Дмитрий Ἀθηνᾶ",
        "08030000000",
        "Donation - Screen Lagos",
        "Description: Breast cancer screening",
        "Tax Deductible Donation",
        "Total Amount: NGN 1,234,567.50",
        "Payment Reference: campaign-fund-1",
        "Payment Method: PAYSTACK",
        "Thank you for your business!",
        "This receipt serves as proof of your tax-deductible donation.",
        "Tax ID: TAX-1",
    ):
        assert line in text, line


def test_an_appointment_pdf_names_the_service_and_centre_and_is_not_tax_deductible() -> None:
    data = {
        "receiptNumber": "RCP-20250729-000001",
        "transactionId": "tx-2",
        "type": "APPOINTMENT",
        "amount": 15000,
        "date": "2025-07-29T10:00:00.000Z",
        "recipientName": None,
        "recipientEmail": "p@example.com",
        "taxDeductible": False,
        "centerName": "Lifeline",
        "appointmentDateTime": "2025-08-01T09:00:00.000Z",
        "serviceType": None,
    }

    text = pdf_text(render_pdf(data))

    assert "Unknown" in text
    assert "Appointment - Health Screening" in text
    assert "Center: Lifeline" in text
    assert "Date: 1 August 2025" in text
    assert "Tax ID" not in text
    assert "Tax Deductible" not in text


def test_formatting_helpers() -> None:
    assert money(12345) == "12,345.00"
    assert long_date("2025-07-29T22:59:59.000Z") == "29 July 2025"
    assert long_date(None) == ""
    org = Organization.from_env({"RECEIPT_ORG_NAME": "Real Org", "RECEIPT_ORG_TAX_ID": " "})
    assert (org.name, org.tax_id) == ("Real Org", "TAX-123456789")


@pytest.mark.usefixtures("db")
async def test_receipts_are_numbered_per_lagos_day_and_issued_once_per_transaction() -> None:
    donor = await make_donor(full_name="Chidi Okafor")
    campaign = await make_campaign(donor=donor, title="Screen Enugu", purpose=None)
    first, second = await completed(campaign=campaign), await completed(campaign=campaign)

    results = await asyncio.gather(*(render_receipt(first.id) for _ in range(3)))
    other = await render_receipt(second.id)

    day = dt.datetime.now(LAGOS)
    assert {r["receiptNumber"] for r in results} == {f"RCP-{day:%Y%m%d}-000001"}
    assert other["receiptNumber"] == f"RCP-{day:%Y%m%d}-000002"
    assert await Receipt.all().count() == 2
    receipt = await Receipt.get(transaction_id=first.id)
    data = receipt.receipt_data
    assert (data["recipientName"], data["recipientEmail"]) == ("Chidi Okafor", donor.email)
    assert data["campaignName"] == "Screen Enugu"
    assert data["campaignDescription"] == "General donation to support cancer screening"
    assert data["organizationName"] == "Zero Cancer Initiative"
    assert receipt.pdf_path == f"receipts/receipt-{receipt.receipt_number}.pdf"


@pytest.mark.usefixtures("db")
async def test_ineligible_transactions_get_no_receipt_and_use_no_number() -> None:
    pending = await completed(status=TransactionStatus.PENDING)
    refund = await completed(kind=TransactionType.REFUND)

    for transaction in (pending, refund):
        with pytest.raises(ReceiptNotIssuableError):
            await render_receipt(transaction.id)
    with pytest.raises(ReceiptNotIssuableError):
        await render_receipt(str(uuid.uuid4()))

    assert await Receipt.all().count() == 0
    assert await ReceiptNumberCounter.all().count() == 0


@pytest.mark.usefixtures("db")
async def test_regeneration_keeps_the_number_and_an_anonymous_donor_keeps_their_email() -> None:
    transaction = await completed()

    first = await render_receipt(transaction.id, donor_email="giver@example.com")
    again = await render_receipt(transaction.id, regenerate=True)

    assert again["receiptNumber"] == first["receiptNumber"]
    receipt = await Receipt.get(transaction_id=transaction.id)
    assert receipt.receipt_data["receiptNumber"] == first["receiptNumber"]
    assert receipt.receipt_data["recipientName"] == "Anonymous Donor"
    assert receipt.receipt_data["recipientEmail"] == "giver@example.com"


@pytest.mark.usefixtures("db")
async def test_an_appointment_receipt_bills_the_patient() -> None:
    world = await booking_world()
    transaction = await completed(kind=TransactionType.APPOINTMENT, amount=15000)
    await make_appointment(
        world.patient,
        world.center,
        world.screening_type,
        status=AppointmentStatus.SCHEDULED,
        transaction=transaction,
    )

    await render_receipt(transaction.id)

    data = (await Receipt.get(transaction_id=transaction.id)).receipt_data
    assert (data["type"], data["taxDeductible"]) == ("APPOINTMENT", False)
    assert data["recipientName"] == world.patient.full_name
    assert data["centerName"] == world.center.center_name
    assert data["serviceType"] == world.screening_type.name
    assert data["campaignName"] is None


@pytest.mark.usefixtures("db")
async def test_the_receipt_email_is_queued_once_automatically_and_again_on_resend() -> None:
    transaction = await completed()

    auto = await render_receipt(transaction.id, email_to="giver@example.com")
    redelivered = await render_receipt(transaction.id, email_to="giver@example.com")
    resent = await render_receipt(transaction.id, email_to="giver@example.com", resend=True)
    nobody = await render_receipt(transaction.id, email_to="unknown@email.com", resend=True)

    assert auto["emailJobId"] == redelivered["emailJobId"]
    assert resent["emailJobId"] not in (None, auto["emailJobId"])
    assert nobody["emailJobId"] is None
    jobs = await Job.filter(actor_name="send_email").order_by("created_at")
    assert len(jobs) == 2
    context = jobs[0].args["context"]
    receipt = await Receipt.get(transaction_id=transaction.id)
    assert jobs[0].args["template"] == "payment_receipt"
    assert context["receipt_number"] == receipt.receipt_number
    assert context["pdf_path"] == receipt.pdf_path
    assert (context["amount"], context["receipt_type"], context["tax_deductible"]) == (
        12345.5,
        "donation",
        True,
    )
