"""/api/v1/center: listing, detail and who sees bank details and staff (centers.md 2, 3.1, 3.2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from models.base import utc_now
from models.centers import ServiceCenter
from models.enums import ServiceCenterStatus, StaffStatus
from tests.edge.factories_centers import assert_validation_error, offer
from tests.factories import (
    bearer,
    make_admin,
    make_center,
    make_patient,
    make_screening_type,
    make_staff,
    owner_staff,
)

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/center"
CENTER_KEYS = {
    "id",
    "email",
    "centerName",
    "address",
    "state",
    "lga",
    "phone",
    "bankAccount",
    "bankName",
    "status",
    "createdAt",
    "services",
    "staff",
}


async def center_created(minutes_ago: int, **fields: Any) -> ServiceCenter:
    center = await make_center(bank_account="0123456789", bank_name="Zenith", **fields)
    center.created_at = utc_now() - dt.timedelta(minutes=minutes_ago)
    await center.save()
    return center


async def test_anonymous_list_is_newest_first_and_hides_bank_details_and_staff(
    client: httpx.AsyncClient,
) -> None:
    older = await center_created(10, center_name="Older")
    newer = await center_created(5, center_name="Newer")

    response = await client.get(BASE)

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    data = body["data"]
    assert (data["page"], data["pageSize"], data["total"], data["totalPages"]) == (1, 20, 2, 1)
    assert [item["id"] for item in data["centers"]] == [newer.id, older.id]
    first = data["centers"][0]
    assert set(first) == CENTER_KEYS
    assert first["bankAccount"] is None
    assert first["bankName"] is None
    assert first["staff"] == []
    assert first["status"] == "ACTIVE"
    assert first["createdAt"].endswith("Z")
    assert "passwordHash" not in response.text
    assert older.password_hash not in response.text


async def test_services_are_ordered_by_name_at_this_centers_price_else_the_agreed_price(
    client: httpx.AsyncClient,
) -> None:
    pap = await make_screening_type(name="Pap smear", agreed_price=8000.0)
    colon = await make_screening_type(name="Colonoscopy", agreed_price=30000.0)
    cheap = await make_center(center_name="Cheap")
    other = await make_center(center_name="Other")
    await offer(cheap, pap, price=5000.0)
    await offer(cheap, colon)
    await offer(other, colon, price=99000.0)

    response = await client.get(f"{BASE}/{cheap.id}")

    assert response.json()["data"]["services"] == [
        {"id": colon.id, "name": "Colonoscopy", "price": 30000.0},
        {"id": pap.id, "name": "Pap smear", "price": 5000.0},
    ]


async def test_owner_sees_its_bank_details_and_staff_but_not_other_centers(
    client: httpx.AsyncClient,
) -> None:
    mine = await center_created(5, center_name="Mine")
    theirs = await center_created(10, center_name="Theirs")
    nurse = await make_staff(mine, status=StaffStatus.SUSPENDED)
    owner = await owner_staff(mine)

    response = await client.get(BASE, headers=bearer(nurse))

    centers = {item["id"]: item for item in response.json()["data"]["centers"]}
    assert centers[mine.id]["bankAccount"] == "0123456789"
    assert centers[mine.id]["bankName"] == "Zenith"
    assert centers[mine.id]["staff"] == [
        {"id": owner.id, "email": owner.email, "status": "ACTIVE"},
        {"id": nurse.id, "email": nurse.email, "status": "SUSPENDED"},
    ]
    assert centers[theirs.id]["bankAccount"] is None
    assert centers[theirs.id]["staff"] == []


async def test_admin_sees_every_centers_private_fields(client: httpx.AsyncClient) -> None:
    center = await center_created(5)
    admin = await make_admin()

    listed = await client.get(BASE, headers=bearer(admin))
    detail = await client.get(f"{BASE}/{center.id}", headers=bearer(admin))

    assert listed.json()["data"]["centers"][0]["bankAccount"] == "0123456789"
    assert detail.json()["data"]["bankName"] == "Zenith"
    assert [item["email"] for item in detail.json()["data"]["staff"]] == [center.email]
    for response in (listed, detail):
        assert "$2b$" not in response.text
        assert "passwordHash" not in response.text


async def test_patient_token_gets_the_anonymous_view(client: httpx.AsyncClient) -> None:
    center = await center_created(5)
    patient = await make_patient()

    response = await client.get(f"{BASE}/{center.id}", headers=bearer(patient))

    assert response.status_code == 200
    assert response.json()["data"]["bankAccount"] is None
    assert response.json()["data"]["staff"] == []


async def test_a_present_but_invalid_token_answers_401_not_the_anonymous_view(
    client: httpx.AsyncClient,
) -> None:
    center = await center_created(5)

    listed = await client.get(BASE, headers={"Authorization": "Bearer not-a-jwt"})
    expired = await client.get(f"{BASE}/{center.id}", headers=bearer(center, ttl=-10))

    for response in (listed, expired):
        assert response.status_code == 401
        assert response.json() == {
            "ok": False,
            "err_code": "invalid_token",
            "error": "Unauthorized",
        }
        assert "WWW-Authenticate" in response.headers


async def test_filters_by_status_state_and_lga_exactly(client: httpx.AsyncClient) -> None:
    lagos = await center_created(1, state="Lagos", lga="Ikeja")
    await center_created(2, state="Lagos", lga="Epe")
    await center_created(3, state="lagos", lga="Ikeja")
    await center_created(4, state="Lagos", lga="Ikeja", status=ServiceCenterStatus.INACTIVE)

    response = await client.get(BASE, params={"status": "ACTIVE", "state": "Lagos", "lga": "Ikeja"})
    unfiltered = await client.get(BASE, params={"state": "", "lga": "", "search": ""})

    assert [item["id"] for item in response.json()["data"]["centers"]] == [lagos.id]
    assert response.json()["data"]["total"] == 1
    assert unfiltered.json()["data"]["total"] == 4


async def test_search_matches_name_address_or_email_case_insensitively_and_literally(
    client: httpx.AsyncClient,
) -> None:
    by_name = await center_created(1, center_name="Hope 100% Clinic")
    by_address = await center_created(2, address="4 Hope Street")
    by_email = await center_created(3, email="contact@hopecare.example.com")
    await center_created(4, center_name="Unrelated", address="1 Main Rd")

    hope = await client.get(BASE, params={"search": "HOPE"})
    percent = await client.get(BASE, params={"search": "0%"})
    underscore = await client.get(BASE, params={"search": "_"})

    assert [item["id"] for item in hope.json()["data"]["centers"]] == [
        by_name.id,
        by_address.id,
        by_email.id,
    ]
    assert [item["id"] for item in percent.json()["data"]["centers"]] == [by_name.id]
    assert underscore.json()["data"]["centers"] == []


async def test_pages_count_all_matching_centers(client: httpx.AsyncClient) -> None:
    made = [await center_created(minutes) for minutes in (1, 2, 3)]

    second = await client.get(BASE, params={"page": "2", "pageSize": "2"})
    beyond = await client.get(BASE, params={"page": "5", "pageSize": "2", "status": "ACTIVE"})
    nothing = await client.get(BASE, params={"search": "no such center"})

    data = second.json()["data"]
    assert [item["id"] for item in data["centers"]] == [made[2].id]
    assert (data["page"], data["pageSize"], data["total"], data["totalPages"]) == (2, 2, 3, 2)
    assert beyond.json()["data"]["centers"] == []
    assert beyond.json()["data"]["total"] == 3
    assert (nothing.json()["data"]["total"], nothing.json()["data"]["totalPages"]) == (0, 0)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pageSize": "101"}, "pageSize"),
        ({"pageSize": "2.5"}, "pageSize"),
        ({"status": "OPEN"}, "status"),
        ({"page": "0"}, "page"),
        ({"page": "abc"}, "page"),
    ],
)
async def test_invalid_queries_answer_the_400_validation_envelope(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get(BASE, params=params)

    assert_validation_error(response, field)
    assert "err_code" not in response.json()


async def test_unknown_center_and_the_staff_path_answer_404(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"{BASE}/no-such-center")
    staff = await client.get(f"{BASE}/staff")

    for response in (missing, staff):
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error": "Center not found"}


async def test_detail_for_its_own_center_token_shows_staff(client: httpx.AsyncClient) -> None:
    center = await center_created(1)
    await offer(center, await make_screening_type(name="Mammogram"), price=15000.0)

    response = await client.get(f"{BASE}/{center.id}", headers=bearer(center))

    data = response.json()["data"]
    assert data["id"] == center.id
    assert data["centerName"] == center.center_name
    assert data["services"][0]["name"] == "Mammogram"
    assert data["staff"][0]["email"] == center.email
    assert data["bankAccount"] == "0123456789"
