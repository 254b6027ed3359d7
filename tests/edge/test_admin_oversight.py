"""/api/v1/admin appointments, transactions and store products (admin.md §6, §7, §9)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from models.enums import AppointmentStatus, TransactionStatus, TransactionType
from models.store import StoreProduct
from models.transactions import Transaction
from tests.edge.factories_appointments import (
    assert_error,
    assert_issue,
    booking_world,
    make_appointment,
    make_campaign,
    make_result,
)
from tests.edge.money_support import paid_booking
from tests.factories import bearer, make_admin

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/admin"


async def test_appointments_are_listed_with_summaries_and_strict_filters(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    world = await booking_world()
    _, paid = await paid_booking(world.patient, world.center, world.screening_type)
    await make_result(paid, notes="All clear")
    donated = await make_appointment(
        world.patient,
        world.center,
        world.screening_type,
        is_donation=True,
        when=dt.datetime(2025, 7, 31, 18, 0),
    )

    everything = await client.get(f"{BASE}/appointments", headers=bearer(admin))
    not_donated = await client.get(
        f"{BASE}/appointments", params={"isDonation": "FALSE"}, headers=bearer(admin)
    )
    last_day = await client.get(
        f"{BASE}/appointments",
        params={"dateFrom": "2025-07-31", "dateTo": "2025-07-31"},
        headers=bearer(admin),
    )
    completed = await client.get(
        f"{BASE}/appointments", params={"status": "COMPLETED"}, headers=bearer(admin)
    )
    truthy = await client.get(
        f"{BASE}/appointments", params={"isDonation": "yes"}, headers=bearer(admin)
    )
    bad_date = await client.get(
        f"{BASE}/appointments", params={"dateFrom": "31/07/2025"}, headers=bearer(admin)
    )
    pending = await client.get(
        f"{BASE}/appointments", params={"status": "PENDING"}, headers=bearer(admin)
    )

    rows = {a["id"]: a for a in everything.json()["data"]["appointments"]}
    shown = rows[paid.id]
    assert shown["result"]["notes"] == "All clear"
    assert shown["transaction"]["amount"] == 15000
    assert shown["center"]["centerName"] == world.center.center_name
    assert shown["patient"]["email"] == world.patient.email
    assert rows[donated.id]["transaction"] is None
    assert rows[donated.id]["result"] is None
    assert [a["id"] for a in not_donated.json()["data"]["appointments"]] == [paid.id]
    assert [a["id"] for a in last_day.json()["data"]["appointments"]] == [donated.id]
    assert [a["id"] for a in completed.json()["data"]["appointments"]] == [paid.id]
    assert_issue(truthy, "isDonation")
    assert_issue(bad_date, "dateFrom")
    assert_issue(pending, "status")
    assert paid.status == AppointmentStatus.COMPLETED


async def test_transactions_are_listed_with_their_campaign_or_appointment(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    world = await booking_world()
    booking, _ = await paid_booking(world.patient, world.center, world.screening_type)
    campaign = await make_campaign()
    donation = await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.PENDING,
        amount=5000,
        related_donation_id=campaign.id,
        payment_reference="campaign-fund-x",
    )

    everything = await client.get(f"{BASE}/transactions", headers=bearer(admin))
    donations = await client.get(
        f"{BASE}/transactions", params={"type": "DONATION"}, headers=bearer(admin)
    )
    future = await client.get(
        f"{BASE}/transactions", params={"dateFrom": "2999-01-01"}, headers=bearer(admin)
    )
    invalid = await client.get(
        f"{BASE}/transactions", params={"status": "REVERSED"}, headers=bearer(admin)
    )

    rows = {t["id"]: t for t in everything.json()["data"]["transactions"]}
    assert rows[booking.id]["donation"] is None
    assert rows[booking.id]["appointments"][0]["patient"]["fullName"] == world.patient.full_name
    assert rows[donation.id]["donation"]["donor"]["id"] == campaign.donor_id
    assert rows[donation.id]["appointments"] == []
    assert [t["id"] for t in donations.json()["data"]["transactions"]] == [donation.id]
    assert future.json()["data"]["total"] == 0
    assert_issue(invalid, "status")


async def test_store_products_are_created_listed_and_updated(client: httpx.AsyncClient) -> None:
    admin = await make_admin()

    created = await client.post(
        f"{BASE}/store/products",
        json={"name": "HPV kit", "description": "Self-sampling", "price": 2500.5, "stock": 10},
        headers=bearer(admin),
    )
    invalid = await client.post(
        f"{BASE}/store/products",
        json={"name": "", "price": -1, "stock": 1.5},
        headers=bearer(admin),
    )
    product_id = created.json()["data"]["id"]
    updated = await client.patch(
        f"{BASE}/store/products/{product_id}", json={"stock": 7}, headers=bearer(admin)
    )
    missing = await client.patch(
        f"{BASE}/store/products/nope", json={"stock": 7}, headers=bearer(admin)
    )
    searched = await client.get(
        f"{BASE}/store/products", params={"search": "sampling"}, headers=bearer(admin)
    )

    assert created.status_code == 200, created.text
    assert set(created.json()["data"]) == {
        "id",
        "name",
        "description",
        "price",
        "stock",
        "createdAt",
    }
    messages = {i["path"][0]: i["message"] for i in invalid.json()["error"]["issues"]}
    assert messages == {
        "name": "Product name is required",
        "price": "Price must be non-negative",
        "stock": "Stock must be non-negative integer",
    }
    assert updated.json()["data"]["stock"] == 7
    assert (await StoreProduct.get(id=product_id)).price == 2500.5
    assert_error(missing, 404, "Product not found")
    assert [p["id"] for p in searched.json()["data"]["products"]] == [product_id]
