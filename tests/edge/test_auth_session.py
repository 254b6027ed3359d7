"""GET /auth/me, POST /auth/refresh and /auth/logout, and the role guard (auth.md 2.4, 3.2-3.4)."""

from __future__ import annotations

import time

import jwt

from models.auth import TokenRevocation
from models.users import Admins
from tests.edge.support import decode, refresh_cookie_value, set_cookies
from tests.factories import (
    bearer,
    make_admin,
    make_center,
    make_donor,
    make_patient,
    make_staff,
    settings,
    token_for,
)

ME = "/api/v1/auth/me"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
CLEARED = "refreshToken=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=None"


async def refresh_with(client, token: str | None, query: str = ""):
    cookies = {"refreshToken": token} if token is not None else {}
    return await client.post(REFRESH + query, headers=cookie_header(cookies))


def cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    # Sent by hand: the shared client must not keep cookies between tests.
    if not cookies:
        return {}
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


# -- /auth/me and the guard ---------------------------------------------------------------------


async def test_me_answers_each_profile_with_its_own_account(client, db):
    patient = await make_patient(full_name="Ada Obi")
    donor = await make_donor(full_name="Chidi Okafor")
    admin = await make_admin(full_name="Ngozi Admin")
    center = await make_center(center_name="Hope Clinic")
    staff = await make_staff(center)
    expected = [
        (
            patient,
            {"id": patient.id, "fullName": "Ada Obi", "email": patient.email, "profile": "PATIENT"},
        ),
        (
            donor,
            {"id": donor.id, "fullName": "Chidi Okafor", "email": donor.email, "profile": "DONOR"},
        ),
        (
            admin,
            {"id": admin.id, "fullName": "Ngozi Admin", "email": admin.email, "profile": "ADMIN"},
        ),
        (
            center,
            {
                "id": center.id,
                "fullName": "Hope Clinic",
                "email": center.email,
                "profile": "CENTER",
            },
        ),
        # Staff tokens answer with the center (its id is what the web client uses).
        (
            staff,
            {
                "id": center.id,
                "fullName": "Hope Clinic",
                "email": center.email,
                "profile": "CENTER_STAFF",
            },
        ),
    ]
    for account, user in expected:
        response = await client.get(ME, headers=bearer(account))
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True, "data": {"user": user}}


async def test_me_answers_404_when_the_account_no_longer_exists(client, db):
    admin = await make_admin()
    headers = bearer(admin)
    await Admins.filter(id=admin.id).delete()
    response = await client.get(ME, headers=headers)
    assert (response.status_code, response.json()) == (
        404,
        {"ok": False, "error": "Admin not found"},
    )


async def test_no_token_is_401_invalid_request_with_a_bearer_challenge(client):
    response = await client.get(ME)
    assert response.status_code == 401
    assert response.json() == {"ok": False, "err_code": "invalid_request", "error": "Unauthorized"}
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="{client.base_url}{ME}",error="invalid_request",'
        'error_description="no authorization included in request"'
    )


async def test_a_malformed_authorization_header_is_401_invalid_request(client):
    response = await client.get(ME, headers={"Authorization": "Bearer a b"})
    assert response.status_code == 401
    assert response.json()["err_code"] == "invalid_request"
    assert (
        'error_description="invalid credentials structure"' in response.headers["WWW-Authenticate"]
    )


async def test_a_bad_expired_or_refresh_token_is_401_invalid_token(client, db):
    patient = await make_patient()
    for headers in (
        {"Authorization": "Bearer not-a-jwt"},
        bearer(patient, ttl=-10),
        bearer(patient, typ="refresh"),
    ):
        response = await client.get(ME, headers=headers)
        assert response.status_code == 401
        assert response.json()["err_code"] == "invalid_token"


async def test_a_reference_token_without_typ_still_works_until_it_expires(client, db):
    patient = await make_patient()
    legacy = jwt.encode(
        {
            "id": patient.id,
            "email": patient.email,
            "profile": "PATIENT",
            "exp": int(time.time()) + 60,
        },
        settings().jwt_token_secret,
        algorithm="HS256",
    )
    response = await client.get(ME, headers={"Authorization": f"Bearer {legacy}"})
    assert response.status_code == 200


async def test_a_valid_token_of_another_profile_is_403_actor_mismatch(client, db):
    patient = await make_patient()
    response = await client.post(
        "/api/v1/admin/create",
        headers=bearer(patient),
        json={"fullName": "X", "email": "x@example.com", "password": "long-enough"},
    )
    assert response.status_code == 403
    assert response.json() == {
        "ok": False,
        "message": "Forbidden: actor mismatch",
        "error": "Forbidden: actor mismatch",
    }


# -- /auth/refresh ------------------------------------------------------------------------------


async def test_refresh_issues_a_new_access_token_and_rotates_the_cookie(client, db):
    donor = await make_donor()
    login = await client.post(
        "/api/v1/auth/login?actor=donor", json={"email": donor.email, "password": "correct-horse-1"}
    )
    refresh_token = refresh_cookie_value(login)
    response = await refresh_with(client, refresh_token)
    assert response.status_code == 200
    token = response.json()["data"]["token"]
    claims = decode(token)
    assert (claims["id"], claims["profile"], claims["typ"]) == (donor.id, "DONOR", "access")
    assert claims["exp"] - claims["iat"] == 300
    assert refresh_cookie_value(response) != refresh_token
    assert (await client.get(ME, headers={"Authorization": f"Bearer {token}"})).status_code == 200
    # Rotation does not revoke the previous refresh token (parallel tabs keep working).
    assert (await refresh_with(client, refresh_token)).status_code == 200


async def test_admins_get_a_5_minute_access_token_on_refresh(client, db):
    admin = await make_admin()
    response = await refresh_with(client, token_for(admin, typ="refresh", ttl=604_800))
    claims = decode(response.json()["data"]["token"])
    assert claims["exp"] - claims["iat"] == 300


async def test_refresh_without_a_cookie_is_403_missing_refresh_token(client):
    response = await refresh_with(client, None)
    assert response.status_code == 403
    assert response.json() == {
        "ok": False,
        "err_code": "missing_refresh_token",
        "error": "No refresh token provided.",
    }
    assert set_cookies(response) == []


async def test_a_retry_with_a_cookie_is_403_no_session(client, db):
    patient = await make_patient()
    response = await refresh_with(client, token_for(patient, typ="refresh"), "?retry=false")
    assert response.status_code == 403
    assert response.json() == {"ok": False, "err_code": "no_session", "error": "No session found"}


async def test_an_invalid_refresh_cookie_is_403_and_clears_the_cookie(client, db):
    patient = await make_patient()
    for token in (
        "garbage",
        token_for(patient, typ="access"),
        token_for(patient, typ="refresh", ttl=-5),
    ):
        response = await refresh_with(client, token)
        assert response.status_code == 403
        assert response.json() == {
            "ok": False,
            "err_code": "invalid_refresh_token",
            "error": "Refresh token is invalid or expired.",
        }
        assert set_cookies(response) == [CLEARED]


async def test_refresh_refuses_tokens_of_accounts_that_no_longer_exist(client, db):
    admin = await make_admin()
    token = token_for(admin, typ="refresh")
    await Admins.filter(id=admin.id).delete()
    assert (await refresh_with(client, token)).status_code == 403


# -- /auth/logout -------------------------------------------------------------------------------


async def test_logout_revokes_the_refresh_token_and_clears_the_cookie(client, db):
    patient = await make_patient()
    token = token_for(patient, typ="refresh")
    response = await client.post(LOGOUT, headers=cookie_header({"refreshToken": token}))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "data": {"message": "Logged out successfully."}}
    assert set_cookies(response) == [CLEARED]
    assert await TokenRevocation.exists(jti=decode(token)["jti"])
    assert (await refresh_with(client, token)).status_code == 403


async def test_logout_always_succeeds_without_or_with_a_bad_cookie(client):
    for headers in ({}, cookie_header({"refreshToken": "garbage"})):
        response = await client.post(LOGOUT, headers=headers)
        assert response.status_code == 200
        assert set_cookies(response) == [CLEARED]
