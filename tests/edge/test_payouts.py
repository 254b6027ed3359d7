"""/api/v1/payouts (payouts.md §3): balances and centre scoping, manual payouts, processing and
retries through `actor: payouts` (played by `run_next_job`), listings, the monthly cron trigger,
banks and account checks. Transfers go to the sandbox over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from models.enums import AppointmentStatus, PayoutStatus, PayoutType, TransactionStatus
from models.payouts import Payout, PayoutItem
from tests.edge.factories_appointments import assert_error, assert_issue
from tests.edge.money_support import paid_booking, run_next_job, worker_alive
from tests.factories import (
    bearer,
    make_admin,
    make_center,
    make_patient,
    make_screening_type,
    make_staff,
)
from tests.sandbox.conftest_paystack import paystack, paystack_sandbox  # noqa: F401
from tests.sandbox.paystack import PaystackSandbox

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture(autouse=True)
async def live_worker(db: Any, client: httpx.AsyncClient) -> None:
    """These tests play the worker (`run_next_job`): the edge must see one alive."""
    await worker_alive(client)


BASE = "/api/v1/payouts"
BANK = {"bank_account": "0123456789", "bank_name": "GTBank", "bank_code": "058"}


async def owed_center(
    amounts: tuple[float, ...] = (15000.0, 10000.0), *, bank: bool = True, **fields: Any
) -> tuple[Any, list[Any]]:
    """An ACTIVE centre with COMPLETED paid screenings of `amounts`, plus noise that is not owed
    (a scheduled booking, a failed payment)."""
    screening = await make_screening_type(name=f"Mammogram {len(amounts)}-{id(fields)}")
    center = await make_center(services=[screening], **(BANK if bank else {}), **fields)
    patient = await make_patient(full_name="Ada Obi")
    owed = []
    for amount in amounts:
        transaction, _ = await paid_booking(patient, center, screening, amount=amount)
        owed.append(transaction)
    await paid_booking(patient, center, screening, appointment_status=AppointmentStatus.SCHEDULED)
    await paid_booking(patient, center, screening, transaction_status=TransactionStatus.FAILED)
    return center, owed


async def test_a_centre_balance_counts_only_completed_unpaid_screenings(
    client: httpx.AsyncClient,
) -> None:
    center, owed = await owed_center()
    admin = await make_admin()

    response = await client.get(f"{BASE}/center/{center.id}/balance", headers=bearer(admin))

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["eligibleAmount"], data["transactionCount"]) == (25000, 2)
    assert {t["id"] for t in data["eligibleTransactions"]} == {t.id for t in owed}
    appointment = data["eligibleTransactions"][0]["appointments"][0]
    assert appointment["patient"] == {"fullName": "Ada Obi"}
    assert appointment["center"] == {"centerName": center.center_name}
    assert (data["totalPaidOut"], data["pendingPayouts"], data["lastPayoutDate"]) == (0, 0, None)


async def test_centres_see_only_their_own_records(client: httpx.AsyncClient) -> None:
    center, _ = await owed_center()
    other = await make_center()
    staff = await make_staff(center)

    own = await client.get(f"{BASE}/center/{center.id}/balance", headers=bearer(center))
    own_staff = await client.get(f"{BASE}/center/{center.id}/transactions", headers=bearer(staff))
    foreign = await client.get(f"{BASE}/center/{center.id}", headers=bearer(other))
    patient = await client.get(f"{BASE}/center/{center.id}", headers=bearer(await make_patient()))
    unknown = await client.get(f"{BASE}/center/nope/balance", headers=bearer(await make_admin()))
    listing = await client.get(f"{BASE}/center-balances", headers=bearer(center))

    assert own.status_code == 200
    assert own_staff.status_code == 200
    assert_error(foreign, 403, "You can only access your own center's records")
    assert patient.status_code == 403
    assert_error(unknown, 404, "Center not found")
    assert listing.status_code == 403


async def test_a_manual_payout_takes_exactly_the_named_eligible_transactions(
    client: httpx.AsyncClient,
) -> None:
    center, owed = await owed_center()
    admin = await make_admin()
    ids = [t.id for t in owed]

    wrong_amount = await client.post(
        f"{BASE}/manual",
        json={"centerId": center.id, "amount": 24000, "transactionIds": ids},
        headers=bearer(admin),
    )
    duplicated = await client.post(
        f"{BASE}/manual",
        json={"centerId": center.id, "amount": 30000, "transactionIds": [ids[0], ids[0]]},
        headers=bearer(admin),
    )
    created = await client.post(
        f"{BASE}/manual",
        json={"centerId": center.id, "amount": 25000, "transactionIds": ids, "reason": "June"},
        headers=bearer(admin),
    )
    again = await client.post(
        f"{BASE}/manual",
        json={"centerId": center.id, "amount": 25000, "transactionIds": ids},
        headers=bearer(admin),
    )
    invalid = await client.post(
        f"{BASE}/manual",
        json={"centerId": "", "amount": -1, "transactionIds": []},
        headers=bearer(admin),
    )

    assert_error(wrong_amount, 400, "Amount mismatch: expected ₦25000, received ₦24000")
    assert_error(
        duplicated,
        400,
        "Some transactions are invalid, already paid out, or belong to a different center",
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["message"] == "Manual payout created successfully"
    payout = body["data"]
    assert (payout["status"], payout["type"], payout["amount"], payout["netAmount"]) == (
        "PENDING",
        "MANUAL",
        25000,
        24990,
    )
    assert payout["payoutNumber"].startswith("PO-")
    assert payout["payoutNumber"].endswith("-0001")
    assert payout["center"] == {"centerName": center.center_name}
    assert payout["initiatedBy"] == admin.id
    assert payout["reason"] == "June"
    assert {i["transactionId"] for i in payout["payoutItems"]} == set(ids)
    assert payout["payoutItems"][0]["description"].endswith(" for Ada Obi")
    assert again.status_code == 400
    error = invalid.json()
    assert invalid.status_code == 400
    assert error["success"] is False
    assert error["ok"] is False
    assert {tuple(i["path"]) for i in error["error"]["issues"]} == {
        ("centerId",),
        ("amount",),
        ("transactionIds",),
    }


async def create_payout(client: httpx.AsyncClient, admin: Any, center: Any, owed: list[Any]) -> str:
    response = await client.post(
        f"{BASE}/manual",
        json={
            "centerId": center.id,
            "amount": sum(t.amount for t in owed),
            "transactionIds": [t.id for t in owed],
        },
        headers=bearer(admin),
    )
    payout_id: str = response.json()["data"]["id"]
    return payout_id


async def test_processing_claims_the_payout_and_starts_one_transfer(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    center, owed = await owed_center()
    admin = await make_admin()
    payout_id = await create_payout(client, admin, center, owed)

    task = asyncio.ensure_future(client.post(f"{BASE}/{payout_id}/process", headers=bearer(admin)))
    await run_next_job("process_payout")
    processed = await task
    twice = await client.post(f"{BASE}/{payout_id}/process", headers=bearer(admin))

    assert processed.status_code == 200, processed.text
    body = processed.json()
    assert body["message"] == "Payout processed successfully"
    assert body["data"]["transfer"]["status"] == "pending"
    assert body["data"]["payout"]["status"] == "PROCESSING"
    payout = await Payout.get(id=payout_id)
    assert payout.transfer_reference in paystack.transfers
    assert paystack.transfers[payout.transfer_reference]["amount"] == 2_500_000
    assert payout.recipient_id is not None
    assert payout.paystack_transfer_id is not None
    assert_error(twice, 400, "Payout not found or not in pending status")
    assert len(paystack.calls_to("POST", "/transfer")) == 1


async def test_missing_bank_details_fail_the_payout_without_using_a_retry(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    center, owed = await owed_center(bank=False)
    admin = await make_admin()
    payout_id = await create_payout(client, admin, center, owed)

    task = asyncio.ensure_future(client.post(f"{BASE}/{payout_id}/process", headers=bearer(admin)))
    await run_next_job("process_payout")
    response = await task

    assert_error(
        response,
        400,
        "Center bank details not complete. Please ensure bankName, bankAccount, and bankCode "
        "are set.",
    )
    payout = await Payout.get(id=payout_id)
    assert (payout.status, payout.retry_count) == (PayoutStatus.FAILED, 0)
    assert not paystack.calls_to("POST", "/transfer")


async def test_a_retry_asks_the_provider_first_and_never_pays_twice(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    # Given a payout whose transfer went through although a late webhook said it failed
    center, owed = await owed_center()
    admin = await make_admin()
    payout_id = await create_payout(client, admin, center, owed)
    task = asyncio.ensure_future(client.post(f"{BASE}/{payout_id}/process", headers=bearer(admin)))
    await run_next_job("process_payout")
    await task
    payout = await Payout.get(id=payout_id)
    await Payout.filter(id=payout_id).update(status=PayoutStatus.FAILED)
    paystack.transfers[payout.transfer_reference or ""]["status"] = "success"

    # When an admin retries it
    task = asyncio.ensure_future(client.post(f"{BASE}/{payout_id}/retry", headers=bearer(admin)))
    await run_next_job("process_payout")
    retried = await task

    # Then it is marked paid and no second transfer is made
    assert retried.status_code == 200, retried.text
    assert retried.json()["message"] == "Payout retry initiated successfully"
    assert (await Payout.get(id=payout_id)).status == PayoutStatus.SUCCESS
    assert len(paystack.calls_to("POST", "/transfer")) == 1
    not_failed = await client.post(f"{BASE}/{payout_id}/retry", headers=bearer(admin))
    assert_error(not_failed, 400, "Payout not found or not in failed status")


async def test_listings_filter_and_validate(client: httpx.AsyncClient) -> None:
    center, owed = await owed_center()
    admin = await make_admin()
    payout_id = await create_payout(client, admin, center, owed)

    everything = await client.get(BASE, headers=bearer(admin))
    pending = await client.get(BASE, params={"status": "PENDING"}, headers=bearer(admin))
    succeeded = await client.get(BASE, params={"status": "SUCCESS"}, headers=bearer(admin))
    bad_status = await client.get(BASE, params={"status": "PAID"}, headers=bearer(admin))
    bad_limit = await client.get(BASE, params={"limit": "-5"}, headers=bearer(admin))
    mine = await client.get(f"{BASE}/center/{center.id}", headers=bearer(center))
    transactions = await client.get(
        f"{BASE}/center/{center.id}/transactions",
        params={"status": "COMPLETED", "startDate": "2000-01-01"},
        headers=bearer(center),
    )
    bad_date = await client.get(
        f"{BASE}/center/{center.id}/transactions",
        params={"endDate": "tomorrow"},
        headers=bearer(center),
    )

    listed = everything.json()["data"]
    assert listed["pagination"] == {"page": 1, "limit": 20, "total": 1, "totalPages": 1}
    item = listed["payouts"][0]["payoutItems"][0]
    assert listed["payouts"][0]["center"]["email"] == center.email
    assert item["transaction"]["appointments"][0]["screeningType"]["name"].startswith("Mammogram")
    assert pending.json()["data"]["pagination"]["total"] == 1
    assert succeeded.json()["data"]["pagination"]["total"] == 0
    assert bad_status.status_code == 400
    assert bad_status.json()["success"] is False
    assert_issue(bad_limit, "limit")
    assert "center" not in mine.json()["data"]["payouts"][0]
    data = transactions.json()["data"]
    assert data["totals"] == {"totalAmount": 40000, "totalCount": 3}
    paid = [t for t in data["transactions"] if t["payoutItem"]]
    assert {t["id"] for t in paid} == {t.id for t in owed}
    assert paid[0]["payoutItem"]["payout"]["id"] == payout_id
    assert bad_date.status_code == 400


async def test_the_monthly_batch_needs_the_cron_key_and_runs_one_batch_at_a_time(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    import os

    center, _ = await owed_center()
    await make_center(center_name="Zz Small")  # owed nothing: skipped
    key = {"x-api-key": os.environ["CRON_API_KEY"]}

    refused = await client.post(f"{BASE}/monthly-batch")
    wrong = await client.post(f"{BASE}/monthly-batch", headers={"x-api-key": "nope"})
    task = asyncio.ensure_future(client.post(f"{BASE}/monthly-batch", headers=key))
    job = await asyncio.wait_for(_queued_batch(), 15)
    concurrent = await client.post(f"{BASE}/monthly-batch", headers=key)
    await run_next_job("run_monthly_payouts")
    response = await task

    assert (refused.status_code, refused.json()) == (401, {"error": "Unauthorized"})
    assert wrong.status_code == 401
    assert job is not None
    assert_error(concurrent, 409, "A payout batch is already running")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Monthly payouts processed successfully"
    data = body["data"]
    assert (data["processed"], data["failed"], data["totalAmount"]) == (1, 0, 25000)
    by_centre = {d["centerId"]: d for d in data["details"]}
    assert by_centre[center.id] == {
        "centerId": center.id,
        "centerName": center.center_name,
        "status": "success",
        "amount": 25000,
    }
    skipped = [d for d in data["details"] if d["status"] == "skipped"]
    assert skipped[0]["error"] == "Below minimum payout threshold (₦100)"
    payout = await Payout.get(center_id=center.id)
    assert payout.type == PayoutType.AUTOMATED
    assert payout.reason.startswith("Automated monthly payout for ")
    assert await PayoutItem.filter(payout_id=payout.id).count() == 2


async def _queued_batch() -> Any:
    from tests.edge.money_support import next_queued

    return await next_queued("run_monthly_payouts")


async def test_banks_and_account_checks_come_from_the_provider(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    center = await make_center()
    paystack.unresolvable_accounts.add("0000000000")

    banks = await client.get(f"{BASE}/banks", headers=bearer(center))
    resolved = await client.post(
        f"{BASE}/verify-account",
        json={"accountNumber": "0123456789", "bankCode": "058"},
        headers=bearer(center),
    )
    unresolvable = await client.post(
        f"{BASE}/verify-account",
        json={"accountNumber": "0000000000", "bankCode": "058"},
        headers=bearer(center),
    )
    short = await client.post(
        f"{BASE}/verify-account",
        json={"accountNumber": "123", "bankCode": ""},
        headers=bearer(center),
    )
    paystack.fail_with_status["/bank"] = 500
    outage = await client.get(f"{BASE}/banks", headers=bearer(center))

    assert [b["code"] for b in banks.json()["data"]] == ["044", "058", "057"]
    assert resolved.json()["data"] == {
        "account_number": "0123456789",
        "account_name": "SANDBOX ACCOUNT",
        "bank_id": 9,
    }
    assert_error(
        unresolvable,
        400,
        "Failed to verify account number: Account verification failed: Could not resolve "
        "account name. Check parameters or try again.",
    )
    messages = {i["message"] for i in short.json()["error"]["issues"]}
    assert messages == {"Account number must be 10 digits", "Bank code is required"}
    assert outage.status_code == 502
    assert outage.json()["error"].startswith("Failed to get Nigerian banks: Failed to get banks:")
