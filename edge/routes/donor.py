"""Donor routes: /api/v1/donor (anonymous donations, campaigns and their payments, payment
verification, the donor's receipts and impact; donations.md §4). The provider webhook is in
`edge.routes.payments_webhook`.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse

from edge.auth.guards import Principal, optional_principal, requires_role
from edge.deps import principal_of, settings_of
from edge.envelope import ok
from edge.errors import ApiError, ValidationFailed
from edge.payments import (
    InitializedTransaction,
    ProviderError,
    ReferenceNotFoundError,
    gateway_for,
    setup_payments,
)
from edge.schemas.donor import (
    AnonymousDonationBody,
    CampaignsQuery,
    CreateCampaignBody,
    DeleteCampaignBody,
    DonorReceiptsQuery,
    FundCampaignBody,
    UpdateCampaignBody,
    check_ages,
    check_money,
)
from edge.services import campaigns, donations
from edge.services.campaigns import PendingPayment
from edge.validation import parse_body, parse_query
from models.appointments import Appointment
from models.campaigns import DonationCampaign
from models.enums import TransactionStatus
from models.transactions import Transaction

log = logging.getLogger("zerocancer.edge.donor")

bp = Blueprint("donor", url_prefix="/donor")

#: Payment references accepted by verify-payment (D-DON-7).
REFERENCE = re.compile(r"^[A-Za-z0-9.=_-]{1,100}$")
MISMATCH = "campaignId does not match the campaign in the path"


def setup(app: Sanic[Any, Any]) -> None:
    setup_payments(app)


def anonymous_receipt_email() -> str:
    return os.environ.get("ANONYMOUS_DONOR_EMAIL", "").strip() or donations.DEFAULT_ANONYMOUS_EMAIL


async def initialize(
    request: Request,
    pending: PendingPayment,
    *,
    callback_url: str,
    metadata: dict[str, Any],
    failure: str,
) -> InitializedTransaction:
    """Provider initialisation of a committed PENDING payment; a failure marks it FAILED and
    answers 502 with the endpoint's text (D-DON-11, D-DON-16)."""
    try:
        return await gateway_for(request.app).initialize_transaction(
            email=pending.email,
            amount_kobo=round(pending.amount * 100),
            reference=pending.reference,
            callback_url=callback_url,
            metadata=metadata,
        )
    except ProviderError as exc:
        log.warning("payment initialisation failed for %s: %s", pending.reference, exc)
        await campaigns.fail_pending_payment(pending.transaction_id)
        raise ApiError(failure, status=502) from None


def payment_object(pending: PendingPayment, started: InitializedTransaction) -> dict[str, str]:
    return {
        "transactionId": pending.reference,
        "reference": pending.reference,
        "authorizationUrl": started.authorization_url,
        "accessCode": started.access_code,
    }


@bp.post("/donations/anonymous", name="donate_anonymously")
async def donate_anonymously(request: Request) -> HTTPResponse:
    """Give to the general donor pool without an account; answers the payment page."""
    body = parse_body(request, AnonymousDonationBody)
    check_money(body.amount, "amount")
    if body.wants_receipt and not body.email:
        raise ValidationFailed.issue(["email"], "Email is required when requesting receipt")
    email = body.email if body.wants_receipt and body.email else anonymous_receipt_email()
    pending = await donations.create_pending_anonymous(amount=body.amount, email=email)
    frontend = settings_of(request).frontend_url
    started = await initialize(
        request,
        pending,
        callback_url=f"{frontend}/donation/payment-status?ref={pending.reference}&type=anonymous",
        metadata={
            "wants_receipt": body.wants_receipt,
            "actual_email": body.email or None,
            "message": body.message or None,
            "payment_type": "anonymous_donation",
            "campaign_id": None,
        },
        failure="Failed to initialize payment",
    )
    return ok(payment_object(pending, started))


# ---------------------------------------------------------------------------------------------
# Campaigns


@bp.post("/campaigns", name="create_campaign")
@requires_role("donor")
async def create_campaign(request: Request) -> HTTPResponse:
    """Create a campaign (PENDING until its first payment completes) and start that payment."""
    body = parse_body(request, CreateCampaignBody)
    check_money(body.funding_amount, "fundingAmount")
    check_ages(body.target_age_min, body.target_age_max, "Invalid campaign parameters")
    if not body.funding_amount or not body.screening_type_ids:
        raise ApiError("Missing required campaign data")
    donor_id = principal_of(request).id
    pending = await campaigns.create_pending_campaign(
        donor_id=donor_id,
        title=body.title,
        description=body.description,
        funding_amount=body.funding_amount,
        screening_type_ids=body.screening_type_ids,
        target_gender=body.target_gender,
        target_age_min=body.target_age_min,
        target_age_max=body.target_age_max,
        target_states=body.target_states,
        target_lgas=body.target_lgas,
    )
    frontend = settings_of(request).frontend_url
    started = await initialize(
        request,
        pending,
        callback_url=(
            f"{frontend}/donor/campaigns/payment-status?ref={pending.reference}"
            f"&type=create&campaignId={pending.campaign_id}"
        ),
        metadata={
            "donor_id": donor_id,
            "campaign_id": pending.campaign_id,
            "funding_amount": body.funding_amount,
            "payment_type": "campaign_creation",
        },
        failure="Failed to create campaign",
    )
    campaign = await DonationCampaign.get(id=pending.campaign_id)
    return ok(
        {
            "campaign": await campaigns.campaign_object_of(campaign),
            "payment": payment_object(pending, started),
        }
    )


@bp.get("/campaigns", name="list_campaigns")
@requires_role("donor")
async def list_campaigns(request: Request) -> HTTPResponse:
    """The caller's campaigns, newest first (filters: status, search in title or description)."""
    query = parse_query(request, CampaignsQuery)
    return ok(
        await campaigns.list_campaigns(
            donor_id=principal_of(request).id,
            page=query.page,
            page_size=query.page_size,
            status=query.status,
            search=query.search,
        )
    )


@bp.get("/campaigns/<campaign_id:str>", name="get_campaign")
@requires_role("donor")
async def get_campaign(request: Request, campaign_id: str) -> HTTPResponse:
    """One of the caller's campaigns."""
    return ok(
        await campaigns.get_campaign(donor_id=principal_of(request).id, campaign_id=campaign_id)
    )


@bp.post("/campaigns/<campaign_id:str>/fund", name="fund_campaign")
@requires_role("donor")
async def fund_campaign(request: Request, campaign_id: str) -> HTTPResponse:
    """Add money to an ACTIVE or COMPLETED campaign of the caller; answers the payment page."""
    body = parse_body(request, FundCampaignBody)
    check_money(body.amount, "amount")
    if body.campaign_id != campaign_id:
        raise ApiError(MISMATCH)
    donor_id = principal_of(request).id
    pending = await campaigns.create_pending_funding(
        donor_id=donor_id, campaign_id=campaign_id, amount=body.amount
    )
    frontend = settings_of(request).frontend_url
    started = await initialize(
        request,
        pending,
        callback_url=(
            f"{frontend}/donor/campaigns/{campaign_id}/payment-status?ref={pending.reference}"
            "&type=fund"
        ),
        metadata={
            "donor_id": donor_id,
            "campaign_id": campaign_id,
            "funding_amount": body.amount,
            "payment_type": "campaign_funding",
        },
        failure="Failed to initialize campaign funding",
    )
    return ok({"campaignId": campaign_id, **payment_object(pending, started)})


@bp.patch("/campaigns/<campaign_id:str>", name="update_campaign")
@requires_role("donor")
async def update_campaign(request: Request, campaign_id: str) -> HTTPResponse:
    """Change an ACTIVE campaign's text, targeting or screening types (future matching only)."""
    body = parse_body(request, UpdateCampaignBody)
    check_ages(body.target_age_min, body.target_age_max, "Invalid age range")
    if body.campaign_id != campaign_id:
        raise ApiError(MISMATCH)
    changes = body.model_dump(exclude={"campaign_id"}, exclude_unset=True)
    campaign = await campaigns.update_campaign(
        donor_id=principal_of(request).id, campaign_id=campaign_id, changes=changes
    )
    return ok({"campaign": campaign})


@bp.delete("/campaigns/<campaign_id:str>", name="delete_campaign")
@requires_role("donor")
async def delete_campaign(request: Request, campaign_id: str) -> HTTPResponse:
    """Delete an ACTIVE campaign; its money and live allocations go to the general pool."""
    body = parse_body(request, DeleteCampaignBody)
    if body.action == "transfer_to_campaign" and not body.target_campaign_id:
        raise ValidationFailed.issue(
            ["targetCampaignId"], "Target campaign ID required for transfer action"
        )
    if body.campaign_id != campaign_id:
        raise ApiError(MISMATCH)
    if body.action != "recycle_to_general":
        raise ApiError("Only recycle_to_general is supported")
    return ok(
        await campaigns.delete_campaign(donor_id=principal_of(request).id, campaign_id=campaign_id)
    )


# ---------------------------------------------------------------------------------------------
# Payment verification (§4.9)


def may_see_campaign(principal: Principal | None, campaign: DonationCampaign) -> bool:
    if principal is None:
        return False
    return principal.kind == "admin" or (
        principal.kind == "donor" and principal.id == campaign.donor_id
    )


async def campaign_context(
    principal: Principal | None, transaction: Transaction | None
) -> dict[str, Any] | None:
    if transaction is None or not transaction.related_donation_id:
        return None
    campaign = await DonationCampaign.filter(id=transaction.related_donation_id).first()
    if campaign is None or not may_see_campaign(principal, campaign):
        return None
    return await campaigns.campaign_object_of(campaign)


async def appointment_context(
    principal: Principal | None, transaction: Transaction | None, appointment_id: Any
) -> dict[str, Any] | None:
    if principal is None or transaction is None or not isinstance(appointment_id, str):
        return None
    appointment = (
        await Appointment.filter(id=appointment_id, transaction_id=transaction.id)
        .select_related("patient", "center", "screening_type")
        .first()
    )
    if appointment is None:
        return None
    if principal.kind != "admin" and not (
        principal.kind == "patient" and principal.id == appointment.patient_id
    ):
        return None
    return {
        "id": appointment.id,
        "patientId": appointment.patient_id,
        "patientName": appointment.patient.full_name,
        "status": appointment.status,
        "centerId": appointment.center_id,
        "centerName": appointment.center.center_name,
        "appointmentDateTime": appointment.appointment_date_time,
        "screeningTypeId": appointment.screening_type_id,
        "screeningTypeName": appointment.screening_type.name,
    }


@bp.get("/verify-payment/<reference:str>", name="verify_payment")
async def verify_payment(request: Request, reference: str) -> HTTPResponse:
    """A payment's state at the provider; completes it here if the webhook was missed."""
    if not REFERENCE.match(reference):
        raise ApiError("Invalid payment reference")
    principal = optional_principal(request)
    try:
        verified = await gateway_for(request.app).verify_transaction(reference)
    except ReferenceNotFoundError:
        raise ApiError("Payment not found", status=404) from None
    except ProviderError as exc:
        log.warning("verify-payment %s failed at the provider: %s", reference, exc)
        raise ApiError("Failed to verify payment with Paystack", status=502) from None
    transaction = await Transaction.filter(payment_reference=reference).first()
    if transaction is not None:
        if verified.status == "success" and transaction.status != TransactionStatus.COMPLETED:
            await donations.complete_payment(
                donations.Payment(
                    reference=reference,
                    amount_kobo=verified.amount_kobo,
                    currency=verified.currency,
                    metadata=verified.metadata,
                )
            )
        elif verified.status == "failed" and transaction.status == TransactionStatus.PENDING:
            await donations.fail_if_pending(reference)
    metadata = verified.metadata or {}
    data: dict[str, Any] = {
        "reference": verified.reference,
        "amount": verified.amount_kobo / 100,
        "status": verified.status,
    }
    payment_type = metadata.get("payment_type")
    if payment_type is not None:
        data["paymentType"] = payment_type
    data.update(
        paidAt=verified.paid_at,
        channel=verified.channel,
        currency=verified.currency,
        transactionDate=verified.transaction_date,
    )
    context: dict[str, Any] | None = None
    if payment_type == "anonymous_donation":
        context = {
            "type": "anonymous_donation",
            "wantsReceipt": bool(metadata.get("wants_receipt") or False),
            "message": metadata.get("message"),
            "campaignId": None,
            "campaign": None,
        }
    elif payment_type in ("campaign_creation", "campaign_funding") and metadata.get("campaign_id"):
        context = {
            "type": payment_type,
            "campaignId": metadata["campaign_id"],
            "campaign": await campaign_context(principal, transaction),
        }
        key = "initialFunding" if payment_type == "campaign_creation" else "fundingAmount"
        context[key] = metadata.get("funding_amount")
    elif payment_type == "appointment_booking" and metadata.get("appointmentId"):
        context = {
            "type": "appointment_booking",
            "appointmentId": metadata["appointmentId"],
            "appointment": await appointment_context(
                principal, transaction, metadata["appointmentId"]
            ),
        }
    if context is not None:
        data["context"] = context
    return ok(data)


# ---------------------------------------------------------------------------------------------
# The donor's receipts and impact (§4.10, §4.11)


@bp.get("/receipts", name="list_donor_receipts")
@requires_role("donor")
async def list_donor_receipts(request: Request) -> HTTPResponse:
    """The caller's completed campaign payments with their receipt numbers, newest first."""
    query = parse_query(request, DonorReceiptsQuery)
    return ok(
        await donations.donor_receipts(
            donor_id=principal_of(request).id, page=query.page, size=query.size
        )
    )


@bp.get("/impact", name="get_donation_impact")
@requires_role("donor")
async def get_donation_impact(request: Request) -> HTTPResponse:
    """What the caller's campaigns achieved: money, patients matched and helped, by type."""
    return ok(await donations.donor_impact(donor_id=principal_of(request).id))
