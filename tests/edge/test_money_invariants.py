"""Money is neither created nor destroyed (domain-model §6.2): one journey through every path that
moves donated money — redelivered webhooks, verify-payment after the webhook, funding, matching
reservations, deletion by the donor and by an admin, expiry — checking after every step that

- each campaign not DELETED has 0 <= available <= total and available + live reservations = total;
- the money held (campaign totals, plus reservations kept as history by deleted campaigns) equals
  the money received (completed donations), whatever the number of deliveries.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from models.campaigns import GENERAL_DONOR_POOL_ID
from tests.edge.factories_appointments import balance, make_match
from tests.edge.money_support import assert_money_conserved, money_held
from tests.edge.test_donations import campaign_body
from tests.factories import bearer, make_admin, make_donor, make_patient, make_screening_type
from tests.sandbox.conftest_paystack import paystack, paystack_sandbox  # noqa: F401
from tests.sandbox.paystack import PaystackSandbox

pytestmark = pytest.mark.usefixtures("db")


async def test_no_path_creates_or_destroys_donated_money(
    client: httpx.AsyncClient,
    paystack: PaystackSandbox,  # noqa: F811
) -> None:
    donor, admin = await make_donor(), await make_admin()

    # Anonymous gift: delivered three times, twice concurrently, then verified by the page.
    gift = await client.post("/api/v1/donor/donations/anonymous", json={"amount": 7000})
    gift_ref = gift.json()["data"]["reference"]
    paystack.set_outcome(gift_ref, "success")
    event = paystack.charge_event(gift_ref)
    await asyncio.gather(paystack.send(event), paystack.send(event))
    await paystack.send(event)
    await client.get(f"/api/v1/donor/verify-payment/{gift_ref}")
    await assert_money_conserved()
    assert await money_held() == (7000, 7000)

    # A campaign paid once through verify-payment (webhook missed), then its late webhook.
    created = await client.post(
        "/api/v1/donor/campaigns",
        json=await campaign_body(fundingAmount=30000),
        headers=bearer(donor),
    )
    campaign_id = created.json()["data"]["campaign"]["id"]
    create_ref = created.json()["data"]["payment"]["reference"]
    paystack.set_outcome(create_ref, "success")
    await client.get(f"/api/v1/donor/verify-payment/{create_ref}", headers=bearer(donor))
    await paystack.send(paystack.charge_event(create_ref), times=2)
    await assert_money_conserved()

    # Top-up, delivered twice.
    funded = await client.post(
        f"/api/v1/donor/campaigns/{campaign_id}/fund",
        json={"campaignId": campaign_id, "amount": 5000},
        headers=bearer(donor),
    )
    await paystack.complete(funded.json()["data"]["reference"], times=2)
    assert await balance(campaign_id) == (35000, 35000)
    await assert_money_conserved()

    # Matching reserves money for two patients; an admin expires one reservation twice.
    from models.campaigns import DonationCampaign

    campaign = await DonationCampaign.get(id=campaign_id)
    screening = await make_screening_type()
    _, kept = await make_match(await make_patient(), screening, campaign)
    _, expiring = await make_match(await make_patient(), screening, campaign)
    await assert_money_conserved()
    url = f"/api/v1/admin/allocations/{expiring.id}/expire"
    await asyncio.gather(*(client.post(url, headers=bearer(admin)) for _ in range(2)))
    assert await balance(campaign_id) == (25000, 35000)
    await assert_money_conserved()

    # The donor deletes the campaign: 25 000 free + 10 000 reserved move to the pool.
    deleted = await client.request(
        "DELETE",
        f"/api/v1/donor/campaigns/{campaign_id}",
        json={"campaignId": campaign_id, "action": "recycle_to_general"},
        headers=bearer(donor),
    )
    assert deleted.json()["data"]["amountProcessed"] == 35000
    assert await balance(GENERAL_DONOR_POOL_ID) == (32000, 42000)
    assert kept.campaign_id == campaign_id
    await assert_money_conserved()

    # A second campaign is deleted by an admin; its money follows the same rule.
    second = await client.post(
        "/api/v1/donor/campaigns",
        json=await campaign_body(fundingAmount=2000),
        headers=bearer(donor),
    )
    second_id = second.json()["data"]["campaign"]["id"]
    await paystack.complete(second.json()["data"]["payment"]["reference"])
    await client.patch(
        f"/api/v1/admin/campaigns/{second_id}/status",
        json={"status": "DELETED"},
        headers=bearer(admin),
    )
    await assert_money_conserved()
    assert await money_held() == (44000, 44000)
