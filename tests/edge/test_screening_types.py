"""/api/v1/screening-types: public, read-only reference data (centers.md 4)."""

from __future__ import annotations

import urllib.parse

import httpx
import pytest

from models.screening_types import ScreeningType
from tests.edge.factories_centers import assert_validation_error, make_category
from tests.factories import bearer, make_patient, make_screening_type

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/screening-types"


async def three_types() -> list[ScreeningType]:
    return [
        await make_screening_type(name="Pap smear"),
        await make_screening_type(name="Breast ultrasound", category_id="screening"),
        await make_screening_type(name="Colonoscopy"),
    ]


async def test_list_is_active_types_by_name_with_pagination_at_the_top_level(
    client: httpx.AsyncClient,
) -> None:
    await three_types()
    await make_screening_type(name="Aaa retired test", active=False)

    response = await client.get(BASE, params={"page": 1, "pageSize": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert [item["name"] for item in body["data"]] == ["Breast ultrasound", "Colonoscopy"]
    assert (body["page"], body["pageSize"], body["total"], body["totalPages"]) == (1, 2, 3, 2)
    assert set(body["data"][0]) == {"id", "name", "screeningTypeCategoryId", "active"}
    assert body["data"][0]["screeningTypeCategoryId"] == "screening"
    page_two = (await client.get(BASE, params={"page": 2, "pageSize": 2})).json()
    assert [item["name"] for item in page_two["data"]] == ["Pap smear"]


async def test_list_search_is_a_case_insensitive_substring_with_literal_wildcards(
    client: httpx.AsyncClient,
) -> None:
    await three_types()
    await make_screening_type(name="HPV 100% test")

    found = (await client.get(BASE, params={"search": "SMEAR"})).json()
    literal = (await client.get(BASE, params={"search": "0%"})).json()
    wildcard = (await client.get(BASE, params={"search": "_"})).json()

    assert [item["name"] for item in found["data"]] == ["Pap smear"]
    assert [item["name"] for item in literal["data"]] == ["HPV 100% test"]
    assert wildcard["data"] == []
    assert wildcard["total"] == 0
    assert wildcard["totalPages"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pageSize": "101"}, "pageSize"),
        ({"pageSize": "0"}, "pageSize"),
        ({"page": "0"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "1.5"}, "page"),
    ],
)
async def test_list_refuses_bad_paging_with_the_validation_envelope(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get(BASE, params=params)

    assert_validation_error(response, field)
    assert "err_code" not in response.json()


async def test_all_lists_every_active_type_with_description_only_when_set(
    client: httpx.AsyncClient,
) -> None:
    for index in range(25):
        await make_screening_type(name=f"Type {index:02d}")
    described = await ScreeningType.get(name="Type 03")
    described.description = "Third"
    await described.save()
    await make_screening_type(name="Type inactive", active=False)

    response = await client.get(f"{BASE}/all", params={"page": 1, "pageSize": 5})

    assert response.status_code == 200
    data = response.json()["data"]
    assert len(data) == 25
    assert [item["name"] for item in data] == sorted(item["name"] for item in data)
    assert data[3] == {
        "id": described.id,
        "name": "Type 03",
        "description": "Third",
        "screeningTypeCategoryId": "cancer",
        "active": True,
    }
    assert "description" not in data[0]


async def test_all_filters_by_search_and_still_validates_paging(
    client: httpx.AsyncClient,
) -> None:
    await three_types()

    found = await client.get(f"{BASE}/all", params={"search": "colon"})
    refused = await client.get(f"{BASE}/all", params={"pageSize": "500"})

    assert [item["name"] for item in found.json()["data"]] == ["Colonoscopy"]
    assert_validation_error(refused, "pageSize")


async def test_categories_are_all_listed_by_name(client: httpx.AsyncClient) -> None:
    extra = await make_category(name="Antenatal")

    response = await client.get(f"{BASE}/categories")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data[0] == {"id": extra.id, "name": "Antenatal"}
    assert {item["id"] for item in data} >= {"cancer", "vaccine", "general", "screening"}
    assert [item["name"] for item in data] == sorted(item["name"] for item in data)


async def test_category_lists_its_active_types_and_unknown_is_empty(
    client: httpx.AsyncClient,
) -> None:
    await three_types()
    await make_screening_type(name="Hidden screening", category_id="screening", active=False)

    response = await client.get(f"{BASE}/category/screening", params={"categoryId": "x"})
    unknown = await client.get(f"{BASE}/category/nope")
    refused = await client.get(f"{BASE}/category/screening", params={"page": "-1"})

    body = response.json()
    assert [item["name"] for item in body["data"]] == ["Breast ultrasound"]
    assert (body["page"], body["pageSize"], body["total"], body["totalPages"]) == (1, 20, 1, 1)
    assert unknown.status_code == 200
    assert unknown.json()["data"] == []
    assert_validation_error(refused, "page")


async def test_by_name_is_exact_percent_decoded_and_includes_inactive_types(
    client: httpx.AsyncClient,
) -> None:
    retired = await make_screening_type(name="Pap smear / HPV 50%", active=False)
    await make_screening_type(name="Colonoscopy")

    path = urllib.parse.quote(retired.name, safe="")
    response = await client.get(f"{BASE}/by-name/{path}")
    wrong_case = await client.get(f"{BASE}/by-name/colonoscopy")

    assert response.status_code == 200
    assert response.json()["data"] == {
        "id": retired.id,
        "name": "Pap smear / HPV 50%",
        "screeningTypeCategoryId": "cancer",
        "active": False,
    }
    assert wrong_case.status_code == 404
    assert wrong_case.json() == {"ok": False, "error": "Not found"}


async def test_by_id_finds_any_type_and_answers_404_otherwise(client: httpx.AsyncClient) -> None:
    retired = await make_screening_type(name="Old test", active=False)

    found = await client.get(f"{BASE}/{retired.id}")
    missing = await client.get(f"{BASE}/no-such-id")

    assert found.json()["data"]["active"] is False
    assert missing.status_code == 404
    assert missing.json()["error"] == "Not found"


async def test_screening_types_need_no_token_and_ignore_one(client: httpx.AsyncClient) -> None:
    patient = await make_patient()
    await three_types()

    response = await client.get(BASE, headers=bearer(patient))

    assert response.status_code == 200
    assert response.json()["total"] == 3
