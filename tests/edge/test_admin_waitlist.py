"""GET /api/v1/admin/waitlist: list mode, aggregation mode, validation and access
(analytics.md §7)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from models.base import utc_now
from models.enums import AllocationStatus
from models.screening_types import ScreeningType
from models.users import User
from models.waitlists import DonationAllocation, Waitlist
from tests.edge.factories_appointments import (
    assert_error,
    assert_issue,
    make_campaign,
    make_entry,
)
from tests.factories import (
    bearer,
    make_admin,
    make_center,
    make_donor,
    make_patient,
    make_screening_type,
    make_user,
)

pytestmark = pytest.mark.usefixtures("db")

URL = "/api/v1/admin/waitlist"


class Waitlists:
    """Five entries, oldest first: e1 Lagos/Breast/PENDING, e2 Oyo/Breast/MATCHED (allocated),
    e3 no profile/Cervical/PENDING, e4 Lagos/Cervical/CLAIMED (allocated, claimed),
    e5 Lagos/Cervical/EXPIRED."""

    breast: ScreeningType
    cervical: ScreeningType
    ada: User
    bola: User
    chi: User
    dayo: User
    entries: list[Waitlist]
    allocations: dict[str, DonationAllocation]


async def seed() -> Waitlists:
    world = Waitlists()
    world.breast = await make_screening_type(name="Breast")
    world.cervical = await make_screening_type(name="Cervical")
    world.ada = await make_patient(full_name="Ada Obi", state="Lagos", lga="Ikeja")
    world.bola = await make_patient(full_name="Bola Ade", state="Oyo", lga="Ibadan North")
    world.chi = await make_user(full_name="Chi Eze")  # a user without a patient profile
    world.dayo = await make_patient(full_name="Dayo Bello", state="Lagos", lga="Epe")
    start = utc_now() - dt.timedelta(days=2)
    plan = [
        (world.ada, world.breast, AllocationStatus.PENDING),
        (world.bola, world.breast, AllocationStatus.MATCHED),
        (world.chi, world.cervical, AllocationStatus.PENDING),
        (world.dayo, world.cervical, AllocationStatus.CLAIMED),
        (world.ada, world.cervical, AllocationStatus.EXPIRED),
    ]
    world.entries = [
        await make_entry(patient, screening, status=status, joined_at=start + dt.timedelta(hours=i))
        for i, (patient, screening, status) in enumerate(plan)
    ]
    claimed = start + dt.timedelta(days=1)
    world.entries[3].claimed_at = claimed
    await world.entries[3].save()
    world.entries[4].expired_at = claimed
    await world.entries[4].save()
    campaign = await make_campaign()
    world.allocations = {}
    for entry, claimed_at in ((world.entries[1], None), (world.entries[3], claimed)):
        world.allocations[entry.id] = await DonationAllocation.create(
            waitlist_id=entry.id,
            patient_id=entry.patient_id,
            campaign_id=campaign.id,
            amount_allocated=None,
            claimed_at=claimed_at,
        )
    return world


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds") + "Z"


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [entry["id"] for entry in response.json()["data"]["waitlistEntries"]]


async def get(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await client.get(URL, params=params, headers=headers)


async def test_the_list_pages_entries_oldest_first_with_their_relations(
    client: httpx.AsyncClient,
) -> None:
    world = await seed()
    admin = bearer(await make_admin())
    e1, e2, e3, e4, e5 = (entry.id for entry in world.entries)

    listed = await get(client, admin)
    second_page = await get(client, admin, page="2", pageSize="2")
    past_the_end = await get(client, admin, page="9", pageSize="2")

    body = listed.json()
    assert body["ok"] is True
    data = body["data"]
    assert set(data) == {"waitlistEntries", "page", "pageSize", "total", "totalPages"}
    assert [e["id"] for e in data["waitlistEntries"]] == [e1, e2, e3, e4, e5]
    assert (data["page"], data["pageSize"], data["total"], data["totalPages"]) == (1, 20, 5, 1)
    matched = data["waitlistEntries"][1]
    assert matched == {
        "id": e2,
        "screeningTypeId": world.breast.id,
        "patientId": world.bola.id,
        "status": "MATCHED",
        "joinedAt": iso(world.entries[1].joined_at),
        "claimedAt": None,
        "expiredAt": None,
        "patient": {
            "id": world.bola.id,
            "fullName": "Bola Ade",
            "patientProfile": {"state": "Oyo", "city": "Ibadan North"},
        },
        "screening": {"id": world.breast.id, "name": "Breast"},
        "allocation": {"id": world.allocations[e2].id, "claimedAt": None},
    }
    no_profile, claimed, expired = data["waitlistEntries"][2:]
    assert no_profile["patient"] == {
        "id": world.chi.id,
        "fullName": "Chi Eze",
        "patientProfile": None,
    }
    assert no_profile["allocation"] is None
    assert claimed["claimedAt"] == iso(world.entries[3].claimed_at)
    assert claimed["allocation"] == {
        "id": world.allocations[e4].id,
        "claimedAt": iso(world.entries[3].claimed_at),
    }
    assert expired["expiredAt"] == iso(world.entries[4].expired_at)

    assert ids(second_page) == [e3, e4]
    paging = second_page.json()["data"]
    assert (paging["page"], paging["pageSize"], paging["total"], paging["totalPages"]) == (
        2,
        2,
        5,
        3,
    )
    assert ids(past_the_end) == []
    assert past_the_end.json()["data"]["total"] == 5


async def test_the_list_filters_by_status_screening_type_and_patient_state(
    client: httpx.AsyncClient,
) -> None:
    world = await seed()
    admin = bearer(await make_admin())
    e1, e2, e3, e4, e5 = (entry.id for entry in world.entries)

    assert ids(await get(client, admin, status="PENDING")) == [e1, e3]
    assert ids(await get(client, admin, screeningTypeId=world.cervical.id)) == [e3, e4, e5]
    assert ids(await get(client, admin, state="Lagos")) == [e1, e4, e5]
    both = await get(client, admin, state="Lagos", screeningTypeId=world.cervical.id)
    assert ids(both) == [e4, e5]
    assert both.json()["data"]["total"] == 2
    # An empty state is no filter (the reference's truthiness), an unknown one matches nothing.
    assert ids(await get(client, admin, state="")) == [e1, e2, e3, e4, e5]
    assert ids(await get(client, admin, state="Kano")) == []


async def test_aggregations_count_filtered_entries_by_state_screening_type_or_status(
    client: httpx.AsyncClient,
) -> None:
    world = await seed()
    admin = bearer(await make_admin())

    async def aggregation(**params: Any) -> list[dict[str, Any]]:
        response = await get(client, admin, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["ok"] is True
        assert set(body["data"]) == {"aggregation", "groupBy"}
        assert body["data"]["groupBy"] == params["groupBy"]
        result: list[dict[str, Any]] = body["data"]["aggregation"]
        return result

    # Count descending, then key ascending; a missing profile state is "Unknown".
    assert await aggregation(groupBy="state") == [
        {"count": 3, "state": "Lagos"},
        {"count": 1, "state": "Oyo"},
        {"count": 1, "state": "Unknown"},
    ]
    assert await aggregation(groupBy="screening_type") == [
        {"count": 3, "screeningType": "Cervical"},
        {"count": 2, "screeningType": "Breast"},
    ]
    assert await aggregation(groupBy="status") == [
        {"count": 2, "status": "PENDING"},
        {"count": 1, "status": "CLAIMED"},
        {"count": 1, "status": "EXPIRED"},
        {"count": 1, "status": "MATCHED"},
    ]
    # The filters apply (D-AN-9); paging parameters are validated but do not apply.
    assert await aggregation(groupBy="status", screeningTypeId=world.cervical.id) == [
        {"count": 1, "status": "CLAIMED"},
        {"count": 1, "status": "EXPIRED"},
        {"count": 1, "status": "PENDING"},
    ]
    assert await aggregation(groupBy="state", status="PENDING", page="3", pageSize="1") == [
        {"count": 1, "state": "Lagos"},
        {"count": 1, "state": "Unknown"},
    ]
    assert await aggregation(groupBy="screening_type", state="Lagos") == [
        {"count": 2, "screeningType": "Cervical"},
        {"count": 1, "screeningType": "Breast"},
    ]
    assert await aggregation(groupBy="state", status="MATCHED", state="Lagos") == []


async def test_an_empty_waitlist_is_an_empty_page(client: httpx.AsyncClient) -> None:
    admin = bearer(await make_admin())
    response = await get(client, admin)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "ok": True,
        "data": {"waitlistEntries": [], "page": 1, "pageSize": 20, "total": 0, "totalPages": 0},
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "one"}, "page"),
        ({"pageSize": "0"}, "pageSize"),
        ({"pageSize": "101"}, "pageSize"),
        ({"pageSize": "1.5"}, "pageSize"),
        ({"status": "WAITING"}, "status"),
        ({"status": "pending"}, "status"),
        ({"screeningTypeId": "not-a-uuid"}, "screeningTypeId"),
        ({"groupBy": "city"}, "groupBy"),
        ({"groupBy": "state", "pageSize": "500"}, "pageSize"),
    ],
)
async def test_invalid_query_parameters_are_400_in_the_validation_envelope(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    admin = bearer(await make_admin())
    response = await client.get(URL, params=params, headers=admin)
    assert_issue(response, field)


async def test_only_admins_may_read_the_waitlist(client: httpx.AsyncClient) -> None:
    anonymous = await client.get(URL)
    bad_token = await client.get(URL, headers={"Authorization": "Bearer not-a-token"})
    assert_error(anonymous, 401, "Unauthorized")
    assert_error(bad_token, 401, "Unauthorized")
    for account in (await make_patient(), await make_donor(), await make_center()):
        refused = await client.get(URL, params={"groupBy": "state"}, headers=bearer(account))
        assert refused.status_code == 403, refused.text
        assert refused.json()["message"] == "Forbidden: actor mismatch"
