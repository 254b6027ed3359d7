"""/api/v1/center/staff: invitations and staff status, each center only its own (centers.md 3)."""

from __future__ import annotations

import datetime as dt

import asyncpg
import httpx
import pytest

from models.auth import CredentialChange
from models.base import utc_now
from models.enums import StaffStatus
from models.staff import CenterStaff, CenterStaffInvite
from tests.edge.factories_centers import assert_validation_error, jobs, make_invite
from tests.factories import (
    bearer,
    make_admin,
    make_center,
    make_patient,
    make_staff,
    owner_staff,
)

pytestmark = pytest.mark.usefixtures("db")

INVITES = "/api/v1/center/staff/invite"


def actor_mismatch(response: httpx.Response) -> None:
    assert response.status_code == 403
    assert response.json() == {
        "ok": False,
        "message": "Forbidden: actor mismatch",
        "error": "Forbidden: actor mismatch",
    }


# -- GET /center/staff/invite ------------------------------------------------------------------


async def test_pending_invites_of_the_callers_center_only_latest_expiry_first(
    client: httpx.AsyncClient,
) -> None:
    center = await make_center()
    soon = await make_invite(center, expires_at=utc_now() + dt.timedelta(days=1))
    later = await make_invite(center)
    expired = await make_invite(center, expired=True)
    await make_invite(center, accepted=True)
    await make_invite(await make_center())

    response = await client.get(INVITES, headers=bearer(center))

    assert response.status_code == 200
    invites = response.json()["data"]["invites"]
    assert [item["token"] for item in invites] == [later.token, soon.token, expired.token]
    assert invites[0] == {
        "email": later.email,
        "token": later.token,
        "expiresAt": invites[0]["expiresAt"],
    }
    assert invites[0]["expiresAt"].endswith("Z")


async def test_invite_list_needs_a_center_profile(client: httpx.AsyncClient) -> None:
    center = await make_center()
    nurse = await make_staff(center)

    anonymous = await client.get(INVITES)
    staff = await client.get(INVITES, headers=bearer(nurse))
    patient = await client.get(INVITES, headers=bearer(await make_patient()))

    assert anonymous.status_code == 401
    assert anonymous.json()["err_code"] == "invalid_request"
    actor_mismatch(staff)
    actor_mismatch(patient)


async def test_staff_with_the_admin_role_may_list_invites(client: httpx.AsyncClient) -> None:
    center = await make_center()
    manager = await make_staff(center, role="admin")
    invite = await make_invite(center)

    response = await client.get(INVITES, headers=bearer(manager))

    assert [item["token"] for item in response.json()["data"]["invites"]] == [invite.token]


# -- POST /center/staff/invite -----------------------------------------------------------------


async def test_inviting_stores_invites_and_queues_one_email_each(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    center = await make_center(center_name="Hope Clinic")

    response = await client.post(
        INVITES,
        json={
            "centerId": center.id,
            "emails": [" Nurse.One@Example.com ", "nurse.one@example.com", "lab@example.com"],
        },
        headers=bearer(center),
    )

    assert response.status_code == 200, response.text
    invites = response.json()["data"]["invites"]
    assert [item["email"] for item in invites] == ["nurse.one@example.com", "lab@example.com"]
    for item in invites:
        assert len(item["token"]) == 64
        expires = dt.datetime.fromisoformat(item["expiresAt"].replace("Z", "+00:00"))
        assert dt.timedelta(days=6) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)
    stored = await CenterStaffInvite.filter(center_id=center.id).order_by("email")
    assert [row.email for row in stored] == ["lab@example.com", "nurse.one@example.com"]
    sent = {job["to"]: job for job in await jobs(db)}
    assert set(sent) == {"nurse.one@example.com", "lab@example.com"}
    first = sent["nurse.one@example.com"]
    assert first["template"] == "staff_invite"
    assert first["context"]["token"] == invites[0]["token"]
    # The center is named in the e-mail (email.md E-5); the key is the e-mail actor's business.
    assert "Hope Clinic" in first["context"].values()


async def test_a_center_cannot_invite_staff_into_another_center(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    mine = await make_center()
    victim = await make_center()

    response = await client.post(
        INVITES,
        json={"centerId": victim.id, "emails": ["me@example.com"]},
        headers=bearer(mine),
    )

    assert response.status_code == 403
    assert response.json() == {
        "ok": False,
        "error": "You can only invite staff to your own center",
    }
    assert await CenterStaffInvite.all().count() == 0
    assert await jobs(db) == []


async def test_inviting_an_existing_staff_member_answers_409_and_creates_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    center = await make_center()
    nurse = await make_staff(center, email="nurse@example.com")

    response = await client.post(
        INVITES,
        json={"centerId": center.id, "emails": ["new@example.com", "NURSE@example.com"]},
        headers=bearer(center),
    )

    assert response.status_code == 409
    assert response.json() == {
        "ok": False,
        "error": f"{nurse.email} is already a staff member of this center",
    }
    assert await CenterStaffInvite.all().count() == 0
    assert await jobs(db) == []


async def test_reinviting_replaces_the_pending_invite(client: httpx.AsyncClient) -> None:
    center = await make_center()
    old = await make_invite(center, email="again@example.com")

    response = await client.post(
        INVITES,
        json={"centerId": center.id, "emails": ["again@example.com"]},
        headers=bearer(center),
    )

    assert response.status_code == 200
    rows = await CenterStaffInvite.filter(center_id=center.id)
    assert [row.token for row in rows] == [response.json()["data"]["invites"][0]["token"]]
    assert rows[0].token != old.token


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"centerId": "", "emails": ["a@example.com"]}, "centerId", None),
        ({"emails": ["a@example.com"]}, "centerId", "Required"),
        ({"centerId": "x", "emails": []}, "emails", None),
        ({"centerId": "x", "emails": ["not-an-email"]}, "emails", None),
        (
            {"centerId": "x", "emails": [f"n{i}@example.com" for i in range(21)]},
            "emails",
            "At most 20 invitations per request",
        ),
    ],
)
async def test_invalid_invitations_answer_the_validation_envelope(
    client: httpx.AsyncClient, body: dict[str, object], field: str, message: str | None
) -> None:
    center = await make_center()

    response = await client.post(INVITES, json=body, headers=bearer(center))

    issues = assert_validation_error(response, field)
    if message is not None:
        assert message in [issue["message"] for issue in issues]


async def test_inviting_needs_the_center_profile(client: httpx.AsyncClient) -> None:
    center = await make_center()
    body = {"centerId": center.id, "emails": ["a@example.com"]}

    anonymous = await client.post(INVITES, json=body)
    staff = await client.post(INVITES, json=body, headers=bearer(await make_staff(center)))
    admin = await client.post(INVITES, json=body, headers=bearer(await make_admin()))

    assert anonymous.status_code == 401
    actor_mismatch(staff)
    actor_mismatch(admin)


# -- GET /center/staff/invite/validate/{token} -------------------------------------------------


async def test_validating_a_pending_invite(client: httpx.AsyncClient) -> None:
    center = await make_center(center_name="Hope Clinic", address="4 Hope Street")
    invite = await make_invite(center, email="nurse@example.com")

    response = await client.get(f"{INVITES}/validate/{invite.token}")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data == {
        "isValid": True,
        "centerName": "Hope Clinic",
        "centerAddress": "4 Hope Street",
        "email": "nurse@example.com",
        "expiresAt": data["expiresAt"],
        "isExpired": False,
    }
    assert data["expiresAt"].endswith("Z")


async def test_validating_expired_accepted_and_unknown_invites(client: httpx.AsyncClient) -> None:
    center = await make_center(center_name="Hope Clinic")
    expired = await make_invite(center, expired=True)
    accepted = await make_invite(center, accepted=True, expired=True)

    expired_data = (await client.get(f"{INVITES}/validate/{expired.token}")).json()["data"]
    accepted_data = (await client.get(f"{INVITES}/validate/{accepted.token}")).json()["data"]
    unknown = await client.get(f"{INVITES}/validate/{'0' * 64}")

    assert (expired_data["isValid"], expired_data["isExpired"]) == (False, True)
    assert (accepted_data["isValid"], accepted_data["isExpired"]) == (False, False)
    assert accepted_data["centerName"] == "Hope Clinic"
    assert unknown.json() == {
        "ok": True,
        "data": {
            "isValid": False,
            "centerName": "",
            "centerAddress": "",
            "email": "",
            "expiresAt": None,
            "isExpired": False,
        },
    }


async def test_validating_a_short_token_answers_400(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{INVITES}/validate/short")

    assert_validation_error(response, "token")


# -- DELETE /center/staff/invite/{token} -------------------------------------------------------


async def test_revoking_a_pending_invite_deletes_it(client: httpx.AsyncClient) -> None:
    center = await make_center()
    invite = await make_invite(center)

    response = await client.delete(f"{INVITES}/{invite.token}", headers=bearer(center))

    assert response.status_code == 200
    assert response.json() == {"ok": True, "data": {"token": invite.token, "revoked": True}}
    assert not await CenterStaffInvite.exists(id=invite.id)


async def test_revoking_another_centers_or_an_accepted_invite_answers_404(
    client: httpx.AsyncClient,
) -> None:
    center = await make_center()
    theirs = await make_invite(await make_center())
    accepted = await make_invite(center, accepted=True)

    for token in (theirs.token, accepted.token, "f" * 64):
        response = await client.delete(f"{INVITES}/{token}", headers=bearer(center))
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error": "Invite not found"}
    assert await CenterStaffInvite.exists(id=theirs.id)


async def test_revoking_needs_the_center_profile_and_a_long_token(
    client: httpx.AsyncClient,
) -> None:
    center = await make_center()
    invite = await make_invite(center)

    staff = await client.delete(
        f"{INVITES}/{invite.token}", headers=bearer(await make_staff(center))
    )
    short = await client.delete(f"{INVITES}/abc", headers=bearer(center))

    actor_mismatch(staff)
    assert_validation_error(short, "token")
    assert await CenterStaffInvite.exists(id=invite.id)


# -- PATCH /center/staff/{staffId}/status ------------------------------------------------------


def status_url(staff: CenterStaff) -> str:
    return f"/api/v1/center/staff/{staff.id}/status"


async def test_suspending_staff_ends_their_sessions_and_reactivating_restores(
    client: httpx.AsyncClient,
) -> None:
    center = await make_center()
    nurse = await make_staff(center)

    suspended = await client.patch(
        status_url(nurse), json={"status": "SUSPENDED"}, headers=bearer(center)
    )
    reactivated = await client.patch(
        status_url(nurse), json={"status": "ACTIVE"}, headers=bearer(center)
    )

    assert suspended.status_code == 200
    assert suspended.json() == {"ok": True, "data": {"staffId": nurse.id, "status": "SUSPENDED"}}
    assert reactivated.json()["data"]["status"] == "ACTIVE"
    assert (await CenterStaff.get(id=nurse.id)).status == StaffStatus.ACTIVE
    assert await CredentialChange.exists(subject_type="staff", subject_id=nurse.id)


async def test_suspension_is_stored(client: httpx.AsyncClient) -> None:
    center = await make_center()
    nurse = await make_staff(center)

    await client.patch(status_url(nurse), json={"status": "SUSPENDED"}, headers=bearer(center))

    assert (await CenterStaff.get(id=nurse.id)).status == StaffStatus.SUSPENDED


async def test_another_centers_staff_answers_404(client: httpx.AsyncClient) -> None:
    center = await make_center()
    outsider = await make_staff(await make_center())

    response = await client.patch(
        status_url(outsider), json={"status": "SUSPENDED"}, headers=bearer(center)
    )

    assert response.status_code == 404
    assert response.json() == {"ok": False, "error": "Staff not found"}
    assert (await CenterStaff.get(id=outsider.id)).status == StaffStatus.ACTIVE


async def test_the_owner_row_and_the_callers_own_row_cannot_be_changed(
    client: httpx.AsyncClient,
) -> None:
    center = await make_center()
    owner = await owner_staff(center)
    manager = await make_staff(center, role="admin")

    on_owner = await client.patch(
        status_url(owner), json={"status": "SUSPENDED"}, headers=bearer(manager)
    )
    on_self = await client.patch(
        status_url(manager), json={"status": "SUSPENDED"}, headers=bearer(manager)
    )

    for response in (on_owner, on_self):
        assert response.status_code == 400
        assert response.json() == {
            "ok": False,
            "error": "You cannot change the status of this staff member",
        }
    assert (await CenterStaff.get(id=manager.id)).status == StaffStatus.ACTIVE


async def test_staff_status_validation_and_guard(client: httpx.AsyncClient) -> None:
    center = await make_center()
    nurse = await make_staff(center)

    invalid = await client.patch(
        status_url(nurse), json={"status": "FIRED"}, headers=bearer(center)
    )
    by_staff = await client.patch(
        status_url(nurse), json={"status": "SUSPENDED"}, headers=bearer(nurse)
    )
    anonymous = await client.patch(status_url(nurse), json={"status": "SUSPENDED"})

    assert_validation_error(invalid, "status")
    actor_mismatch(by_staff)
    assert anonymous.status_code == 401
