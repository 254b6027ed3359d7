"""The payment provider as the edge sees it: the `PaymentGateway` interface, and one
`PaystackClient` per edge process.

Every provider call goes through `PaymentGateway` (donations.md §2, payouts.md §2.6). The real
implementation is `actors.contracts.paystack.PaystackClient` (shared with the payout worker),
re-exported here with its settings, results, errors and webhook-signature helpers. The routes turn
its errors into the contract's answers:

    ProviderError                 the provider answered status:false or could not be reached
    ├── ProviderRejectedError     HTTP 4xx or `status: false`: the provider said no
    │   └── ReferenceNotFoundError  verify of an unknown reference (HTTP 400/404, status:false)
    └── ProviderUnavailableError  timeout, network error, HTTP 5xx, or a body that is not JSON
"""

from __future__ import annotations

from typing import Any, Protocol

from actors.contracts.paystack import (
    DEFAULT_BASE_URL,
    SIGNATURE_HEADER,
    TIMEOUT_SECONDS,
    InitializedTransaction,
    PaystackClient,
    PaystackSettings,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ReferenceNotFoundError,
    VerifiedTransaction,
    parse_metadata,
    sign,
    signature_matches,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "SIGNATURE_HEADER",
    "TIMEOUT_SECONDS",
    "InitializedTransaction",
    "PaymentGateway",
    "PaystackClient",
    "PaystackSettings",
    "ProviderError",
    "ProviderRejectedError",
    "ProviderUnavailableError",
    "ReferenceNotFoundError",
    "VerifiedTransaction",
    "gateway_for",
    "parse_metadata",
    "setup_payments",
    "sign",
    "signature_matches",
]


class PaymentGateway(Protocol):
    """Every operation the edge needs from the payment provider."""

    async def initialize_transaction(
        self,
        *,
        email: str,
        amount_kobo: int,
        reference: str,
        callback_url: str,
        metadata: dict[str, Any],
    ) -> InitializedTransaction: ...

    async def verify_transaction(self, reference: str) -> VerifiedTransaction: ...

    async def list_banks(self) -> list[dict[str, Any]]: ...

    async def resolve_account(self, account_number: str, bank_code: str) -> dict[str, Any]: ...

    async def create_transfer_recipient(
        self, *, name: str, account_number: str, bank_code: str, currency: str = "NGN"
    ) -> dict[str, Any]: ...

    async def initiate_transfer(
        self, *, amount_kobo: int, recipient: str, reason: str, reference: str
    ) -> dict[str, Any]: ...

    async def verify_transfer(self, reference: str) -> dict[str, Any]: ...

    async def get_balance(self) -> list[dict[str, Any]]: ...

    def verify_signature(self, body: bytes, signature: str | None) -> bool: ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# One client per edge process


def gateway_for(app: Any) -> PaymentGateway:
    """The app's provider client, made on first use (kept on `app.ctx`, closed at stop)."""
    gateway: PaymentGateway | None = getattr(app.ctx, "payment_gateway", None)
    if gateway is None:
        gateway = PaystackClient()
        app.ctx.payment_gateway = gateway
    return gateway


def setup_payments(app: Any) -> None:
    """Registers the listener that closes the provider client (once per app)."""
    if getattr(app.ctx, "payments_set_up", False):
        return
    app.ctx.payments_set_up = True

    async def close_gateway(app: Any) -> None:
        gateway: PaymentGateway | None = getattr(app.ctx, "payment_gateway", None)
        if gateway is not None:
            await gateway.close()

    app.after_server_stop(close_gateway)
