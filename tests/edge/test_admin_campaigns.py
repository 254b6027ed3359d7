"""/api/v1/admin/campaigns (admin.md §5): listing with compatibility keys, status changes, and
an admin deletion that recycles the money like the donor's (D-ADM-3)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.enums import CampaignStatus, TransactionStatus, TransactionType
from models.transactions import Transaction
from tests.edge.factories_appointments import (
    assert_error,
    assert_issue,
    balance,
    make_campaign,
    make_match,
    notifications_of,
)
from tests.edge.money_support import assert_money_conserved
from tests.factories import bearer, make_admin, make_donor, make_patient, make_screening_type

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/admin/campaigns"


async def funded_campaign(total: float = 30000, **fields: object) -> DonationCampaign:
    campaign = await make_campaign(total=total, **fields)  # type: ignore[arg-type]
    await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.COMPLETED,
        amount=total,
        related_donation_id=campaign.id,
        payment_reference=f"campaign-create-{uuid.uuid4()}",
    )
    return campaign


async def test_campaigns_are_listed_with_donor_relations_and_compatibility_keys(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    donor = await make_donor(full_name="Zainab Musa", organization="Musa Foundation")
    campaign = await funded_campaign(donor=donor, title="Screen Kaduna")
    campaign.target_states = ["Kaduna", "Kano"]
    await campaign.save()
    await make_match(await make_patient(), await make_screening_type(), campaign)

    everything = await client.get(BASE, headers=bearer(admin))
    by_donor = await client.get(BASE, params={"search": "zainab"}, headers=bearer(admin))
    by_title = await client.get(BASE, params={"search": "kaduna"}, headers=bearer(admin))
    invalid = await client.get(BASE, params={"status": "PENDING"}, headers=bearer(admin))

    listed = {c["id"]: c for c in everything.json()["data"]["campaigns"]}
    assert GENERAL_DONOR_POOL_ID in listed
    shown = listed[campaign.id]
    assert shown["donor"]["donorProfile"] == {"organizationName": "Musa Foundation"}
    assert (shown["initialAmount"], shown["reservedAmount"]) == (30000, 10000)
    assert (shown["targetState"], shown["targetLga"]) == ("Kaduna, Kano", None)
    assert len(shown["allocations"]) == 1
    assert len(shown["transactions"]) == 1
    assert {"totalAmount", "availableAmount", "purpose", "targetAgeRange"} <= set(shown)
    assert [c["id"] for c in by_donor.json()["data"]["campaigns"]] == [campaign.id]
    assert [c["id"] for c in by_title.json()["data"]["campaigns"]] == [campaign.id]
    assert_issue(invalid, "status")


async def test_a_status_change_notifies_the_donor(client: httpx.AsyncClient) -> None:
    admin = await make_admin()
    donor = await make_donor()
    campaign = await funded_campaign(donor=donor)

    response = await client.patch(
        f"{BASE}/{campaign.id}/status", json={"status": "COMPLETED"}, headers=bearer(admin)
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "COMPLETED"
    assert (await DonationCampaign.get(id=campaign.id)).status == CampaignStatus.COMPLETED
    note = (await notifications_of(donor.id))[0]
    assert (note.type, note.title) == ("CAMPAIGN_STATUS_CHANGED", "Campaign Status Updated")
    assert note.message == "Your campaign has been marked as completed."
    assert note.data == {"campaignId": campaign.id, "newStatus": "COMPLETED", "reason": None}


async def test_an_admin_deletion_recycles_the_money_and_is_final(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    donor = await make_donor()
    campaign = await funded_campaign(donor=donor)
    _, allocation = await make_match(await make_patient(), await make_screening_type(), campaign)

    deleted = await client.patch(
        f"{BASE}/{campaign.id}/status",
        json={"status": "DELETED", "reason": "Fraud"},
        headers=bearer(admin),
    )
    again = await client.patch(
        f"{BASE}/{campaign.id}/status", json={"status": "ACTIVE"}, headers=bearer(admin)
    )

    assert deleted.status_code == 200, deleted.text
    assert await balance(GENERAL_DONOR_POOL_ID) == (20000, 30000)
    assert (await type(allocation).get(id=allocation.id)).campaign_id == GENERAL_DONOR_POOL_ID
    note = (await notifications_of(donor.id))[0]
    assert note.message == "Your campaign has been deleted by admin. Fraud"
    assert_error(again, 400, "Deleted campaigns cannot be changed")
    await assert_money_conserved()


async def test_the_pool_and_unknown_campaigns_cannot_be_changed(client: httpx.AsyncClient) -> None:
    admin = await make_admin()

    pool = await client.patch(
        f"{BASE}/{GENERAL_DONOR_POOL_ID}/status", json={"status": "DELETED"}, headers=bearer(admin)
    )
    missing = await client.patch(
        f"{BASE}/nope/status", json={"status": "ACTIVE"}, headers=bearer(admin)
    )
    invalid = await client.patch(
        f"{BASE}/nope/status", json={"status": "SUSPENDED"}, headers=bearer(admin)
    )

    assert_error(pool, 400, "The general donor pool cannot be changed")
    assert_error(missing, 404, "Campaign not found")
    assert_issue(invalid, "status")
    assert (await DonationCampaign.get(id=GENERAL_DONOR_POOL_ID)).status == CampaignStatus.ACTIVE
