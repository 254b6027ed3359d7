"""/api/v1/receipts (receipts.md): issuing through `render_receipt`, who may read, the PDF and its
alias, regeneration, resend, admin monitoring. The worker is played by `run_next_job`."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from models.campaigns import GENERAL_DONOR_POOL_ID
from models.enums import TransactionStatus, TransactionType
from models.transactions import Receipt, Transaction
from tests.edge.factories_appointments import assert_error, booking_world, make_campaign
from tests.edge.money_support import paid_booking, run_next_job, worker_alive
from tests.factories import bearer, make_admin, make_donor, make_patient, token_for
from tests.harness.smtp import Mailbox
from tests.sandbox.conftest_paystack import paystack, paystack_sandbox  # noqa: F401
from tests.sandbox.paystack import PaystackSandbox

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture(autouse=True)
async def live_worker(db: Any, client: httpx.AsyncClient) -> None:
    """These tests play the worker (`run_next_job`): the edge must see one alive."""
    await worker_alive(client)


BASE = "/api/v1/receipts"
LAGOS = dt.timezone(dt.timedelta(hours=1))


def today_prefix() -> str:
    return f"RCP-{dt.datetime.now(LAGOS):%Y%m%d}-"


async def donation(donor_campaign: Any = None, amount: float = 5000) -> Transaction:
    return await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.COMPLETED,
        amount=amount,
        related_donation_id=donor_campaign.id if donor_campaign else GENERAL_DONOR_POOL_ID,
        payment_reference=f"campaign-fund-{uuid.uuid4()}",
        payment_channel="PAYSTACK",
    )


async def while_running(request: Any, actor: str = "render_receipt") -> httpx.Response:
    """Sends the request and plays the worker for the job it waits on."""
    task = asyncio.ensure_future(request)
    await run_next_job(actor)
    response: httpx.Response = await task
    return response


async def test_a_paid_donation_gets_a_numbered_receipt_pdf_and_email(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
    mailbox: Mailbox,
) -> None:
    # Given an anonymous donor who asked for a receipt pays
    started = await client.post(
        "/api/v1/donor/donations/anonymous",
        json={"amount": 12345.5, "wantsReceipt": True, "email": "giver@example.com"},
    )
    await paystack.complete(started.json()["data"]["reference"])

    # When the worker runs the receipt job and then the email job
    rendered = await run_next_job("render_receipt")
    await run_next_job("send_email")

    # Then the receipt is numbered, stored as a PDF and emailed with the PDF attached
    receipt = await Receipt.get(id=rendered["receiptId"])
    assert receipt.receipt_number == today_prefix() + "000001"
    assert receipt.pdf_path == f"receipts/receipt-{receipt.receipt_number}.pdf"
    data = receipt.receipt_data
    assert (data["recipientName"], data["recipientEmail"]) == (
        "Anonymous Donor",
        "giver@example.com",
    )
    assert data["campaignName"] == "General donation public pool"
    assert data["taxDeductible"] is True
    assert data["type"] == "DONATION"
    message = mailbox.wait_for("giver@example.com")[0]
    assert message["Subject"] == f"Receipt - {receipt.receipt_number}"
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == f"receipt-{receipt.receipt_number}.pdf"
    text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert "NGN 12,345.50" in text
    emailed = await Receipt.get(id=receipt.id)
    assert emailed.email_recipient == "giver@example.com"
    assert emailed.email_sent_at is not None


async def test_get_issues_a_missing_receipt_through_the_actor(client: httpx.AsyncClient) -> None:
    donor = await make_donor(full_name="Chidi Okafor")
    campaign = await make_campaign(donor=donor, title="Screen Enugu")
    first, second = await donation(campaign), await donation(campaign)

    one = await while_running(client.get(f"{BASE}/{first.id}", headers=bearer(donor)))
    two = await while_running(client.get(f"{BASE}/{second.id}", headers=bearer(donor)))
    again = await client.get(f"{BASE}/{first.id}", headers=bearer(donor))

    assert one.status_code == 200, one.text
    receipt = one.json()["data"]
    assert set(receipt) == {
        "id",
        "transactionId",
        "receiptNumber",
        "receiptData",
        "pdfPath",
        "emailSentAt",
        "emailRecipient",
        "createdAt",
        "updatedAt",
    }
    assert receipt["receiptNumber"] == today_prefix() + "000001"
    assert two.json()["data"]["receiptNumber"] == today_prefix() + "000002"
    assert receipt["receiptData"]["campaignName"] == "Screen Enugu"
    assert receipt["receiptData"]["recipientName"] == "Chidi Okafor"
    assert again.json()["data"]["id"] == receipt["id"]
    assert await Receipt.all().count() == 2


async def test_only_owners_and_admins_read_a_receipt(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    transaction, _ = await paid_booking(world.patient, world.center, world.screening_type)
    anonymous = await donation()
    await run_next_job_for(transaction.id)
    await run_next_job_for(anonymous.id)

    as_patient = await client.get(f"{BASE}/{transaction.id}", headers=bearer(world.patient))
    as_center = await client.get(f"{BASE}/{transaction.id}", headers=bearer(world.center))
    as_stranger = await client.get(f"{BASE}/{transaction.id}", headers=bearer(await make_patient()))
    as_donor = await client.get(f"{BASE}/{anonymous.id}", headers=bearer(await make_donor()))
    as_admin = await client.get(f"{BASE}/{anonymous.id}", headers=bearer(await make_admin()))
    nobody = await client.get(f"{BASE}/{transaction.id}")

    assert as_patient.status_code == 200
    assert as_center.status_code == 200
    assert as_patient.json()["data"]["receiptData"]["centerName"] == world.center.center_name
    assert_error(as_stranger, 404, "Receipt not found")
    assert_error(as_donor, 404, "Receipt not found")
    assert as_admin.status_code == 200
    assert nobody.status_code == 401


async def run_next_job_for(transaction_id: str) -> None:
    """Issues a receipt as the completion routine's job would."""
    from actors.documents import render_receipt

    await render_receipt(transaction_id)


async def test_unfinished_payments_get_409_and_an_impatient_caller_202(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    pending = await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.PENDING,
        amount=100,
        related_donation_id=GENERAL_DONOR_POOL_ID,
        payment_reference="donation-anon-pending",
    )
    completed = await donation()

    refused = await client.get(f"{BASE}/{pending.id}", headers=bearer(admin))
    accepted = await client.get(
        f"{BASE}/{completed.id}", headers={**bearer(admin), "Prefer": "wait=0"}
    )

    assert_error(
        refused, 409, "Receipts are only issued for completed donation or appointment payments"
    )
    assert accepted.status_code == 202
    data = accepted.json()["data"]
    assert data["status"] == "queued"
    assert data["statusUrl"] == f"/api/v1/jobs/{data['jobId']}"


async def test_the_pdf_downloads_with_a_bearer_token_or_at_the_alias_with_the_cookie(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient(full_name="Ọláṣeun Дмитрий")
    world = await booking_world()
    transaction, _ = await paid_booking(patient, world.center, world.screening_type)

    bearer_pdf = await while_running(
        client.get(f"{BASE}/{transaction.id}/pdf", headers=bearer(patient))
    )
    cookie = token_for(patient, typ="refresh", ttl=600)
    alias = await client.get(
        f"/api/receipts/{transaction.id}/pdf", headers={"cookie": f"refreshToken={cookie}"}
    )
    no_credentials = await client.get(f"/api/receipts/{transaction.id}/pdf")

    assert bearer_pdf.status_code == 200, bearer_pdf.text
    number = (await Receipt.get(transaction_id=transaction.id)).receipt_number
    assert bearer_pdf.headers["content-type"] == "application/pdf"
    assert bearer_pdf.headers["content-disposition"] == (
        f'attachment; filename="receipt-{number}.pdf"'
    )
    text = PdfReader(io.BytesIO(bearer_pdf.content)).pages[0].extract_text()
    assert "Ọláṣeun Дмитрий" in text
    assert alias.status_code == 200
    assert alias.content == bearer_pdf.content
    assert no_credentials.status_code == 401


async def test_a_missing_pdf_file_is_re_rendered_with_the_same_number(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    transaction = await donation()
    await run_next_job_for(transaction.id)
    receipt = await Receipt.get(transaction_id=transaction.id)
    Path(os.environ["STORAGE_DIR"], receipt.pdf_path or "").unlink()

    response = await while_running(
        client.get(f"{BASE}/{transaction.id}/pdf", headers=bearer(admin))
    )

    assert response.status_code == 200
    assert (await Receipt.get(id=receipt.id)).receipt_number == receipt.receipt_number


async def test_post_regenerates_keeping_the_number_and_checks_the_path(
    client: httpx.AsyncClient,
) -> None:
    donor = await make_donor(full_name="Old Name")
    campaign = await make_campaign(donor=donor)
    transaction = await donation(campaign)
    await run_next_job_for(transaction.id)
    before = await Receipt.get(transaction_id=transaction.id)
    donor.full_name = "New Name"
    await donor.save()

    mismatch = await client.post(
        f"{BASE}/{transaction.id}", json={"transactionId": "other"}, headers=bearer(donor)
    )
    unchanged = await client.post(
        f"{BASE}/{transaction.id}", json={"transactionId": transaction.id}, headers=bearer(donor)
    )
    regenerated = await while_running(
        client.post(
            f"{BASE}/{transaction.id}",
            json={"transactionId": transaction.id, "forceRegenerate": True},
            headers=bearer(donor),
        )
    )

    assert_error(mismatch, 400, "transactionId does not match the path")
    assert unchanged.json()["data"]["receiptData"]["recipientName"] == "Old Name"
    data = regenerated.json()["data"]
    assert data["receiptNumber"] == before.receipt_number
    assert data["receiptData"]["receiptNumber"] == before.receipt_number
    assert data["receiptData"]["recipientName"] == "New Name"


async def test_resend_emails_the_owner_and_refuses_other_addresses(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    donor = await make_donor()
    campaign = await make_campaign(donor=donor)
    transaction = await donation(campaign)
    url = f"{BASE}/{transaction.id}/resend"

    missing = await client.post(url, json={"emailRecipient": donor.email}, headers=bearer(donor))
    await run_next_job_for(transaction.id)
    elsewhere = await client.post(
        url, json={"emailRecipient": "thief@example.com"}, headers=bearer(donor)
    )
    task = asyncio.ensure_future(
        client.post(url, json={"emailRecipient": donor.email.upper()}, headers=bearer(donor))
    )
    await run_next_job("render_receipt")
    await run_next_job("send_email")
    sent = await task
    invalid = await client.post(url, json={"emailRecipient": "nope"}, headers=bearer(donor))

    assert_error(missing, 404, "Receipt not found")
    assert_error(elsewhere, 403, "You can only resend a receipt to your own email address")
    assert sent.status_code == 200, sent.text
    assert sent.json() == {
        "ok": True,
        "message": "Receipt sent successfully",
        "data": {"success": True},
    }
    assert mailbox.wait_for(donor.email.upper())
    assert invalid.status_code == 400


async def test_admins_list_receipts_with_filters_applied_before_paging(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    donor = await make_donor()
    campaign = await make_campaign(donor=donor)
    mine = await donation(campaign)
    await run_next_job_for(mine.id)
    world = await booking_world()
    booking, _ = await paid_booking(world.patient, world.center, world.screening_type)
    await run_next_job_for(booking.id)
    await Receipt.filter(transaction_id=booking.id).update(email_sent_at=dt.datetime(2025, 1, 1))

    everything = await client.get(BASE, headers=bearer(admin))
    appointments = await client.get(BASE, params={"type": "APPOINTMENT"}, headers=bearer(admin))
    unsent = await client.get(BASE, params={"emailSent": "false"}, headers=bearer(admin))
    by_user = await client.get(BASE, params={"userId": donor.id}, headers=bearer(admin))
    later = await client.get(BASE, params={"startDate": "2999-01-01"}, headers=bearer(admin))
    bad_date = await client.get(BASE, params={"endDate": "yesterday"}, headers=bearer(admin))
    not_admin = await client.get(BASE, headers=bearer(donor))

    assert everything.json()["data"]["total"] == 2
    assert [r["transactionId"] for r in appointments.json()["data"]["receipts"]] == [booking.id]
    assert [r["transactionId"] for r in unsent.json()["data"]["receipts"]] == [mine.id]
    assert [r["transactionId"] for r in by_user.json()["data"]["receipts"]] == [mine.id]
    assert later.json()["data"]["total"] == 0
    assert bad_date.status_code == 400
    assert not_admin.status_code == 403
