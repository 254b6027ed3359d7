"""Center staff accounts: /api/v1/center/staff create-new-password, forgot, reset, login."""

from __future__ import annotations

import datetime as dt

from actors.contracts.outbox import Requester
from edge.services.staff_accounts import invite_staff
from models.base import utc_now
from models.centers import ServiceCenter
from models.enums import StaffStatus
from models.staff import CenterStaff, CenterStaffInvite
from models.tokens import CenterStaffResetToken
from tests.edge.support import decode, email_jobs, issue_message, refresh_cookie_value
from tests.factories import PASSWORD, make_center, make_staff, owner_staff, token_for

BASE = "/api/v1/center/staff"


async def make_invite(center, email="new.nurse@example.com", **fields):
    return await CenterStaffInvite.create(
        center_id=center.id,
        email=email,
        token=fields.pop("token", "a1" * 32),
        expires_at=fields.pop("expires_at", utc_now() + dt.timedelta(days=7)),
        **fields,
    )


async def staff_login(client, center_id, email, password=PASSWORD):
    return await client.post(
        f"{BASE}/login", json={"centerId": center_id, "email": email, "password": password}
    )


# -- create-new-password (accepting an invite) --------------------------------------------------


async def test_accepting_an_invite_creates_the_staff_account_and_marks_it_accepted(client, db):
    center = await make_center()
    invite = await make_invite(center)
    response = await client.post(
        f"{BASE}/create-new-password", json={"token": invite.token, "password": "nurse-pass-1"}
    )
    assert response.status_code == 200
    staff = await CenterStaff.get(center_id=center.id, email="new.nurse@example.com")
    assert response.json() == {"ok": True, "data": {"staffId": staff.id}}
    assert (staff.role, staff.status) == (None, StaffStatus.ACTIVE)
    assert (await CenterStaffInvite.get(id=invite.id)).accepted_at is not None
    login = await staff_login(client, center.id, "new.nurse@example.com", "nurse-pass-1")
    assert login.status_code == 200


async def test_an_unknown_accepted_or_expired_invite_is_refused(client, db):
    center = await make_center()
    await make_invite(center, token="b2" * 32, accepted_at=utc_now())
    await make_invite(center, token="c3" * 32, expires_at=utc_now() - dt.timedelta(seconds=1))
    for token in ("d4" * 32, "b2" * 32, "c3" * 32):
        response = await client.post(
            f"{BASE}/create-new-password", json={"token": token, "password": "nurse-pass-1"}
        )
        assert (response.status_code, response.json()) == (
            400,
            {"ok": False, "error": "Invalid or expired invite token"},
        )


async def test_an_invite_for_an_existing_staff_email_is_409_and_stays_unaccepted(client, db):
    center = await make_center()
    staff = await make_staff(center)
    invite = await make_invite(center, email=staff.email.upper())
    response = await client.post(
        f"{BASE}/create-new-password", json={"token": invite.token, "password": "nurse-pass-1"}
    )
    assert (response.status_code, response.json()) == (
        409,
        {"ok": False, "error": "Staff account already exists for this email"},
    )
    assert (await CenterStaffInvite.get(id=invite.id)).accepted_at is None


async def test_create_new_password_validates_token_and_password(client):
    response = await client.post(
        f"{BASE}/create-new-password", json={"token": "short", "password": "1234567"}
    )
    assert response.status_code == 400
    body = response.json()
    assert "err_code" not in body
    assert issue_message(body, "password") == "Password must be at least 8 characters"
    assert ["token"] in [issue["path"] for issue in body["error"]["issues"]]


async def test_the_invite_service_writes_one_invite_and_email_per_address(db):
    center = await make_center(center_name="Hope Clinic")
    invites = await invite_staff(
        center,
        ["A@x.example", "a@x.example ", "b@x.example"],
        requested_by=Requester("center", center.id),
    )
    assert [invite.email for invite in invites] == ["a@x.example", "b@x.example"]
    jobs = await email_jobs(template="staff_invite")
    assert [(job["to"], job["context"]["center_name"]) for job in jobs] == [
        ("a@x.example", "Hope Clinic"),
        ("b@x.example", "Hope Clinic"),
    ]
    assert jobs[0]["context"]["token"] == invites[0].token


# -- forgot / reset -----------------------------------------------------------------------------


async def test_staff_forgot_password_answers_the_same_for_unknown_staff(client, db):
    center = await make_center()
    staff = await make_staff(center)
    known = await client.post(
        f"{BASE}/forgot-password", json={"centerId": center.id, "email": staff.email}
    )
    unknown = await client.post(
        f"{BASE}/forgot-password", json={"centerId": center.id, "email": "nobody@example.com"}
    )
    for response in (known, unknown):
        assert (response.status_code, response.json()) == (
            200,
            {"ok": True, "data": {"message": "Reset email sent"}},
        )
    [token] = await CenterStaffResetToken.filter(staff_id=staff.id)
    assert len(token.token) == 64
    assert dt.timedelta(minutes=59) < token.expires_at - utc_now() <= dt.timedelta(hours=1)
    [email] = await email_jobs()
    assert (email["to"], email["template"]) == (staff.email, "staff_password_reset")
    assert email["context"]["token"] == token.token


async def test_staff_reset_sets_the_password_and_ends_sessions(client, db):
    center = await make_center()
    staff = await make_staff(center)
    old_refresh = token_for(staff, typ="refresh", iat=int(utc_now().timestamp()) - 60)
    token = await CenterStaffResetToken.create(
        staff_id=staff.id, token="e5" * 32, expires_at=utc_now() + dt.timedelta(hours=1)
    )
    response = await client.post(
        f"{BASE}/reset-password", json={"token": token.token, "password": "new-staff-pass"}
    )
    assert response.json() == {"ok": True, "data": {"message": "Password reset successful"}}
    assert (await staff_login(client, center.id, staff.email, "new-staff-pass")).status_code == 200
    assert await CenterStaffResetToken.filter(staff_id=staff.id).count() == 0
    refreshed = await client.post(
        "/api/v1/auth/refresh", headers={"Cookie": f"refreshToken={old_refresh}"}
    )
    assert refreshed.status_code == 403
    center_row = await ServiceCenter.get(id=center.id)
    assert center_row.password_hash != (await CenterStaff.get(id=staff.id)).password_hash


async def test_resetting_the_owner_row_also_resets_the_centers_password(client, db):
    center = await make_center()
    owner = await owner_staff(center)
    await CenterStaffResetToken.create(
        staff_id=owner.id, token="f6" * 32, expires_at=utc_now() + dt.timedelta(hours=1)
    )
    response = await client.post(
        f"{BASE}/reset-password", json={"token": "f6" * 32, "password": "owner-new-pass"}
    )
    assert response.status_code == 200
    login = await client.post(
        "/api/v1/auth/login?actor=center",
        json={"email": center.email, "password": "owner-new-pass"},
    )
    assert login.status_code == 200


async def test_staff_reset_refuses_unknown_and_expired_tokens(client, db):
    staff = await make_staff()
    await CenterStaffResetToken.create(
        staff_id=staff.id, token="a7" * 32, expires_at=utc_now() - dt.timedelta(seconds=1)
    )
    for token in ("a7" * 32, "b8" * 32):
        response = await client.post(
            f"{BASE}/reset-password", json={"token": token, "password": "new-staff-pass"}
        )
        assert (response.status_code, response.json()) == (
            400,
            {"ok": False, "error": "Invalid or expired reset token"},
        )


# -- login --------------------------------------------------------------------------------------


async def test_the_owner_logs_in_as_center_whatever_the_role_case(client, db):
    center = await make_center()
    owner = await owner_staff(center)  # role "ADMIN" as registration writes it
    response = await staff_login(client, center.id, owner.email)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["user"] == {
        "userId": owner.id,
        "email": owner.email,
        "profile": "CENTER",
        "centerId": center.id,
    }
    claims = decode(data["token"])
    assert (claims["id"], claims["profile"], claims["staffId"]) == (center.id, "CENTER", owner.id)
    assert decode(refresh_cookie_value(response))["staffId"] == owner.id


async def test_other_staff_log_in_as_center_staff(client, db):
    center = await make_center()
    nurse = await make_staff(center, role="nurse")
    response = await staff_login(client, center.id, nurse.email)
    assert response.json()["data"]["user"]["profile"] == "CENTER_STAFF"
    assert decode(response.json()["data"]["token"])["profile"] == "CENTER_STAFF"


async def test_wrong_credentials_are_401_and_a_suspended_account_403(client, db):
    center = await make_center()
    staff = await make_staff(center, status=StaffStatus.SUSPENDED)
    wrong = await staff_login(client, center.id, staff.email, "wrong-password")
    assert (wrong.status_code, wrong.json()) == (401, {"ok": False, "error": "Invalid credentials"})
    other_center = await make_center()
    elsewhere = await staff_login(client, other_center.id, staff.email)
    assert elsewhere.status_code == 401
    suspended = await staff_login(client, center.id, staff.email)
    assert (suspended.status_code, suspended.json()) == (
        403,
        {"ok": False, "error": "Staff account suspended"},
    )


async def test_staff_login_validates_its_body(client):
    response = await client.post(
        f"{BASE}/login", json={"centerId": "", "email": "x", "password": "short"}
    )
    assert response.status_code == 400
    paths = [issue["path"] for issue in response.json()["error"]["issues"]]
    assert paths == [["centerId"], ["email"], ["password"]]


async def test_a_suspended_staff_members_refresh_token_stops_working(client, db):
    center = await make_center()
    staff = await make_staff(center)
    token = token_for(staff, typ="refresh")
    assert (
        await client.post("/api/v1/auth/refresh", headers={"Cookie": f"refreshToken={token}"})
    ).status_code == 200
    await CenterStaff.filter(id=staff.id).update(status=StaffStatus.SUSPENDED)
    refused = await client.post("/api/v1/auth/refresh", headers={"Cookie": f"refreshToken={token}"})
    assert refused.status_code == 403
