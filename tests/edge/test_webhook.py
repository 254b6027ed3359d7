"""The provider webhook (donations.md §4.2, payouts.md §3.10): signatures, the exactly-once payment
completion routine, transfer events at both URLs, and retries after a failure."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from edge.payments import sign
from models.appointments import Appointment
from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.enums import (
    AppointmentStatus,
    CampaignStatus,
    PayoutStatus,
    TransactionStatus,
    TransactionType,
)
from models.jobs import Job
from models.payouts import Payout
from models.transactions import Transaction
from tests.conftest import fixed_row_files
from tests.edge.factories_appointments import balance, booking_world, make_campaign
from tests.edge.money_support import assert_money_conserved
from tests.factories import bearer, make_center, make_donor
from tests.sandbox.conftest_paystack import paystack, paystack_sandbox  # noqa: F401
from tests.sandbox.paystack import PaystackSandbox

pytestmark = pytest.mark.usefixtures("db")

DONOR_HOOK = "/api/v1/donor/paystack-webhook"
PAYOUT_HOOK = "/api/v1/payouts/webhook/paystack"


async def anonymous_payment(client: httpx.AsyncClient, amount: float = 2500, **extra: Any) -> str:
    body = {"amount": amount, "wantsReceipt": True, "email": "giver@example.com", **extra}
    response = await client.post("/api/v1/donor/donations/anonymous", json=body)
    assert response.status_code == 200, response.text
    reference: str = response.json()["data"]["reference"]
    return reference


async def test_a_paid_anonymous_donation_credits_the_pool_and_queues_its_receipt(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    reference = await anonymous_payment(client)

    answers = await paystack.complete(reference)

    assert answers[0].status_code == 200
    assert answers[0].json() == {"message": "Webhook processed successfully"}
    transaction = await Transaction.get(payment_reference=reference)
    assert transaction.status == TransactionStatus.COMPLETED
    assert await balance(GENERAL_DONOR_POOL_ID) == (2500, 2500)
    receipt_job = await Job.get(actor_name="render_receipt")
    assert receipt_job.args["transaction_id"] == transaction.id
    assert receipt_job.args["email_to"] == "giver@example.com"
    assert receipt_job.args["donor_email"] == "giver@example.com"
    assert await Job.filter(actor_name="run_matching").count() == 1
    await assert_money_conserved()


async def test_a_redelivered_or_concurrent_event_credits_money_once(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    reference = await anonymous_payment(client, 1000)
    paystack.set_outcome(reference, "success")
    event = paystack.charge_event(reference)

    sequential = await paystack.send(event, times=3)
    concurrent = await asyncio.gather(*(paystack.send(event) for _ in range(5)))

    assert [a.status_code for a in sequential] == [200, 200, 200]
    assert all(batch[0].status_code == 200 for batch in concurrent)
    assert await balance(GENERAL_DONOR_POOL_ID) == (1000, 1000)
    assert await Job.filter(actor_name="render_receipt").count() == 1
    await assert_money_conserved()


async def test_a_campaign_payment_activates_and_credits_its_campaign(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    from tests.edge.test_donations import campaign_body

    donor = await make_donor()
    created = await client.post(
        "/api/v1/donor/campaigns", json=await campaign_body(), headers=bearer(donor)
    )
    data = created.json()["data"]

    await paystack.complete(data["payment"]["reference"], times=2)

    campaign = await DonationCampaign.get(id=data["campaign"]["id"])
    assert (campaign.status, campaign.total_amount, campaign.available_amount) == (
        CampaignStatus.ACTIVE,
        25000,
        25000,
    )
    receipt_job = await Job.get(actor_name="render_receipt")
    assert receipt_job.args["email_to"] == donor.email
    await assert_money_conserved()


@pytest.mark.parametrize(
    ("status", "credited_to", "after"),
    [
        (CampaignStatus.SUSPENDED, "campaign", CampaignStatus.SUSPENDED),
        (CampaignStatus.COMPLETED, "campaign", CampaignStatus.ACTIVE),
        (CampaignStatus.DELETED, "pool", CampaignStatus.DELETED),
    ],
)
async def test_late_payments_respect_the_campaign_status(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
    status: CampaignStatus,
    credited_to: str,
    after: CampaignStatus,
) -> None:
    donor = await make_donor()
    total = 0 if status == CampaignStatus.DELETED else 10000
    campaign = await make_campaign(donor=donor, total=total, status=CampaignStatus.ACTIVE)
    if total:
        await Transaction.create(
            type=TransactionType.DONATION,
            status=TransactionStatus.COMPLETED,
            amount=total,
            related_donation_id=campaign.id,
            payment_reference=f"campaign-create-{uuid.uuid4()}",
        )
    funded = await client.post(
        f"/api/v1/donor/campaigns/{campaign.id}/fund",
        json={"campaignId": campaign.id, "amount": 3000},
        headers=bearer(donor),
    )
    campaign.status = status
    await campaign.save()

    await paystack.complete(funded.json()["data"]["reference"])

    stored = await DonationCampaign.get(id=campaign.id)
    assert stored.status == after
    if credited_to == "campaign":
        assert (stored.available_amount, stored.total_amount) == (13000, 13000)
        assert await balance(GENERAL_DONOR_POOL_ID) == (0, 0)
    else:
        assert await balance(GENERAL_DONOR_POOL_ID) == (3000, 3000)
    await assert_money_conserved()


async def test_a_paid_booking_schedules_its_appointment_with_a_check_in_code(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    world = await booking_world(price=12000)
    transaction = await Transaction.create(
        type=TransactionType.APPOINTMENT,
        status=TransactionStatus.PENDING,
        amount=12000,
        payment_reference=f"book-appointment-{world.patient.id}-1-abc",
        payment_channel="PAYSTACK",
    )
    appointment = await Appointment.create(
        patient_id=world.patient.id,
        center_id=world.center.id,
        screening_type_id=world.screening_type.id,
        appointment_date_time=transaction.created_at,
        transaction_id=transaction.id,
        status=AppointmentStatus.PENDING,
    )
    event = {
        "event": "charge.success",
        "data": {
            "reference": transaction.payment_reference,
            "amount": 1_200_000,
            "currency": "NGN",
            "status": "success",
            "metadata": f'{{"appointmentId": "{appointment.id}"}}',
        },
    }

    answers = await paystack.send(event, times=2)

    assert [a.status_code for a in answers] == [200, 200]
    stored = await Appointment.get(id=appointment.id)
    assert stored.status == AppointmentStatus.SCHEDULED
    assert stored.check_in_code
    assert len(stored.check_in_code) == 12
    assert stored.check_in_code_expires_at is not None
    receipt_job = await Job.get(actor_name="render_receipt")
    assert receipt_job.args["email_to"] == world.patient.email
    assert await balance(GENERAL_DONOR_POOL_ID) == (0, 0)


async def test_unknown_references_and_other_currencies_credit_nothing(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    reference = await anonymous_payment(client, 1000)
    paystack.set_outcome(reference, "success")

    unknown = await paystack.send(paystack.charge_event(reference, reference="donation-anon-x"))
    dollars = await paystack.send(paystack.charge_event(reference, currency="USD"))

    assert unknown[0].status_code == 200
    assert dollars[0].status_code == 200
    assert (await Transaction.get(payment_reference=reference)).status == (
        TransactionStatus.PENDING
    )
    assert await balance(GENERAL_DONOR_POOL_ID) == (0, 0)


async def test_signatures_and_malformed_events_are_refused(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    reference = await anonymous_payment(client)
    event = paystack.charge_event(reference)
    body, good = paystack.signed(event)

    forged = await paystack.send(event, bad_signature=True)
    unsigned = await client.post(DONOR_HOOK, content=body)
    resigned = await client.post(
        DONOR_HOOK, content=body + b" ", headers={"x-paystack-signature": good}
    )
    garbage = await client.post(
        DONOR_HOOK,
        content=b"not json",
        headers={"x-paystack-signature": sign(paystack.secret, b"not json")},
    )
    no_amount = await paystack.send(paystack.charge_event(reference, amount=0))
    other = await paystack.send({"event": "subscription.create", "data": {}})
    payouts_forged = await paystack.send(
        event, bad_signature=True, url=str(client.base_url.join(PAYOUT_HOOK))
    )

    assert (forged[0].status_code, forged[0].json()) == (401, {"error": "Invalid signature"})
    assert unsigned.status_code == 401
    assert resigned.status_code == 401
    assert (garbage.status_code, garbage.json()) == (401, {"error": "Webhook verification failed"})
    assert (no_amount[0].status_code, no_amount[0].json()) == (
        400,
        {"error": "Invalid webhook data"},
    )
    assert other[0].json() == {"message": "Event not handled", "event": "subscription.create"}
    assert (payouts_forged[0].status_code, payouts_forged[0].text) == (403, "Invalid signature")
    assert await balance(GENERAL_DONOR_POOL_ID) == (0, 0)


async def test_a_processing_failure_answers_500_and_the_retry_completes_once(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
    db: Any,
) -> None:
    # Given the pool row is missing (an operator fault), so crediting fails
    reference = await anonymous_payment(client, 4000)
    paystack.set_outcome(reference, "success")
    await db.execute("DELETE FROM \"DonationCampaign\" WHERE id = 'general-donor-pool'")

    failed = await paystack.send(paystack.charge_event(reference))

    assert (failed[0].status_code, failed[0].json()) == (
        500,
        {"error": "Webhook processing failed"},
    )
    assert (await Transaction.get(payment_reference=reference)).status == TransactionStatus.PENDING

    # When the pool is back and the provider retries
    for path in fixed_row_files():
        await db.execute(path.read_text())
    retried = await paystack.send(paystack.charge_event(reference), times=2)

    assert [a.status_code for a in retried] == [200, 200]
    assert await balance(GENERAL_DONOR_POOL_ID) == (4000, 4000)


async def make_processing_payout(reference: str) -> Payout:
    from tests.edge.factories_appointments import today_noon_lagos

    center = await make_center()
    return await Payout.create(
        batch_reference="PAY_202507_ABCDEF123456",
        payout_number=f"PO-20250701-{uuid.uuid4().int % 10000:04d}",
        center_id=center.id,
        amount=20000,
        net_amount=19990,
        status=PayoutStatus.PROCESSING,
        transfer_reference=reference,
        period_start=today_noon_lagos(),
        period_end=today_noon_lagos(),
        reason="Manual payout for completed appointments",
    )


async def test_transfer_events_move_payouts_once_at_either_url(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    succeeded = await make_processing_payout("TRF_20250701020000_AAAA0001")
    failed = await make_processing_payout("TRF_20250701020000_AAAA0002")
    payout_url = str(client.base_url.join(PAYOUT_HOOK))

    at_donor_url = await paystack.send(
        paystack.transfer_event("TRF_20250701020000_AAAA0001", "transfer.success")
    )
    first = await Payout.get(id=succeeded.id)
    repeat = await paystack.send(
        paystack.transfer_event("TRF_20250701020000_AAAA0001", "transfer.success"), url=payout_url
    )
    late_failure = await paystack.send(
        paystack.transfer_event("TRF_20250701020000_AAAA0001", "transfer.failed"), url=payout_url
    )
    failure = await paystack.send(
        paystack.transfer_event("TRF_20250701020000_AAAA0002", "transfer.failed"), url=payout_url
    )

    assert at_donor_url[0].json() == {"message": "Webhook processed successfully"}
    assert (repeat[0].status_code, repeat[0].text) == (200, "OK")
    assert late_failure[0].text == "OK"
    assert failure[0].text == "OK"
    after = await Payout.get(id=succeeded.id)
    assert after.status == PayoutStatus.SUCCESS
    assert after.completed_at == first.completed_at is not None
    lost = await Payout.get(id=failed.id)
    assert (lost.status, lost.failure_reason, lost.retry_count) == (
        PayoutStatus.FAILED,
        "Insufficient balance",
        0,
    )

    reversed_ = await paystack.send(
        paystack.transfer_event("TRF_20250701020000_AAAA0001", "transfer.reversed"), url=payout_url
    )

    assert reversed_[0].text == "OK"
    undone = await Payout.get(id=succeeded.id)
    assert (undone.status, undone.failure_reason) == (PayoutStatus.FAILED, "Transfer was reversed")


async def test_a_charge_event_at_the_payouts_url_completes_the_payment(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    reference = await anonymous_payment(client, 800)
    paystack.set_outcome(reference, "success")

    answer = await paystack.send(
        paystack.charge_event(reference), url=str(client.base_url.join(PAYOUT_HOOK))
    )

    assert (answer[0].status_code, answer[0].text) == (200, "OK")
    assert await balance(GENERAL_DONOR_POOL_ID) == (800, 800)


async def test_the_sandbox_checkout_page_pays_and_redirects_to_the_callback(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    started = await client.post("/api/v1/donor/donations/anonymous", json={"amount": 300})
    data = started.json()["data"]

    async with httpx.AsyncClient() as browser:
        page = await browser.get(data["authorizationUrl"])

    assert page.status_code == 302
    assert page.headers["location"].endswith(f"ref={data['reference']}&type=anonymous")
    assert await balance(GENERAL_DONOR_POOL_ID) == (300, 300)
