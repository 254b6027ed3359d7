"""Admin accounts: /api/v1/admin login, forgot-password, reset-password, create (auth.md 6)."""

from __future__ import annotations

import datetime as dt

from models.base import utc_now
from models.tokens import AdminResetToken
from models.users import Admins
from tests.edge.support import decode, email_jobs, issue_message, refresh_cookie_value
from tests.factories import PASSWORD, bearer, make_admin, make_center, token_for

BASE = "/api/v1/admin"


async def admin_login(client, email, password=PASSWORD):
    return await client.post(f"{BASE}/login", json={"email": email, "password": password})


async def test_an_admin_logs_in_with_an_8_hour_access_token(client, db):
    admin = await make_admin(full_name="Ngozi Admin")
    response = await admin_login(client, admin.email)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["user"] == {
        "userId": admin.id,
        "email": admin.email,
        "fullName": "Ngozi Admin",
        "profile": "ADMIN",
    }
    claims = decode(data["token"])
    assert (claims["profile"], claims["exp"] - claims["iat"]) == ("ADMIN", 28_800)
    refresh = decode(refresh_cookie_value(response))
    assert refresh["exp"] - refresh["iat"] == 604_800


async def test_admin_login_refuses_wrong_passwords_and_unknown_admins_with_401(client, db):
    admin = await make_admin()
    for email, password in ((admin.email, "wrong-password"), ("nobody@example.com", PASSWORD)):
        response = await admin_login(client, email, password)
        assert (response.status_code, response.json()) == (
            401,
            {"ok": False, "error": "Invalid credentials"},
        )


async def test_admin_login_validates_its_body(client):
    response = await client.post(f"{BASE}/login", json={"email": "x", "password": "short"})
    assert response.status_code == 400
    body = response.json()
    assert issue_message(body, "email") == "Please enter a valid email address"
    assert issue_message(body, "password") == "Password must be at least 8 characters"


async def test_admin_forgot_password_stores_a_24_hex_token_and_enqueues_the_email(client, db):
    admin = await make_admin()
    for email in (admin.email, "nobody@example.com"):
        response = await client.post(f"{BASE}/forgot-password", json={"email": email})
        assert response.json() == {"ok": True, "data": {"message": "Reset email sent"}}
    [token] = await AdminResetToken.filter(admin_id=admin.id)
    assert len(token.token) == 24
    assert int(token.token, 16) >= 0
    assert dt.timedelta(minutes=59) < token.expires_at - utc_now() <= dt.timedelta(hours=1)
    [email] = await email_jobs()
    assert (email["to"], email["template"]) == (admin.email, "admin_password_reset")
    assert email["context"]["token"] == token.token


async def test_admin_reset_sets_the_password_once(client, db):
    admin = await make_admin()
    old_refresh = token_for(admin, typ="refresh", iat=int(utc_now().timestamp()) - 60)
    await AdminResetToken.create(
        admin_id=admin.id, token="0a" * 12, expires_at=utc_now() + dt.timedelta(hours=1)
    )
    body = {"token": "0a" * 12, "password": "new-admin-pass"}
    response = await client.post(f"{BASE}/reset-password", json=body)
    assert response.json() == {"ok": True, "data": {"message": "Password reset successful"}}
    assert (await admin_login(client, admin.email, "new-admin-pass")).status_code == 200
    again = await client.post(f"{BASE}/reset-password", json=body)
    assert (again.status_code, again.json()) == (
        400,
        {"ok": False, "error": "Invalid or expired reset token"},
    )
    refreshed = await client.post(
        "/api/v1/auth/refresh", headers={"Cookie": f"refreshToken={old_refresh}"}
    )
    assert refreshed.status_code == 403


async def test_an_admin_creates_another_admin(client, db):
    admin = await make_admin()
    body = {"fullName": "Second Admin", "email": "Second@Admin.example", "password": "second-pass"}
    response = await client.post(f"{BASE}/create", headers=bearer(admin), json=body)
    assert response.status_code == 200
    created = await Admins.get(email="second@admin.example")
    assert response.json() == {
        "ok": True,
        "data": {
            "adminId": created.id,
            "email": "second@admin.example",
            "fullName": "Second Admin",
        },
    }
    assert "password" not in response.text.lower()
    assert (await admin_login(client, "second@admin.example", "second-pass")).status_code == 200
    again = await client.post(f"{BASE}/create", headers=bearer(admin), json=body)
    assert (again.status_code, again.json()) == (
        409,
        {"ok": False, "error": "Admin with this email already exists"},
    )


async def test_admin_create_needs_an_admin_token_and_a_valid_body(client, db):
    body = {"fullName": "X", "email": "x@example.com", "password": "long-enough"}
    anonymous = await client.post(f"{BASE}/create", json=body)
    assert anonymous.status_code == 401
    center = await make_center()
    as_center = await client.post(f"{BASE}/create", headers=bearer(center), json=body)
    assert as_center.status_code == 403
    admin = await make_admin()
    invalid = await client.post(
        f"{BASE}/create",
        headers=bearer(admin),
        json={"fullName": "", "email": "x", "password": "1"},
    )
    assert invalid.status_code == 400
    assert issue_message(invalid.json(), "fullName") == "Full name is required"
