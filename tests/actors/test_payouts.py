"""actors.payouts against the Paystack sandbox over HTTP: no payout is ever paid twice (claim
before transfer, unknown outcomes reconciled, retries verify first), recipients, the monthly
batch, and the money invariants of payouts (payouts.md §2, §3.4, §3.5, §3.9)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from actors.payouts import store
from actors.payouts.actor import (
    RecipientError,
    TransferOutcomePendingError,
    ensure_recipient,
    process_one,
    reconcile_one,
    retry_one,
    run_monthly,
)
from actors.payouts.gateway import GatewaySettings, TransferGateway
from edge.services import payouts as edge_payouts
from models.centers import ServiceCenter
from models.enums import AppointmentStatus, PayoutStatus, PayoutType, TransactionStatus
from models.jobs import Job
from models.payouts import Payout, PayoutItem, PaystackRecipient
from models.transactions import Transaction
from tests.edge.money_support import paid_booking
from tests.factories import make_center, make_patient, make_screening_type
from tests.sandbox.conftest_paystack import paystack_offline, paystack_sandbox  # noqa: F401
from tests.sandbox.paystack import PaystackSandbox

pytestmark = pytest.mark.usefixtures("db")

BANK = {"bank_account": "0123456789", "bank_name": "GTBank", "bank_code": "058"}


def gateway(sandbox: PaystackSandbox, timeout: float = 5.0) -> TransferGateway:
    return TransferGateway(GatewaySettings(sandbox.secret, sandbox.url, timeout))


async def owed_center(*amounts: float, name: str = "Lifeline", **fields: Any) -> ServiceCenter:
    screening = await make_screening_type()
    center = await make_center(center_name=name, services=[screening], **{**BANK, **fields})
    patient = await make_patient()
    for amount in amounts or (15000.0,):
        await paid_booking(patient, center, screening, amount=amount)
    await paid_booking(patient, center, screening, appointment_status=AppointmentStatus.SCHEDULED)
    return center


async def pending_payout(center: ServiceCenter) -> str:
    from tortoise.transactions import in_transaction

    async with in_transaction() as conn:
        owed = await store.eligible_transactions(center.id, using_db=conn, lock=True)
        return await store.create_payout(
            center_id=center.id,
            transactions=owed,
            payout_type=PayoutType.MANUAL,
            batch=store.batch_reference(),
            period_start=owed[-1].created_at,
            period_end=owed[0].created_at,
            reason="Manual payout for completed appointments",
            initiated_by="admin-1",
            using_db=conn,
        )


def transfers_of(sandbox: PaystackSandbox) -> list[tuple[str, str]]:
    return sandbox.calls_to("POST", "/transfer")


async def test_the_edge_and_the_actor_agree_on_what_a_centre_is_owed() -> None:
    def normal(sql: str) -> str:
        return re.sub(r"\s+", " ", sql).strip()

    center = await owed_center(15000, 5000)
    await paid_booking(
        await make_patient(),
        center,
        await make_screening_type(),
        transaction_status=TransactionStatus.PENDING,
    )
    from tortoise import connections

    actor_view = await store.eligible_transactions(center.id, using_db=connections.get("default"))
    edge_view = await edge_payouts.center_balance(center.id)

    assert normal(store.ELIGIBLE_SQL) == normal(edge_payouts.ELIGIBLE_SQL)
    assert {t.id for t in actor_view} == {t["id"] for t in edge_view["eligibleTransactions"]}
    assert sum(t.amount for t in actor_view) == edge_view["eligibleAmount"] == 20000


async def test_processing_creates_the_recipient_claims_and_transfers_once(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    center = await owed_center(15000, 10000)
    payout_id = await pending_payout(center)

    async with gateway(paystack_offline) as client:
        results = await asyncio.gather(*(process_one(payout_id, client) for _ in range(3)))

    assert sorted(r["ok"] for r in results) == [False, False, True]
    assert {r["error"] for r in results if not r["ok"]} == {store.NOT_PENDING}
    assert len(transfers_of(paystack_offline)) == 1
    payout = await Payout.get(id=payout_id)
    assert payout.status == PayoutStatus.PROCESSING
    assert re.fullmatch(r"TRF_\d{14}_[0-9A-F]{8}", payout.transfer_reference or "")
    transfer = paystack_offline.transfers[payout.transfer_reference or ""]
    assert (transfer["amount"], transfer["reason"]) == (2_500_000, payout.reason)
    recipient = await PaystackRecipient.get(center_id=center.id)
    assert payout.recipient_id == recipient.id
    assert recipient.account_name == "SANDBOX ACCOUNT"
    assert payout.paystack_transfer_id == str(transfer["id"])


async def test_an_immediate_provider_success_completes_the_payout(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    paystack_offline.transfer_outcome = "success"
    payout_id = await pending_payout(await owed_center())

    async with gateway(paystack_offline) as client:
        result = await process_one(payout_id, client)

    payout = await Payout.get(id=payout_id)
    assert result["outcome"] == "success"
    assert payout.status == PayoutStatus.SUCCESS
    assert payout.completed_at is not None


async def test_a_rejected_transfer_fails_the_payout_and_counts_a_retry(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    paystack_offline.transfer_outcome = "reject"
    payout_id = await pending_payout(await owed_center())

    async with gateway(paystack_offline) as client:
        result = await process_one(payout_id, client)

    assert result == {
        "ok": False,
        "error": "Failed to initiate Paystack transfer: Paystack transfer failed: "
        "Insufficient balance",
    }
    payout = await Payout.get(id=payout_id)
    assert (payout.status, payout.retry_count) == (PayoutStatus.FAILED, 1)


async def test_a_lost_answer_leaves_the_payout_processing_until_the_provider_says(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    # Given the provider takes the transfer but answers after the client gave up
    paystack_offline.transfer_delay = 1.0
    payout_id = await pending_payout(await owed_center())

    async with gateway(paystack_offline, timeout=0.3) as client:
        result = await process_one(payout_id, client)

    # Then the payout is not failed (a retry would pay twice) and a reconciliation is queued
    assert result == {"ok": True, "transfer": None, "outcome": "unknown"}
    payout = await Payout.get(id=payout_id)
    assert payout.status == PayoutStatus.PROCESSING
    assert payout.failure_reason == store.UNKNOWN_OUTCOME
    job = await Job.get(actor_name="reconcile_payout")
    assert job.args == {"payout_id": payout_id}

    # When the provider still reports it pending, then as paid
    paystack_offline.transfer_delay = 0
    async with gateway(paystack_offline) as client:
        with pytest.raises(TransferOutcomePendingError):
            await reconcile_one(payout_id, client)
        paystack_offline.transfers[payout.transfer_reference or ""]["status"] = "success"
        settled = await reconcile_one(payout_id, client)

    assert settled["outcome"] == "success"
    assert (await Payout.get(id=payout_id)).status == PayoutStatus.SUCCESS
    assert len(transfers_of(paystack_offline)) == 1


async def test_a_transfer_the_provider_never_received_becomes_retryable(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    payout_id = await pending_payout(await owed_center())
    async with gateway(paystack_offline) as client:
        await process_one(payout_id, client)
    payout = await Payout.get(id=payout_id)
    paystack_offline.transfers.clear()

    async with gateway(paystack_offline) as client:
        result = await reconcile_one(payout_id, client)
        retried = await retry_one(payout_id, client)

    assert result["outcome"] == "not_found"
    after = await Payout.get(id=payout_id)
    assert after.type == PayoutType.RETRY
    assert after.transfer_reference != payout.transfer_reference
    assert retried["ok"] is True
    assert len(transfers_of(paystack_offline)) == 2  # the first never reached the provider


async def test_a_retry_never_starts_a_transfer_while_the_previous_one_is_under_way(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    payout_id = await pending_payout(await owed_center())
    async with gateway(paystack_offline) as client:
        await process_one(payout_id, client)
    await Payout.filter(id=payout_id).update(status=PayoutStatus.FAILED)

    async with gateway(paystack_offline) as client:
        in_flight = await retry_one(payout_id, client)
        await Payout.filter(id=payout_id).update(
            status=PayoutStatus.FAILED, retry_count=3, transfer_reference=None
        )
        exhausted = await retry_one(payout_id, client)

    assert in_flight["outcome"] == "pending"
    assert exhausted == {"ok": False, "error": "Maximum retry attempts exceeded"}
    assert len(transfers_of(paystack_offline)) == 1


async def test_recipients_are_reused_and_refreshed_when_the_bank_details_change(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    center = await make_center(**BANK, account_name="Lifeline Ltd")
    async with gateway(paystack_offline) as client:
        first = await ensure_recipient(center.id, client)
        same = await ensure_recipient(center.id, client)
        await ServiceCenter.filter(id=center.id).update(bank_account="9876543210")
        moved = await ensure_recipient(center.id, client)
        paystack_offline.unresolvable_accounts.add("1111111111")
        await ServiceCenter.filter(id=center.id).update(bank_account="1111111111")
        with pytest.raises(RecipientError, match="Could not resolve account name"):
            await ensure_recipient(center.id, client)
        await ServiceCenter.filter(id=center.id).update(bank_code=None)
        with pytest.raises(RecipientError, match="bank details not complete") as missing:
            await ensure_recipient(center.id, client)

    assert same.recipient_code == first.recipient_code
    assert moved.id == first.id
    assert moved.recipient_code != first.recipient_code
    assert (moved.account_number, moved.account_name) == ("9876543210", "Lifeline Ltd")
    assert len(paystack_offline.calls_to("POST", "/transferrecipient")) == 2
    assert missing.value.count_retry is False


async def test_the_monthly_batch_pays_each_centre_once_and_skips_small_amounts(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    big = await owed_center(15000, 10000, name="A Big")
    small = await owed_center(50, name="B Small")
    no_bank = await owed_center(20000, name="C No Bank", bank_code="")

    async with gateway(paystack_offline) as client:
        first = await run_monthly("cron", client)
        second = await run_monthly("cron", client)

    details = {d["centerId"]: d for d in first["details"]}
    assert (first["processed"], first["failed"], first["totalAmount"]) == (1, 1, 25000)
    assert details[big.id]["status"] == "success"
    assert details[small.id] == {
        "centerId": small.id,
        "centerName": "B Small",
        "status": "skipped",
        "amount": 50,
        "error": "Below minimum payout threshold (₦100)",
    }
    assert details[no_bank.id]["status"] == "failed"
    assert details[no_bank.id]["amount"] == 0
    assert second["processed"] == 0
    assert {d["status"] for d in second["details"]} == {"skipped"}
    payouts = await Payout.all()
    assert {p.type for p in payouts} == {PayoutType.AUTOMATED}
    assert len({p.batch_reference for p in payouts}) == 1
    await assert_payouts_pay_each_transaction_once(paystack_offline)


async def test_only_one_monthly_batch_runs_at_a_time(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    await owed_center(15000)
    from tortoise import connections

    client_db: Any = connections.get("default")
    async with client_db.acquire_connection() as raw:
        await raw.execute(
            "SELECT pg_advisory_lock(hashtextextended($1, 0))", "zerocancer:monthly-payouts"
        )
        try:
            async with gateway(paystack_offline) as client:
                busy = await run_monthly("cron", client)
        finally:
            await raw.execute(
                "SELECT pg_advisory_unlock(hashtextextended($1, 0))", "zerocancer:monthly-payouts"
            )

    assert busy == {"ok": False, "conflict": True, "error": "A payout batch is already running"}
    assert await Payout.all().count() == 0


async def assert_payouts_pay_each_transaction_once(sandbox: PaystackSandbox) -> None:
    """No transaction in two payouts; no payout with two transfers; transfers match payouts."""
    items = await PayoutItem.all()
    assert len({i.transaction_id for i in items}) == len(items)
    for payout in await Payout.all():
        mine = [i for i in items if i.payout_id == payout.id]
        assert abs(sum(i.amount for i in mine) - payout.amount) < 0.005
    sent = list(sandbox.transfers.values())
    references = [t["reference"] for t in sent]
    assert len(references) == len(set(references))
    paid = {p.transfer_reference: p for p in await Payout.all() if p.transfer_reference}
    for transfer in sent:
        assert transfer["amount"] == round(paid[transfer["reference"]].amount * 100)
    completed = await Transaction.filter(status=TransactionStatus.COMPLETED).count()
    assert len(items) <= completed
