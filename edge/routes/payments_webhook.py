"""The payment provider's webhooks: /api/v1/donor/paystack-webhook and
/api/v1/payouts/webhook/paystack (donations.md §4.2, payouts.md §3.10).

Paystack delivers every event of an account to one URL, so both paths verify the signature and
feed one dispatcher that handles `charge.success` (the payment completion routine) and
`transfer.success|failed|reversed` (payout transitions); each path keeps its own legacy response
bodies (D-DON-2). Processing is idempotent, and a processing failure answers 500 so that the
provider delivers the event again (D-DON-1).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, text

from edge.envelope import respond
from edge.payments import SIGNATURE_HEADER, gateway_for, parse_metadata, setup_payments
from edge.services import donations, payouts

log = logging.getLogger("zerocancer.edge.webhooks")

bp = Blueprint("payments_webhook", url_prefix="")

CHARGE_SUCCESS = "charge.success"


def setup(app: Sanic[Any, Any]) -> None:
    setup_payments(app)


class InvalidEventError(Exception):
    """A `charge.success` without a reference or an amount."""


async def dispatch(event: str, data: dict[str, Any]) -> bool:
    """Processes one verified event; False when the event is not one we handle."""
    if event == CHARGE_SUCCESS:
        reference, amount = data.get("reference"), data.get("amount")
        if not reference or not amount or not isinstance(reference, str):
            raise InvalidEventError()
        try:
            amount_kobo = int(amount)
        except (TypeError, ValueError):
            raise InvalidEventError() from None
        outcome = await donations.complete_payment(
            donations.Payment(
                reference=reference,
                amount_kobo=amount_kobo,
                currency=data.get("currency"),
                metadata=parse_metadata(data.get("metadata")),
            )
        )
        log.info("charge.success %s: %s", reference, outcome)
        return True
    if event in payouts.TRANSFER_EVENTS:
        await payouts.apply_transfer_event(event, data)
        return True
    return False


def verified_event(request: Request) -> tuple[str, dict[str, Any]] | None:
    """The event of a correctly signed JSON body; None when the body is not JSON."""
    payload = json.loads(request.body or b"")
    if not isinstance(payload, dict):
        return None
    data = payload.get("data")
    return str(payload.get("event") or ""), data if isinstance(data, dict) else {}


def signed(request: Request) -> bool:
    gateway = gateway_for(request.app)
    return gateway.verify_signature(request.body or b"", request.headers.get(SIGNATURE_HEADER))


@bp.post("/donor/paystack-webhook", name="receive_paystack_webhook")
async def receive_paystack_webhook(request: Request) -> HTTPResponse:
    """Paystack events (charges and transfers); signed with the secret key."""
    if not signed(request):
        return respond({"error": "Invalid signature"}, status=401)
    try:
        parsed = verified_event(request)
    except ValueError:
        parsed = None
    if parsed is None:
        return respond({"error": "Webhook verification failed"}, status=401)
    event, data = parsed
    try:
        handled = await dispatch(event, data)
    except InvalidEventError:
        return respond({"error": "Invalid webhook data"}, status=400)
    except Exception:
        log.exception("webhook %s processing failed; the provider will retry", event)
        return respond({"error": "Webhook processing failed"}, status=500)
    if not handled:
        return respond({"message": "Event not handled", "event": event})
    return respond({"message": "Webhook processed successfully"})


@bp.post("/payouts/webhook/paystack", name="receive_transfer_webhook")
async def receive_transfer_webhook(request: Request) -> HTTPResponse:
    """Paystack events at the payouts URL (plain-text answers, as the reference)."""
    if not signed(request):
        return text("Invalid signature", status=403)
    try:
        parsed = verified_event(request)
    except ValueError:
        parsed = None
    if parsed is None:
        return text("OK")
    event, data = parsed
    try:
        await dispatch(event, data)
    except InvalidEventError:
        log.warning("charge.success without reference or amount ignored")
    except Exception:
        log.exception("webhook %s processing failed; the provider will retry", event)
        return text("Error processing webhook", status=500)
    return text("OK")
