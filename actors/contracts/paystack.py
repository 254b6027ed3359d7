"""Paystack's HTTP API: the one client both the edge and the payout worker use.

`PaystackClient` is an `httpx.AsyncClient` with a 15 s total timeout per call,
`Authorization: Bearer <PAYSTACK_SECRET_KEY>`, against `PAYSTACK_BASE_URL` (default
`https://api.paystack.co`; tests point it at `tests/sandbox/paystack.py`). The transport is
injectable, so unit tests of the client use `httpx.MockTransport`. The edge reaches it through
`edge.payments` (donations.md §2), the worker through `actors.payouts.gateway` (payouts.md §2.6);
it lives in `actors.contracts` because that is the only part of actors the edge may import, so it
must load nothing heavier than httpx.

Failures are one of three errors:

    ProviderError                 the provider answered status:false or could not be reached
    ├── ProviderRejectedError     HTTP 4xx or `status: false`: the provider said no
    │   └── ReferenceNotFoundError  verify of an unknown reference (HTTP 400/404, status:false)
    └── ProviderUnavailableError  timeout, network error, HTTP 5xx, or a body that is not JSON

The secret key is never logged and never part of an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import json as jsonlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

#: Paystack's API unless `PAYSTACK_BASE_URL` says otherwise (the test sandbox).
DEFAULT_BASE_URL = "https://api.paystack.co"
#: Total time allowed for one provider call (donations.md §2).
TIMEOUT_SECONDS = 15.0
#: Header carrying the webhook signature (donations.md §2.4).
SIGNATURE_HEADER = "x-paystack-signature"


class ProviderError(Exception):
    """A provider call failed; `provider_message` is the provider's own text (or the transport
    error's name), safe to show."""

    def __init__(self, provider_message: str, *, http_status: int | None = None) -> None:
        super().__init__(provider_message)
        self.provider_message = provider_message
        #: The same text under the name the payout worker reads.
        self.message = provider_message
        self.http_status = http_status


class ProviderRejectedError(ProviderError):
    """The provider answered, and said no (HTTP 4xx or `status: false`)."""


class ReferenceNotFoundError(ProviderRejectedError):
    """The provider does not know this reference."""


class ProviderUnavailableError(ProviderError):
    """No usable answer: timeout, network failure, HTTP 5xx or a malformed body. The outcome of
    a state-changing call (a transfer) is then unknown."""


@dataclass(frozen=True, slots=True)
class PaystackSettings:
    secret_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PaystackSettings:
        env = os.environ if environ is None else environ
        base_url = env.get("PAYSTACK_BASE_URL", "").strip().rstrip("/") or DEFAULT_BASE_URL
        return cls(secret_key=env.get("PAYSTACK_SECRET_KEY", "").strip(), base_url=base_url)


@dataclass(frozen=True, slots=True)
class InitializedTransaction:
    authorization_url: str
    access_code: str
    reference: str


@dataclass(frozen=True, slots=True)
class VerifiedTransaction:
    """`GET /transaction/verify/{reference}`'s `data`, as far as we read it; `raw` is all of it."""

    reference: str
    amount_kobo: int
    status: str
    paid_at: str | None
    channel: str | None
    currency: str | None
    transaction_date: str | None
    metadata: dict[str, Any] | None
    raw: dict[str, Any]


def sign(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA512 of the raw body keyed with the secret (donations.md §2.4)."""
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def signature_matches(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of a webhook signature over the exact raw bytes (D-DON-14)."""
    if not secret or not signature:
        return False
    expected = sign(secret, body)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def parse_metadata(value: Any) -> dict[str, Any] | None:
    """Paystack metadata as an object: a JSON string is parsed first; anything that is then not
    an object (`0`, `null`, unparseable text) is "no metadata" (donations.md §2.4)."""
    if isinstance(value, str):
        try:
            value = jsonlib.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


class PaystackClient:
    """Paystack's HTTP API (the edge's `edge.payments.PaymentGateway`, the worker's transfers)."""

    def __init__(
        self,
        settings: PaystackSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings or PaystackSettings.from_env()
        self._http = httpx.AsyncClient(
            base_url=self.settings.base_url,
            timeout=self.settings.timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {self.settings.secret_key}"},
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PaystackClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing ------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """The HTTP status and the decoded envelope; transport failures and 5xx raise
        `ProviderUnavailableError`."""
        if not self.settings.secret_key:
            raise ProviderUnavailableError("PAYSTACK_SECRET_KEY is not set")
        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException:
            raise ProviderUnavailableError("Request to payment provider timed out") from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailableError(
                f"Payment provider unreachable: {type(exc).__name__}"
            ) from None
        if response.status_code >= 500:
            raise ProviderUnavailableError(
                f"Payment provider answered HTTP {response.status_code}",
                http_status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError:
            raise ProviderUnavailableError(
                "Payment provider answer is not JSON", http_status=response.status_code
            ) from None
        if not isinstance(body, dict):
            raise ProviderUnavailableError(
                "Payment provider answer is not an envelope", http_status=response.status_code
            )
        return response.status_code, body

    @staticmethod
    def _message(body: Mapping[str, Any], fallback: str) -> str:
        message = body.get("message")
        return str(message) if message else fallback

    async def _data(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        judge_by_http: bool = False,
    ) -> Any:
        """The envelope's `data`. Success is judged by the body's `status` flag (payouts.md 2.6),
        and with `judge_by_http` also by a 2xx HTTP status (donations.md 2.1)."""
        status, body = await self._call(method, path, json=json, params=params)
        failed = body.get("status") is not True or (judge_by_http and status >= 300)
        if failed:
            raise ProviderRejectedError(self._message(body, f"HTTP {status}"), http_status=status)
        return body.get("data")

    # -- transactions --------------------------------------------------------------------------

    async def initialize_transaction(
        self,
        *,
        email: str,
        amount_kobo: int,
        reference: str,
        callback_url: str,
        metadata: dict[str, Any],
    ) -> InitializedTransaction:
        payload = {
            "email": email,
            "amount": amount_kobo,
            "reference": reference,
            "callback_url": callback_url,
            "metadata": metadata,
        }
        data = await self._data("POST", "/transaction/initialize", json=payload, judge_by_http=True)
        if not isinstance(data, dict) or not data.get("authorization_url"):
            raise ProviderUnavailableError("Payment provider answer has no authorization_url")
        return InitializedTransaction(
            authorization_url=str(data["authorization_url"]),
            access_code=str(data.get("access_code") or ""),
            reference=str(data.get("reference") or reference),
        )

    async def verify_transaction(self, reference: str) -> VerifiedTransaction:
        status, body = await self._call("GET", f"/transaction/verify/{quote(reference, safe='')}")
        if status in (400, 404) and body.get("status") is not True:
            raise ReferenceNotFoundError(
                self._message(body, "Transaction reference not found"), http_status=status
            )
        if status >= 300 or body.get("status") is not True:
            raise ProviderRejectedError(self._message(body, f"HTTP {status}"), http_status=status)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ReferenceNotFoundError("Payment not found", http_status=status)
        try:
            amount = int(data.get("amount") or 0)
        except (TypeError, ValueError):
            amount = 0
        return VerifiedTransaction(
            reference=str(data.get("reference") or reference),
            amount_kobo=amount,
            status=str(data.get("status") or ""),
            paid_at=data.get("paid_at") or data.get("paidAt"),
            channel=data.get("channel"),
            currency=data.get("currency"),
            transaction_date=data.get("transaction_date") or data.get("created_at"),
            metadata=parse_metadata(data.get("metadata")),
            raw=data,
        )

    # -- transfers (payouts.md §2.6) -----------------------------------------------------------

    async def list_banks(self) -> list[dict[str, Any]]:
        data = await self._data("GET", "/bank", params={"country": "nigeria"})
        return [bank for bank in data or [] if isinstance(bank, dict)]

    async def resolve_account(self, account_number: str, bank_code: str) -> dict[str, Any]:
        params = {"account_number": account_number, "bank_code": bank_code}
        data = await self._data("GET", "/bank/resolve", params=params)
        return dict(data or {})

    async def create_transfer_recipient(
        self, *, name: str, account_number: str, bank_code: str, currency: str = "NGN"
    ) -> dict[str, Any]:
        payload = {
            "type": "nuban",
            "name": name,
            "account_number": account_number,
            "bank_code": bank_code,
            "currency": currency,
        }
        data = await self._data("POST", "/transferrecipient", json=payload)
        return dict(data or {})

    async def initiate_transfer(
        self, *, amount_kobo: int, recipient: str, reason: str, reference: str
    ) -> dict[str, Any]:
        payload = {
            "source": "balance",
            "amount": amount_kobo,
            "recipient": recipient,
            "reason": reason,
            "reference": reference,
        }
        data = await self._data("POST", "/transfer", json=payload)
        return dict(data or {})

    async def verify_transfer(self, reference: str) -> dict[str, Any]:
        status, body = await self._call("GET", f"/transfer/verify/{quote(reference, safe='')}")
        if body.get("status") is not True:
            error = ReferenceNotFoundError if status in (400, 404) else ProviderRejectedError
            raise error(self._message(body, f"HTTP {status}"), http_status=status)
        return dict(body.get("data") or {})

    async def get_balance(self) -> list[dict[str, Any]]:
        data = await self._data("GET", "/balance")
        return [row for row in data or [] if isinstance(row, dict)]

    # -- webhooks ------------------------------------------------------------------------------

    def verify_signature(self, body: bytes, signature: str | None) -> bool:
        return signature_matches(self.settings.secret_key, body, signature)
