"""edge.payments: the Paystack client against the sandbox over HTTP, and its edge cases with a
mock transport (donations.md §2, payouts.md §2.6)."""

from __future__ import annotations

import json

import httpx
import pytest

from edge.payments import (
    PaystackClient,
    PaystackSettings,
    ProviderRejectedError,
    ProviderUnavailableError,
    ReferenceNotFoundError,
    parse_metadata,
    sign,
    signature_matches,
)
from tests.sandbox.conftest_paystack import paystack_offline, paystack_sandbox  # noqa: F401
from tests.sandbox.paystack import PaystackSandbox

SECRET = "sk_test_unit"


def client_for(sandbox: PaystackSandbox, secret: str | None = None) -> PaystackClient:
    return PaystackClient(
        PaystackSettings(secret_key=secret or sandbox.secret, base_url=sandbox.url)
    )


def mock_client(handler: httpx.MockTransport) -> PaystackClient:
    return PaystackClient(
        PaystackSettings(secret_key=SECRET, base_url="https://paystack.test"), transport=handler
    )


async def test_initialize_then_verify_round_trips_through_the_sandbox(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    async with client_for(paystack_offline) as client:
        started = await client.initialize_transaction(
            email="ada@example.com",
            amount_kobo=150_000,
            reference="donation-anon-1-abc",
            callback_url="http://frontend.test/cb",
            metadata={"payment_type": "anonymous_donation", "wants_receipt": False},
        )
        paystack_offline.set_outcome("donation-anon-1-abc", "success")
        verified = await client.verify_transaction("donation-anon-1-abc")

    assert started.reference == "donation-anon-1-abc"
    assert started.authorization_url.endswith(f"/checkout/{started.access_code}")
    assert verified.status == "success"
    assert verified.amount_kobo == 150_000
    assert verified.currency == "NGN"
    assert verified.metadata == {"payment_type": "anonymous_donation", "wants_receipt": False}
    assert paystack_offline.transactions["donation-anon-1-abc"]["email"] == "ada@example.com"


async def test_a_duplicate_reference_is_rejected_by_the_provider(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    async with client_for(paystack_offline) as client:
        kwargs = {
            "email": "a@example.com",
            "amount_kobo": 10_000,
            "reference": "dup-1",
            "callback_url": "http://x",
            "metadata": {},
        }
        await client.initialize_transaction(**kwargs)  # type: ignore[arg-type]
        with pytest.raises(ProviderRejectedError, match="Duplicate"):
            await client.initialize_transaction(**kwargs)  # type: ignore[arg-type]


async def test_an_unknown_reference_is_reference_not_found(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    async with client_for(paystack_offline) as client:
        with pytest.raises(ReferenceNotFoundError, match="Transaction reference not found"):
            await client.verify_transaction("nope")


async def test_a_wrong_secret_key_is_refused(paystack_offline: PaystackSandbox) -> None:  # noqa: F811
    async with client_for(paystack_offline, secret="sk_wrong") as client:
        with pytest.raises(ProviderRejectedError, match="Invalid key"):
            await client.list_banks()


async def test_transfer_operations_round_trip_through_the_sandbox(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    async with client_for(paystack_offline) as client:
        banks = await client.list_banks()
        resolved = await client.resolve_account("0123456789", "058")
        recipient = await client.create_transfer_recipient(
            name="Lifeline", account_number="0123456789", bank_code="058"
        )
        transfer = await client.initiate_transfer(
            amount_kobo=2_500_000,
            recipient=recipient["recipient_code"],
            reason="June payout",
            reference="TRF_20250701020000_ABCDEF12",
        )
        verified = await client.verify_transfer("TRF_20250701020000_ABCDEF12")
        balance = await client.get_balance()

    assert {"code", "name", "slug"} <= set(banks[0])
    assert resolved["account_name"] == "SANDBOX ACCOUNT"
    assert transfer["status"] == "pending"
    assert verified["amount"] == 2_500_000
    assert balance[0]["currency"] == "NGN"


async def test_an_unresolvable_account_is_rejected_with_the_provider_message(
    paystack_offline: PaystackSandbox,  # noqa: F811
) -> None:
    paystack_offline.unresolvable_accounts.add("0000000000")
    async with client_for(paystack_offline) as client:
        with pytest.raises(ProviderRejectedError, match="Could not resolve account name"):
            await client.resolve_account("0000000000", "058")


async def test_a_provider_5xx_is_unavailable_not_rejected() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="bad gateway")

    async with mock_client(httpx.MockTransport(handler)) as client:
        with pytest.raises(ProviderUnavailableError):
            await client.verify_transaction("ref-1")


async def test_a_timeout_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with mock_client(httpx.MockTransport(handler)) as client:
        with pytest.raises(ProviderUnavailableError, match="timed out"):
            await client.initiate_transfer(amount_kobo=1, recipient="R", reason="r", reference="T")


async def test_requests_carry_the_bearer_key_and_encode_the_reference() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"status": True, "data": {"reference": "a b", "amount": 100, "status": "success"}}
        return httpx.Response(200, json=body)

    async with mock_client(httpx.MockTransport(handler)) as client:
        await client.verify_transaction("a b/c")

    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"
    assert seen[0].url.raw_path == b"/transaction/verify/a%20b%2Fc"


def test_webhook_signatures_are_hmac_sha512_of_the_raw_body() -> None:
    body = json.dumps({"event": "charge.success"}).encode()
    good = sign(SECRET, body)

    assert len(good) == 128
    assert signature_matches(SECRET, body, good)
    assert signature_matches(SECRET, body, good.upper())
    assert not signature_matches(SECRET, body + b" ", good)
    assert not signature_matches(SECRET, body, None)
    assert not signature_matches("", body, good)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1}, {"a": 1}),
        ('{"a": 1}', {"a": 1}),
        (0, None),
        (None, None),
        ("not json", None),
        ("[1]", None),
    ],
)
def test_metadata_that_is_not_an_object_counts_as_none(value: object, expected: object) -> None:
    assert parse_metadata(value) == expected
