"""POST /api/v1/auth/login (auth.md 3.1): patients, donors and centers."""

from __future__ import annotations

import pytest

from tests.edge.support import decode, issue_message, refresh_cookie_value, set_cookies
from tests.factories import (
    PASSWORD,
    add_donor_profile,
    make_center,
    make_donor,
    make_patient,
    make_user,
)

LOGIN = "/api/v1/auth/login"


async def login(client, actor, email, password=PASSWORD):
    return await client.post(f"{LOGIN}?actor={actor}", json={"email": email, "password": password})


async def test_a_verified_patient_logs_in_and_gets_a_token_and_the_refresh_cookie(client, db):
    patient = await make_patient(full_name="Ada Obi")
    response = await login(client, "patient", patient.email)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["data"]["user"] == {
        "userId": patient.id,
        "fullName": "Ada Obi",
        "email": patient.email,
        "profile": "PATIENT",
    }
    claims = decode(body["data"]["token"])
    assert (claims["id"], claims["email"], claims["profile"], claims["typ"]) == (
        patient.id,
        patient.email,
        "PATIENT",
        "access",
    )
    assert claims["exp"] - claims["iat"] == 300
    [cookie] = set_cookies(response)
    token = refresh_cookie_value(response)
    assert cookie == (
        f"refreshToken={token}; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=None"
    )
    refresh = decode(token)
    assert refresh["typ"] == "refresh"
    assert refresh["exp"] - refresh["iat"] == 604_800
    assert "passwordHash" not in response.text
    assert "$2b$" not in response.text


async def test_email_lookup_is_case_insensitive(client, db):
    donor = await make_donor()
    response = await login(client, "donor", donor.email.upper())
    assert response.status_code == 200
    assert response.json()["data"]["user"]["profile"] == "DONOR"


async def test_a_center_logs_in_with_its_own_password_and_name(client, db):
    center = await make_center(center_name="Hope Clinic")
    response = await login(client, "center", center.email)
    assert response.status_code == 200
    user = response.json()["data"]["user"]
    assert user == {
        "userId": center.id,
        "fullName": "Hope Clinic",
        "email": center.email,
        "profile": "CENTER",
    }
    assert decode(response.json()["data"]["token"])["id"] == center.id


@pytest.mark.parametrize("actor", ["patient", "donor", "center"])
async def test_wrong_password_and_unknown_account_answer_the_same_400(client, db, actor):
    patient = await make_patient()
    wrong = await login(client, actor, patient.email, "wrong-password")
    unknown = await login(client, actor, "nobody-" + patient.email, "wrong-password")
    expected = {
        "ok": False,
        "err_code": "invalid_credentials",
        "error": f"Invalid {actor} email or password.",
    }
    assert (wrong.status_code, wrong.json()) == (400, expected)
    assert (unknown.status_code, unknown.json()) == (400, expected)


async def test_a_user_without_the_requested_profile_gets_invalid_credentials(client, db):
    donor = await make_donor()
    response = await login(client, "patient", donor.email)
    assert response.status_code == 400
    assert response.json()["err_code"] == "invalid_credentials"


async def test_an_unverified_profile_is_refused_only_after_a_correct_password(client, db):
    patient = await make_patient(verified=False)
    wrong = await login(client, "patient", patient.email, "wrong-password")
    assert wrong.status_code == 400
    right = await login(client, "patient", patient.email)
    assert right.status_code == 403
    assert right.json() == {
        "ok": False,
        "err_code": "email_not_verified",
        "error": "Email not verified. Please verify your email first.",
    }


async def test_only_the_profile_being_used_must_be_verified(client, db):
    user = await make_user()
    await add_donor_profile(user, verified=True)
    from tests.factories import add_patient_profile

    await add_patient_profile(user, verified=False)
    assert (await login(client, "donor", user.email)).status_code == 200
    assert (await login(client, "patient", user.email)).status_code == 403


async def test_an_invalid_body_is_400_invalid_credentials_with_the_schema_messages(client):
    response = await client.post(f"{LOGIN}?actor=patient", json={"email": "nope", "password": "1"})
    assert response.status_code == 400
    body = response.json()
    assert body["err_code"] == "invalid_credentials"
    assert issue_message(body, "email") == "Please enter a valid email address."
    assert issue_message(body, "password") == "Password is required."


async def test_the_body_is_checked_before_the_actor(client):
    response = await client.post(f"{LOGIN}?actor=nobody", json={})
    assert response.status_code == 400
    assert response.json()["err_code"] == "invalid_credentials"


@pytest.mark.parametrize("query", ["", "?actor=", "?actor=admin", "?actor=staff"])
async def test_a_missing_unknown_or_admin_actor_is_invalid_actor(client, query):
    response = await client.post(LOGIN + query, json={"email": "a@b.co", "password": "secret1"})
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "err_code": "invalid_actor",
        "error": "Actor type is required and must be one of: patient, donor, center.",
    }


async def test_the_general_pool_system_user_cannot_log_in(client, db):
    response = await login(client, "donor", "donorpool@zerocancer.org", "password")
    assert response.status_code == 400


async def test_ten_failures_lock_the_pair_out_with_retry_after_until_a_success_is_possible(
    client, db
):
    patient = await make_patient()
    for _ in range(10):
        assert (await login(client, "patient", patient.email, "wrong-password")).status_code == 400
    locked = await login(client, "patient", patient.email)
    assert locked.status_code == 429
    assert locked.json() == {
        "ok": False,
        "err_code": "too_many_attempts",
        "error": "Too many attempts. Please try again later.",
    }
    assert 1 <= int(locked.headers["Retry-After"]) <= 900
    # Another account from the same address is not affected.
    other = await make_patient()
    assert (await login(client, "patient", other.email)).status_code == 200


async def test_a_successful_login_resets_the_failure_count(client, db):
    donor = await make_donor()
    for _ in range(9):
        await login(client, "donor", donor.email, "wrong-password")
    assert (await login(client, "donor", donor.email)).status_code == 200
    for _ in range(9):
        await login(client, "donor", donor.email, "wrong-password")
    assert (await login(client, "donor", donor.email)).status_code == 200
