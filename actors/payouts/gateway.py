"""The transfer calls of Paystack's HTTP API, from the worker side (payouts.md §2.6).

Same wire protocol as ``edge.payments`` (which actors may not import): bearer secret key,
``{"status", "message", "data"}`` envelopes, success judged by the body's ``status`` flag, a
total timeout per call. Errors:

    TransferProviderError         the provider said no, or could not be reached
    ├── TransferRejectedError     an answer with ``status: false`` (or HTTP 4xx)
    │   └── TransferNotFoundError   verify of a reference the provider does not know
    └── TransferUnavailableError  timeout, network failure, HTTP 5xx, not JSON: outcome unknown
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_BASE_URL = "https://api.paystack.co"
#: Total time allowed for one provider call.
TIMEOUT_SECONDS = 15.0


class TransferProviderError(Exception):
    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class TransferRejectedError(TransferProviderError):
    """The provider answered and refused."""


class TransferNotFoundError(TransferRejectedError):
    """The provider knows no transfer with that reference."""


class TransferUnavailableError(TransferProviderError):
    """No usable answer; for a transfer call, its outcome is unknown."""


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    secret_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        env = os.environ if environ is None else environ
        return cls(
            secret_key=env.get("PAYSTACK_SECRET_KEY", "").strip(),
            base_url=env.get("PAYSTACK_BASE_URL", "").strip().rstrip("/") or DEFAULT_BASE_URL,
        )


class TransferGateway:
    """Paystack's recipient and transfer endpoints over one ``httpx.AsyncClient``."""

    def __init__(
        self,
        settings: GatewaySettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings or GatewaySettings.from_env()
        self._http = httpx.AsyncClient(
            base_url=self.settings.base_url,
            timeout=self.settings.timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {self.settings.secret_key}"},
        )

    async def __aenter__(self) -> TransferGateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, str] | None = None
    ) -> Any:
        if not self.settings.secret_key:
            raise TransferUnavailableError("PAYSTACK_SECRET_KEY is not set")
        try:
            response = await self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException:
            raise TransferUnavailableError("Request to payment provider timed out") from None
        except httpx.HTTPError as exc:
            raise TransferUnavailableError(
                f"Payment provider unreachable: {type(exc).__name__}"
            ) from None
        if response.status_code >= 500:
            raise TransferUnavailableError(
                f"Payment provider answered HTTP {response.status_code}",
                http_status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError:
            raise TransferUnavailableError("Payment provider answer is not JSON") from None
        if not isinstance(body, dict):
            raise TransferUnavailableError("Payment provider answer is not an envelope")
        if body.get("status") is not True:
            message = str(body.get("message") or f"HTTP {response.status_code}")
            not_found = response.status_code in (400, 404) and "verify" in path
            error = TransferNotFoundError if not_found else TransferRejectedError
            raise error(message, http_status=response.status_code)
        return body.get("data")

    async def resolve_account(self, account_number: str, bank_code: str) -> dict[str, Any]:
        params = {"account_number": account_number, "bank_code": bank_code}
        return dict(await self._call("GET", "/bank/resolve", params=params) or {})

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
        return dict(await self._call("POST", "/transferrecipient", json=payload) or {})

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
        return dict(await self._call("POST", "/transfer", json=payload) or {})

    async def verify_transfer(self, reference: str) -> dict[str, Any]:
        path = f"/transfer/verify/{quote(reference, safe='')}"
        return dict(await self._call("GET", path) or {})
