"""The transfer calls of Paystack's HTTP API, from the worker side (payouts.md §2.6).

The client is ``actors.contracts.paystack.PaystackClient``, the same one the edge uses (the edge
may import only ``actors.contracts`` from actors, and actors may not import the edge); this module
keeps the worker's names for it. Errors (each carries ``message`` and ``http_status``):

    TransferProviderError         the provider said no, or could not be reached
    ├── TransferRejectedError     an answer with ``status: false`` (or HTTP 4xx)
    │   └── TransferNotFoundError   verify of a reference the provider does not know
    └── TransferUnavailableError  timeout, network failure, HTTP 5xx, not JSON: outcome unknown
"""

from __future__ import annotations

from actors.contracts.paystack import (
    DEFAULT_BASE_URL,
    TIMEOUT_SECONDS,
    PaystackClient,
    PaystackSettings,
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ReferenceNotFoundError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "TIMEOUT_SECONDS",
    "GatewaySettings",
    "TransferGateway",
    "TransferNotFoundError",
    "TransferProviderError",
    "TransferRejectedError",
    "TransferUnavailableError",
]

TransferProviderError = ProviderError
TransferRejectedError = ProviderRejectedError
TransferNotFoundError = ReferenceNotFoundError
TransferUnavailableError = ProviderUnavailableError
GatewaySettings = PaystackSettings
#: Paystack's recipient and transfer endpoints (and the rest of the shared client).
TransferGateway = PaystackClient
