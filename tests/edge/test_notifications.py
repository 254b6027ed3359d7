"""/api/v1/notifications (list, mark read, admin create) and the notify() contract
(notifications.md 2, 3.1-3.3, 4.1)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import asyncpg
import httpx
import pytest
from tortoise.transactions import in_transaction

from actors.contracts.notifications import CHANNEL, SYSTEM_USER_ID, notify
from models.base import utc_now
from models.notifications import Notification, NotificationRecipient
from tests.edge.factories_centers import assert_validation_error, jobs, make_notification
from tests.factories import bearer, make_admin, make_center, make_donor, make_patient

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/notifications"


def minutes_ago(minutes: int) -> dt.datetime:
    return utc_now() - dt.timedelta(minutes=minutes)


# -- GET /notifications ------------------------------------------------------------------------


async def test_list_is_the_callers_rows_newest_first_in_the_recipient_shape(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    other = await make_patient()
    [old] = await make_notification([patient.id], created_at=minutes_ago(10), read=True)
    [new, _] = await make_notification(
        [patient.id, other.id],
        type="RESULTS_AVAILABLE",
        data={"appointmentId": "a-1"},
        created_at=minutes_ago(1),
    )

    response = await client.get(BASE, headers=bearer(patient))

    assert response.status_code == 200
    data = response.json()["data"]
    assert [item["id"] for item in data] == [new.id, old.id]
    first = data[0]
    assert set(first) == {"id", "userId", "notificationId", "read", "readAt", "notification"}
    assert (first["userId"], first["notificationId"]) == (patient.id, new.notification_id)
    assert (first["read"], first["readAt"]) == (False, None)
    notification = first["notification"]
    assert notification["type"] == "RESULTS_AVAILABLE"
    assert notification["data"] == {"appointmentId": "a-1"}
    assert notification["updatedAt"] == notification["createdAt"]
    assert notification["createdAt"].endswith("Z")
    assert data[1]["read"] is True
    assert data[1]["readAt"].endswith("Z")


async def test_list_ties_break_on_recipient_id_and_data_that_is_not_an_object_is_null(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    moment = minutes_ago(3)
    rows = [
        (await make_notification([patient.id], data=data, created_at=moment))[0]
        for data in ([1, 2], 7, None)
    ]

    data = (await client.get(BASE, headers=bearer(patient))).json()["data"]

    assert [item["id"] for item in data] == sorted((row.id for row in rows), reverse=True)
    assert [item["notification"]["data"] for item in data] == [None, None, None]


async def test_list_limit_defaults_to_50_and_before_pages_back(client: httpx.AsyncClient) -> None:
    donor = await make_donor()
    for minutes in range(55, 0, -1):
        await make_notification([donor.id], title=f"n{minutes}", created_at=minutes_ago(minutes))

    first = (await client.get(BASE, headers=bearer(donor))).json()["data"]
    three = (await client.get(BASE, params={"limit": 3}, headers=bearer(donor))).json()["data"]
    cut = three[-1]["notification"]["createdAt"]
    older = await client.get(BASE, params={"limit": 2, "before": cut}, headers=bearer(donor))

    assert len(first) == 50
    assert [item["notification"]["title"] for item in three] == ["n1", "n2", "n3"]
    assert [item["notification"]["title"] for item in older.json()["data"]] == ["n4", "n5"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"before": "yesterday"}, "before")],
)
async def test_list_refuses_bad_query_values(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    patient = await make_patient()

    response = await client.get(BASE, params=params, headers=bearer(patient))

    assert_validation_error(response, field)


async def test_list_needs_a_token_and_other_profiles_see_nothing(
    client: httpx.AsyncClient,
) -> None:
    center = await make_center()

    anonymous = await client.get(BASE)
    as_center = await client.get(BASE, headers=bearer(center))

    assert anonymous.status_code == 401
    assert anonymous.json() == {"ok": False, "err_code": "invalid_request", "error": "Unauthorized"}
    assert as_center.json() == {"ok": True, "data": []}


# -- POST /notifications/{id}/read -------------------------------------------------------------


async def test_marking_read_stores_it_once_and_returns_the_stored_time(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    [row] = await make_notification([patient.id])

    first = await client.post(f"{BASE}/{row.id}/read", headers=bearer(patient))
    again = await client.post(f"{BASE}/{row.id}/read", headers=bearer(patient))

    assert first.status_code == 200
    data = first.json()["data"]
    assert (data["id"], data["read"]) == (row.id, True)
    stored = await NotificationRecipient.get(id=row.id)
    assert stored.read is True
    assert stored.read_at is not None
    assert data["readAt"] == stored.read_at.isoformat(timespec="milliseconds") + "Z"
    assert again.json()["data"]["readAt"] == data["readAt"]


async def test_marking_another_users_or_an_unknown_row_answers_404(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    [theirs] = await make_notification([(await make_patient()).id])

    foreign = await client.post(f"{BASE}/{theirs.id}/read", headers=bearer(patient))
    unknown = await client.post(f"{BASE}/nope/read", headers=bearer(patient))
    anonymous = await client.post(f"{BASE}/{theirs.id}/read")

    for response in (foreign, unknown):
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error": "Notification not found"}
    assert anonymous.status_code == 401
    assert (await NotificationRecipient.get(id=theirs.id)).read is False


# -- POST /notifications -----------------------------------------------------------------------


async def test_admin_creates_a_notification_for_each_distinct_user(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    patient, donor = await make_patient(), await make_donor()

    response = await client.post(
        BASE,
        json={
            "type": "ANNOUNCEMENT",
            "title": "Clinic hours",
            "message": "Open on Saturday",
            "data": {"link": "/patient"},
            "userIds": [patient.id, donor.id, patient.id],
        },
        headers=bearer(admin),
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == {"id", "type", "title", "message", "data", "createdAt", "updatedAt"}
    assert (data["type"], data["title"], data["message"]) == (
        "ANNOUNCEMENT",
        "Clinic hours",
        "Open on Saturday",
    )
    assert data["data"] == {"link": "/patient"}
    rows = await NotificationRecipient.filter(notification_id=data["id"])
    assert sorted(row.user_id for row in rows) == sorted([patient.id, donor.id])


async def test_only_admins_may_create_notifications(client: httpx.AsyncClient) -> None:
    patient = await make_patient()
    body = {"type": "X", "title": "Phish", "message": "Click", "userIds": [patient.id]}

    as_patient = await client.post(BASE, json=body, headers=bearer(patient))
    as_center = await client.post(BASE, json=body, headers=bearer(await make_center()))
    anonymous = await client.post(BASE, json=body)

    for response in (as_patient, as_center):
        assert response.status_code == 403
        assert response.json()["error"] == "Forbidden: actor mismatch"
    assert anonymous.status_code == 401
    assert await Notification.all().count() == 0


@pytest.mark.parametrize("bad_id", ["no-such-user", SYSTEM_USER_ID])
async def test_unknown_or_system_recipients_answer_400_and_write_nothing(
    client: httpx.AsyncClient, bad_id: str
) -> None:
    patient = await make_patient()

    response = await client.post(
        BASE,
        json={"type": "X", "title": "T", "message": "M", "userIds": [patient.id, bad_id]},
        headers=bearer(await make_admin()),
    )

    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": "Some users not found"}
    assert await Notification.all().count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"userIds": []}, "userIds"),
        ({"userIds": [f"u{i}" for i in range(1001)]}, "userIds"),
        ({"title": ""}, "title"),
        ({"type": None}, "type"),
        ({"data": [1]}, "data"),
    ],
)
async def test_invalid_notifications_answer_the_validation_envelope(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    body = {"type": "X", "title": "T", "message": "M", "userIds": ["u1"], **change}

    response = await client.post(BASE, json=body, headers=bearer(await make_admin()))

    assert_validation_error(response, field)


# -- notify() ----------------------------------------------------------------------------------


async def test_notify_skips_duplicates_the_system_user_and_unknown_ids(
    db: asyncpg.Connection,
) -> None:
    patient = await make_patient()
    heard: asyncio.Queue[str] = asyncio.Queue()
    await db.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[3]))

    async with in_transaction() as conn:
        notification = await notify(
            using_db=conn,
            type="MATCHED",
            title="Matched",
            message="You have been matched",
            recipient_ids=[patient.id, SYSTEM_USER_ID, "ghost", patient.id],
            data={"waitlistId": "w-1"},
        )

    assert notification is not None
    rows = await NotificationRecipient.filter(notification_id=notification.id)
    assert [row.user_id for row in rows] == [patient.id]
    payload = json.loads(await asyncio.wait_for(heard.get(), 10))
    assert payload == {"notificationId": notification.id, "userIds": [patient.id]}


async def test_notify_with_no_recipient_left_writes_nothing(db: asyncpg.Connection) -> None:
    async with in_transaction() as conn:
        result = await notify(
            using_db=conn,
            type="PATIENT_MATCHED",
            title="T",
            message="M",
            recipient_ids=[SYSTEM_USER_ID, "ghost"],
        )

    assert result is None
    assert await Notification.all().count() == 0


async def test_notify_rolls_back_with_the_callers_transaction(db: asyncpg.Connection) -> None:
    patient = await make_patient()

    async def change_that_fails() -> None:
        async with in_transaction() as conn:
            await notify(
                using_db=conn, type="T", title="T", message="M", recipient_ids=[patient.id]
            )
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await change_that_fails()

    assert await Notification.all().count() == 0
    assert await NotificationRecipient.all().count() == 0


async def test_notify_with_email_queues_one_email_per_recipient(db: asyncpg.Connection) -> None:
    first, second = await make_patient(), await make_patient()

    async with in_transaction() as conn:
        await notify(
            using_db=conn,
            type="CHECK_IN_CONFIRMED",
            title="Check-in Confirmed",
            message="Your appointment at Hope has been confirmed.",
            recipient_ids=[first.id, second.id],
            email=True,
        )

    sent = await jobs(db)
    assert sorted(job["to"] for job in sent) == sorted([first.email, second.email])
    assert {job["template"] for job in sent} == {"notification"}
    assert sent[0]["context"] == {
        "type": "CHECK_IN_CONFIRMED",
        "title": "Check-in Confirmed",
        "message": "Your appointment at Hope has been confirmed.",
    }
