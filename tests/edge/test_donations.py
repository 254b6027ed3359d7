"""/api/v1/donor: anonymous donations, campaigns, deletion with fund recycling, verify-payment,
the donor's receipts and impact (donations.md §4). The provider is the sandbox over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.enums import (
    AllocationStatus,
    AppointmentStatus,
    CampaignStatus,
    Gender,
    TransactionStatus,
    TransactionType,
)
from models.notifications import Notification
from models.transactions import Transaction
from tests.edge.factories_appointments import (
    assert_error,
    assert_issue,
    balance,
    make_appointment,
    make_campaign,
    make_match,
    notifications_of,
    pool,
)
from tests.edge.money_support import assert_money_conserved
from tests.factories import (
    bearer,
    make_admin,
    make_center,
    make_donor,
    make_patient,
    make_screening_type,
)
from tests.sandbox.conftest_paystack import paystack, paystack_sandbox  # noqa: F401
from tests.sandbox.paystack import PaystackSandbox

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/donor"


async def campaign_body(**overrides: Any) -> dict[str, Any]:
    screening = await make_screening_type()
    body: dict[str, Any] = {
        "title": "Screen Kano",
        "description": "Cervical screening for women in Kano",
        "fundingAmount": 25000,
        "targetStates": ["Kano"],
        "targetGender": "FEMALE",
        "targetAgeMin": 0,
        "targetAgeMax": 60,
        "screeningTypeIds": [screening.id],
    }
    body.update(overrides)
    return body


# -- anonymous donations -----------------------------------------------------------------------


async def test_an_anonymous_donation_commits_a_pending_pool_transaction_and_answers_the_page(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    response = await client.post(
        f"{BASE}/donations/anonymous",
        json={"amount": 1500.5, "wantsReceipt": True, "email": "ada@example.com", "message": "Hi"},
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    reference = data["reference"]
    assert data["transactionId"] == reference
    assert reference.startswith("donation-anon-")
    assert data["authorizationUrl"] == f"{paystack.url}/checkout/{data['accessCode']}"
    sent = paystack.transactions[reference]
    assert sent["amount"] == 150050
    assert sent["email"] == "ada@example.com"
    assert sent["metadata"] == {
        "wants_receipt": True,
        "actual_email": "ada@example.com",
        "message": "Hi",
        "payment_type": "anonymous_donation",
        "campaign_id": None,
    }
    assert sent["callback_url"] == (
        f"http://frontend.test/donation/payment-status?ref={reference}&type=anonymous"
    )
    row = await Transaction.get(payment_reference=reference)
    assert (row.type, row.status, row.amount) == (
        TransactionType.DONATION,
        TransactionStatus.PENDING,
        1500.5,
    )
    assert row.related_donation_id == GENERAL_DONOR_POOL_ID


async def test_without_a_receipt_the_provider_gets_the_default_address(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    response = await client.post(f"{BASE}/donations/anonymous", json={"amount": 100})

    reference = response.json()["data"]["reference"]
    assert paystack.transactions[reference]["email"] == "receipt@zerocancer.africa"
    assert paystack.transactions[reference]["metadata"]["actual_email"] is None


#: (body, field with an issue, its message or None for zod's own text)
INVALID_DONATIONS: list[tuple[dict[str, Any], str, str | None]] = [
    ({"amount": 99}, "amount", "Minimum donation is ₦100"),
    ({}, "amount", None),
    ({"amount": "500"}, "amount", None),
    ({"amount": 100.123}, "amount", "Amount must have at most 2 decimal places"),
    ({"amount": 500, "wantsReceipt": True}, "email", "Email is required when requesting receipt"),
    ({"amount": 500, "email": "not-an-email"}, "email", None),
]


async def test_invalid_anonymous_donations_answer_the_validation_envelope(
    client: httpx.AsyncClient,
) -> None:
    for body, field, message in INVALID_DONATIONS:
        response = await client.post(f"{BASE}/donations/anonymous", json=body)

        assert_issue(response, field, message)
    assert await Transaction.all().count() == 0


async def test_a_malformed_body_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{BASE}/donations/anonymous",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["ok"] is False


async def test_a_provider_refusal_answers_502_and_marks_the_transaction_failed(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    paystack.reject_initialize = True

    response = await client.post(f"{BASE}/donations/anonymous", json={"amount": 500})

    assert_error(response, 502, "Failed to initialize payment")
    assert [t.status for t in await Transaction.all()] == [TransactionStatus.FAILED]


# -- campaign creation -------------------------------------------------------------------------


async def test_creating_a_campaign_commits_it_pending_with_its_payment(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    donor = await make_donor(organization="Kano Cares")
    body = await campaign_body()

    response = await client.post(f"{BASE}/campaigns", json=body, headers=bearer(donor))

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    campaign = data["campaign"]
    assert campaign["status"] == "PENDING"
    assert (campaign["fundingAmount"], campaign["usedAmount"]) == (0, 0)
    assert campaign["targetAgeMin"] == 0
    assert campaign["targetAgeMax"] == 60
    assert campaign["targetGender"] == "FEMALE"
    assert campaign["donor"]["organizationName"] == "Kano Cares"
    assert campaign["screeningTypes"][0]["id"] == body["screeningTypeIds"][0]
    assert campaign["patientAllocations"]["allocationsCount"] == 0
    reference = data["payment"]["reference"]
    assert reference.startswith(f"campaign-create-{donor.id}-")
    sent = paystack.transactions[reference]
    assert sent["amount"] == 2_500_000
    assert sent["email"] == donor.email
    assert sent["metadata"]["campaign_id"] == campaign["id"]
    assert sent["metadata"]["payment_type"] == "campaign_creation"
    stored = await DonationCampaign.get(id=campaign["id"])
    assert stored.target_age_range == "0-60"
    assert stored.target_gender == Gender.FEMALE
    row = await Transaction.get(payment_reference=reference)
    assert row.related_donation_id == campaign["id"]
    assert row.status == TransactionStatus.PENDING


async def test_campaign_routes_need_a_donor_token(client: httpx.AsyncClient) -> None:
    patient = await make_patient()

    assert (await client.get(f"{BASE}/campaigns")).status_code == 401
    forbidden = await client.get(f"{BASE}/campaigns", headers=bearer(patient))
    assert forbidden.status_code == 403
    assert forbidden.json()["message"] == "Forbidden: actor mismatch"


async def test_campaign_creation_refuses_incomplete_or_unknown_data(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    donor = await make_donor()
    headers = bearer(donor)

    short = await client.post(
        f"{BASE}/campaigns", json=await campaign_body(description="short"), headers=headers
    )
    assert_issue(short, "description", "Description must be at least 10 characters")
    small = await client.post(
        f"{BASE}/campaigns", json=await campaign_body(fundingAmount=999), headers=headers
    )
    assert_issue(small, "fundingAmount", "Minimum campaign amount is ₦1,000")
    ages = await client.post(
        f"{BASE}/campaigns",
        json=await campaign_body(targetAgeMin=50, targetAgeMax=0),
        headers=headers,
    )
    assert ages.status_code == 400
    assert ages.json()["error"]["issues"][0]["message"] == "Invalid campaign parameters"
    missing = await client.post(
        f"{BASE}/campaigns", json=await campaign_body(screeningTypeIds=[]), headers=headers
    )
    assert_error(missing, 400, "Missing required campaign data")
    unknown = await client.post(
        f"{BASE}/campaigns",
        json=await campaign_body(screeningTypeIds=[str(uuid.uuid4())]),
        headers=headers,
    )
    assert_error(unknown, 400, "Some screening types not found")
    assert await DonationCampaign.filter(donor_id=donor.id).count() == 0


async def test_a_duplicated_screening_type_id_is_accepted_once(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    donor = await make_donor()
    body = await campaign_body()
    body["screeningTypeIds"] = body["screeningTypeIds"] * 2

    response = await client.post(f"{BASE}/campaigns", json=body, headers=bearer(donor))

    assert response.status_code == 200, response.text
    assert len(response.json()["data"]["campaign"]["screeningTypes"]) == 1


# -- reading campaigns -------------------------------------------------------------------------


async def test_the_list_shows_only_the_callers_campaigns_with_filters(
    client: httpx.AsyncClient,
) -> None:
    donor, other = await make_donor(), await make_donor()
    await make_campaign(donor=donor, title="Lagos breast screening", purpose="Ten words here ok")
    await make_campaign(
        donor=donor, title="Kano", purpose="cervical", status=CampaignStatus.DELETED
    )
    await make_campaign(donor=other, title="Lagos other")

    everything = await client.get(f"{BASE}/campaigns", headers=bearer(donor))
    by_title = await client.get(
        f"{BASE}/campaigns", params={"search": "lagos"}, headers=bearer(donor)
    )
    by_status = await client.get(
        f"{BASE}/campaigns", params={"status": "DELETED", "pageSize": 1}, headers=bearer(donor)
    )
    bad = await client.get(f"{BASE}/campaigns", params={"pageSize": 101}, headers=bearer(donor))

    assert everything.json()["data"]["total"] == 2
    assert [c["title"] for c in by_title.json()["data"]["campaigns"]] == ["Lagos breast screening"]
    page = by_status.json()["data"]
    assert (page["total"], page["pageSize"], page["totalPages"]) == (1, 1, 1)
    assert page["campaigns"][0]["status"] == "DELETED"
    assert_issue(bad, "pageSize")


async def test_another_donors_campaign_is_not_found(client: httpx.AsyncClient) -> None:
    campaign = await make_campaign()
    stranger = await make_donor()

    response = await client.get(f"{BASE}/campaigns/{campaign.id}", headers=bearer(stranger))

    assert_error(response, 404, "Campaign not found")


async def test_the_campaign_object_counts_allocations_by_state(client: httpx.AsyncClient) -> None:
    donor = await make_donor()
    campaign = await make_campaign(donor=donor, total=40000)
    screening = await make_screening_type()
    center = await make_center(services=[screening])
    await make_match(await make_patient(), screening, campaign)
    for status in (AppointmentStatus.SCHEDULED, AppointmentStatus.COMPLETED):
        patient = await make_patient()
        _, allocation = await make_match(
            patient, screening, campaign, status=AllocationStatus.CLAIMED
        )
        appointment = await make_appointment(patient, center, screening, status=status)
        allocation.appointment_id = appointment.id
        await allocation.save()

    response = await client.get(f"{BASE}/campaigns/{campaign.id}", headers=bearer(donor))

    data = response.json()["data"]
    assert data["usedAmount"] == 30000
    assert data["patientAllocations"] == {
        "patientsHelped": 1,
        "patientPendingAcceptance": 1,
        "patientAppointmentInProgress": 0,
        "patientAppointmentScheduled": 1,
        "allocationsCount": 3,
    }


# -- funding and updates -----------------------------------------------------------------------


async def test_funding_starts_a_pending_payment_for_an_active_campaign(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    donor = await make_donor()
    campaign = await make_campaign(donor=donor)

    response = await client.post(
        f"{BASE}/campaigns/{campaign.id}/fund",
        json={"campaignId": campaign.id, "amount": 5000},
        headers=bearer(donor),
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["campaignId"] == campaign.id
    assert data["reference"].startswith(f"campaign-fund-{campaign.id}-")
    assert paystack.transactions[data["reference"]]["metadata"]["funding_amount"] == 5000
    assert await balance(campaign.id) == (50000, 50000)


async def test_funding_refuses_a_mismatched_or_inactive_campaign(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    donor = await make_donor()
    pending = await make_campaign(donor=donor, status=CampaignStatus.PENDING)
    other = await make_campaign()

    mismatch = await client.post(
        f"{BASE}/campaigns/{pending.id}/fund",
        json={"campaignId": other.id, "amount": 500},
        headers=bearer(donor),
    )
    inactive = await client.post(
        f"{BASE}/campaigns/{pending.id}/fund",
        json={"campaignId": pending.id, "amount": 500},
        headers=bearer(donor),
    )
    not_mine = await client.post(
        f"{BASE}/campaigns/{other.id}/fund",
        json={"campaignId": other.id, "amount": 500},
        headers=bearer(donor),
    )

    assert_error(mismatch, 400, "campaignId does not match the campaign in the path")
    assert_error(inactive, 404, "Campaign not found or not active")
    assert_error(not_mine, 404, "Campaign not found or not active")
    assert not paystack.transactions


async def test_updating_maps_every_field_to_its_column(client: httpx.AsyncClient) -> None:
    donor = await make_donor()
    campaign = await make_campaign(donor=donor)
    campaign.target_age_range = "18-65"
    await campaign.save()
    screening = await make_screening_type()

    response = await client.patch(
        f"{BASE}/campaigns/{campaign.id}",
        json={
            "campaignId": campaign.id,
            "title": "New title",
            "description": "A longer new description",
            "targetGender": "MALE",
            "targetStates": ["Oyo"],
            "targetLgas": ["Ibadan North"],
            "targetAgeMax": 40,
            "screeningTypeIds": [screening.id],
        },
        headers=bearer(donor),
    )

    assert response.status_code == 200, response.text
    shown = response.json()["data"]["campaign"]
    assert (shown["title"], shown["description"]) == ("New title", "A longer new description")
    stored = await DonationCampaign.get(id=campaign.id)
    assert stored.target_gender == Gender.MALE
    assert stored.target_states == ["Oyo"]
    assert stored.target_lgas == ["Ibadan North"]
    assert stored.target_age_range == "18-40"
    assert [t.id for t in await stored.screening_types.all()] == [screening.id]


async def test_an_update_that_inverts_the_merged_age_range_is_refused(
    client: httpx.AsyncClient,
) -> None:
    donor = await make_donor()
    campaign = await make_campaign(donor=donor)
    campaign.target_age_range = "30-65"
    await campaign.save()

    response = await client.patch(
        f"{BASE}/campaigns/{campaign.id}",
        json={"campaignId": campaign.id, "targetAgeMax": 20},
        headers=bearer(donor),
    )

    assert_error(response, 400, "Invalid age range")
    assert (await DonationCampaign.get(id=campaign.id)).target_age_range == "30-65"


# -- deletion ----------------------------------------------------------------------------------


async def test_deleting_moves_unallocated_money_and_live_allocations_to_the_pool(
    client: httpx.AsyncClient,
) -> None:
    # Given a campaign of 50 000 with a matched (live), a scheduled (live) and a completed
    # (history) allocation of 10 000 each: A = 20 000, R = 20 000.
    donor = await make_donor()
    campaign = await make_campaign(donor=donor, total=50000)
    await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.COMPLETED,
        amount=50000,
        related_donation_id=campaign.id,
        payment_reference=f"campaign-create-{uuid.uuid4()}",
    )
    screening = await make_screening_type()
    center = await make_center(services=[screening])
    matched_patient = await make_patient()
    await make_match(matched_patient, screening, campaign)
    moved: list[str] = [matched_patient.id]
    kept_allocation = None
    for status in (AppointmentStatus.SCHEDULED, AppointmentStatus.COMPLETED):
        patient = await make_patient()
        _, allocation = await make_match(
            patient, screening, campaign, status=AllocationStatus.CLAIMED
        )
        appointment = await make_appointment(patient, center, screening, status=status)
        allocation.appointment_id = appointment.id
        await allocation.save()
        if status == AppointmentStatus.SCHEDULED:
            moved.append(patient.id)
        else:
            kept_allocation = allocation
    await assert_money_conserved()

    # When the donor deletes it
    response = await client.request(
        "DELETE",
        f"{BASE}/campaigns/{campaign.id}",
        json={"campaignId": campaign.id, "action": "recycle_to_general", "reason": "Done"},
        headers=bearer(donor),
    )

    # Then 40 000 moves, the completed allocation stays as history, and nothing is created
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["amountProcessed"] == 40000
    assert data["message"] == (
        "Campaign deleted successfully. ₦40000.00 transferred to general donation pool."
    )
    stored = await DonationCampaign.get(id=campaign.id)
    assert (stored.status, stored.total_amount, stored.available_amount) == (
        CampaignStatus.DELETED,
        0,
        0,
    )
    assert await balance(GENERAL_DONOR_POOL_ID) == (20000, 40000)
    assert kept_allocation is not None
    assert (await type(kept_allocation).get(id=kept_allocation.id)).campaign_id == campaign.id
    refund = await Transaction.get(type=TransactionType.REFUND)
    assert (refund.amount, refund.status, refund.payment_channel) == (
        40000,
        TransactionStatus.COMPLETED,
        "INTERNAL_TRANSFER",
    )
    assert refund.payment_reference
    assert refund.payment_reference.startswith(f"campaign-deletion-{campaign.id}-")
    donor_note = (await notifications_of(donor.id))[0]
    assert donor_note.type == "CAMPAIGN_DELETED"
    assert "₦40000.00" in donor_note.message
    for patient_id in moved:
        notes = await notifications_of(patient_id)
        assert [n.type for n in notes] == ["CAMPAIGN_DELETED_ALLOCATION_MOVED"]
    await assert_money_conserved()


async def test_deleting_an_empty_campaign_transfers_nothing(client: httpx.AsyncClient) -> None:
    donor = await make_donor()
    campaign = await make_campaign(donor=donor, total=0)

    response = await client.request(
        "DELETE",
        f"{BASE}/campaigns/{campaign.id}",
        json={"campaignId": campaign.id, "action": "recycle_to_general"},
        headers=bearer(donor),
    )

    assert response.json()["data"] == {
        "campaignId": campaign.id,
        "action": "recycle_to_general",
        "amountProcessed": 0,
        "message": "Campaign deleted successfully. No funds to transfer.",
    }
    assert await Transaction.filter(type=TransactionType.REFUND).count() == 0
    assert await Notification.all().count() == 0


async def test_deletion_refuses_unsupported_actions_missing_bodies_and_others_campaigns(
    client: httpx.AsyncClient,
) -> None:
    donor = await make_donor()
    campaign = await make_campaign(donor=donor)
    url = f"{BASE}/campaigns/{campaign.id}"

    unsupported = await client.request(
        "DELETE",
        url,
        json={"campaignId": campaign.id, "action": "request_refund"},
        headers=bearer(donor),
    )
    no_target = await client.request(
        "DELETE",
        url,
        json={"campaignId": campaign.id, "action": "transfer_to_campaign"},
        headers=bearer(donor),
    )
    no_body = await client.request("DELETE", url, headers=bearer(donor))
    stranger = await client.request(
        "DELETE",
        url,
        json={"campaignId": campaign.id, "action": "recycle_to_general"},
        headers=bearer(await make_donor()),
    )
    pool_row = await client.request(
        "DELETE",
        f"{BASE}/campaigns/{GENERAL_DONOR_POOL_ID}",
        json={"campaignId": str(uuid.uuid4()), "action": "recycle_to_general"},
        headers=bearer(donor),
    )

    assert_error(unsupported, 400, "Only recycle_to_general is supported")
    assert_issue(no_target, "targetCampaignId", "Target campaign ID required for transfer action")
    assert_issue(no_body, "campaignId")
    assert_error(stranger, 404, "Campaign not found or not active")
    assert pool_row.status_code == 400
    assert (await DonationCampaign.get(id=campaign.id)).status == CampaignStatus.ACTIVE
    assert (await pool()).status == CampaignStatus.ACTIVE


# -- verify-payment ----------------------------------------------------------------------------


async def start_anonymous(client: httpx.AsyncClient, amount: float = 2000) -> str:
    response = await client.post(
        f"{BASE}/donations/anonymous",
        json={"amount": amount, "wantsReceipt": True, "email": "giver@example.com"},
    )
    reference: str = response.json()["data"]["reference"]
    return reference


async def test_verify_payment_completes_a_payment_whose_webhook_was_missed(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    reference = await start_anonymous(client)
    paystack.set_outcome(reference, "success")

    first = await client.get(f"{BASE}/verify-payment/{reference}")
    again = await client.get(f"{BASE}/verify-payment/{reference}")

    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert (data["reference"], data["amount"], data["status"]) == (reference, 2000, "success")
    assert data["paymentType"] == "anonymous_donation"
    assert data["currency"] == "NGN"
    assert data["channel"] == "card"
    assert data["context"] == {
        "type": "anonymous_donation",
        "wantsReceipt": True,
        "message": None,
        "campaignId": None,
        "campaign": None,
    }
    assert again.status_code == 200
    assert (await Transaction.get(payment_reference=reference)).status == (
        TransactionStatus.COMPLETED
    )
    assert await balance(GENERAL_DONOR_POOL_ID) == (2000, 2000)
    await assert_money_conserved()


async def test_verify_payment_marks_a_failed_payment_failed(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    reference = await start_anonymous(client)
    paystack.set_outcome(reference, "failed")

    response = await client.get(f"{BASE}/verify-payment/{reference}")

    assert response.json()["data"]["status"] == "failed"
    assert (await Transaction.get(payment_reference=reference)).status == TransactionStatus.FAILED
    assert await balance(GENERAL_DONOR_POOL_ID) == (0, 0)


async def test_verify_payment_shows_the_campaign_only_to_its_donor_or_an_admin(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    donor = await make_donor()
    created = await client.post(
        f"{BASE}/campaigns", json=await campaign_body(), headers=bearer(donor)
    )
    reference = created.json()["data"]["payment"]["reference"]
    campaign_id = created.json()["data"]["campaign"]["id"]

    anonymous = await client.get(f"{BASE}/verify-payment/{reference}")
    owner = await client.get(f"{BASE}/verify-payment/{reference}", headers=bearer(donor))
    admin = await client.get(
        f"{BASE}/verify-payment/{reference}", headers=bearer(await make_admin())
    )
    stranger = await client.get(
        f"{BASE}/verify-payment/{reference}", headers=bearer(await make_donor())
    )
    broken = await client.get(
        f"{BASE}/verify-payment/{reference}", headers={"Authorization": "Bearer nope"}
    )

    context = anonymous.json()["data"]["context"]
    assert context["type"] == "campaign_creation"
    assert context["campaignId"] == campaign_id
    assert context["initialFunding"] == 25000
    assert context["campaign"] is None
    assert owner.json()["data"]["context"]["campaign"]["id"] == campaign_id
    assert admin.json()["data"]["context"]["campaign"]["id"] == campaign_id
    assert stranger.json()["data"]["context"]["campaign"] is None
    assert broken.status_code == 401


async def test_verify_payment_answers_404_502_and_400_as_specified(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    unknown = await client.get(f"{BASE}/verify-payment/donation-anon-0-ffff")
    invalid = await client.get(f"{BASE}/verify-payment/bad%20ref")
    paystack.fail_with_status["/transaction/verify/"] = 503
    outage = await client.get(f"{BASE}/verify-payment/donation-anon-0-ffff")

    assert_error(unknown, 404, "Payment not found")
    assert_error(invalid, 400, "Invalid payment reference")
    assert_error(outage, 502, "Failed to verify payment with Paystack")


# -- the donor's receipts and impact ------------------------------------------------------------


async def test_donor_receipts_list_the_completed_campaign_payments(
    client: httpx.AsyncClient,
) -> None:
    donor = await make_donor()
    campaign = await make_campaign(donor=donor)
    for status in (TransactionStatus.COMPLETED, TransactionStatus.PENDING):
        await Transaction.create(
            type=TransactionType.DONATION,
            status=status,
            amount=7000,
            related_donation_id=campaign.id,
            payment_reference=f"campaign-fund-{uuid.uuid4()}",
        )
    await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.COMPLETED,
        amount=100,
        related_donation_id=GENERAL_DONOR_POOL_ID,
        payment_reference="donation-anon-x",
    )

    response = await client.get(f"{BASE}/receipts", headers=bearer(donor))
    invalid = await client.get(f"{BASE}/receipts", params={"size": 0}, headers=bearer(donor))

    data = response.json()["data"]
    assert (data["total"], data["page"], data["pageSize"]) == (1, 1, 20)
    item = data["receipts"][0]
    assert item["amount"] == 7000
    assert item["campaign"] == {"id": campaign.id, "title": campaign.title}
    assert item["receipt"] is None
    assert_issue(invalid, "size")


async def test_impact_aggregates_the_callers_campaigns(client: httpx.AsyncClient) -> None:
    donor = await make_donor()
    campaign = await make_campaign(donor=donor, total=30000)
    await make_campaign(donor=donor, status=CampaignStatus.PENDING, total=0)
    screening = await make_screening_type(name="Pap smear")
    await campaign.screening_types.add(screening)
    await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.COMPLETED,
        amount=30000,
        related_donation_id=campaign.id,
        payment_reference=f"campaign-create-{uuid.uuid4()}",
    )
    center = await make_center(services=[screening])
    patient = await make_patient()
    _, allocation = await make_match(patient, screening, campaign, status=AllocationStatus.CLAIMED)
    appointment = await make_appointment(
        patient, center, screening, status=AppointmentStatus.COMPLETED
    )
    allocation.appointment_id = appointment.id
    await allocation.save()

    response = await client.get(f"{BASE}/impact", headers=bearer(donor))

    assert response.json()["data"] == {
        "totalDonated": 30000,
        "campaignsCount": 1,
        "activeCampaigns": 1,
        "availableAmount": 20000,
        "patientsMatched": 1,
        "patientsHelped": 1,
        "appointmentsInProgress": 0,
        "appointmentsScheduled": 0,
        "screeningTypes": [{"id": screening.id, "name": "Pap smear", "patientsHelped": 1}],
    }
