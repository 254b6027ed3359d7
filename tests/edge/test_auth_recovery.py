"""Password reset and e-mail verification for patients and donors (auth.md 3.5-3.8)."""

from __future__ import annotations

import datetime as dt

from models.base import utc_now
from models.enums import ProfileType
from models.jobs import Job
from models.tokens import EmailVerificationToken, PasswordResetToken
from models.users import DonorProfile, PatientProfile, User
from tests.edge.support import email_jobs, issue_message
from tests.factories import make_donor, make_patient, token_for

FORGOT = "/api/v1/auth/forgot-password"
RESET = "/api/v1/auth/reset-password"
VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/auth/resend-verification"


async def login(client, actor, email, password):
    return await client.post(
        f"/api/v1/auth/login?actor={actor}", json={"email": email, "password": password}
    )


# -- forgot / reset -----------------------------------------------------------------------------


async def test_forgot_password_stores_a_30_minute_token_and_enqueues_the_email(client, db):
    patient = await make_patient()
    response = await client.post(FORGOT, json={"email": patient.email.upper()})
    assert (response.status_code, response.json()) == (200, {"ok": True, "data": {}})
    [token] = await PasswordResetToken.filter(user_id=patient.id)
    assert len(token.token) == 64
    assert int(token.token, 16) >= 0
    lifetime = token.expires_at - utc_now()
    assert dt.timedelta(minutes=29) < lifetime <= dt.timedelta(minutes=30)
    [email] = await email_jobs(to=patient.email)
    assert email["template"] == "password_reset"
    assert email["context"]["token"] == token.token


async def test_forgot_password_for_an_unknown_email_answers_the_same_and_sends_nothing(client, db):
    response = await client.post(FORGOT, json={"email": "nobody@example.com"})
    assert (response.status_code, response.json()) == (200, {"ok": True, "data": {}})
    assert await Job.all().count() == 0


async def test_a_new_reset_token_replaces_the_earlier_one(client, db):
    donor = await make_donor()
    await client.post(FORGOT, json={"email": donor.email})
    await client.post(FORGOT, json={"email": donor.email})
    assert await PasswordResetToken.filter(user_id=donor.id).count() == 1


async def test_at_most_five_reset_emails_an_hour_per_account(client, db):
    patient = await make_patient()
    for _ in range(7):
        response = await client.post(FORGOT, json={"email": patient.email})
        assert response.status_code == 200
    assert len(await email_jobs(to=patient.email)) == 5


async def test_forgot_password_validates_the_email(client):
    for body in ({}, {"email": "not-an-email"}):
        response = await client.post(FORGOT, json=body)
        assert response.status_code == 400
        assert response.json()["error"]["issues"][0]["path"] == ["email"]
        assert "err_code" not in response.json()


async def test_reset_password_sets_the_password_and_ends_other_sessions(client, db):
    patient = await make_patient()
    old_refresh = token_for(patient, typ="refresh", iat=int(utc_now().timestamp()) - 60)
    await client.post(FORGOT, json={"email": patient.email})
    await client.post(FORGOT, json={"email": patient.email})
    [token] = await PasswordResetToken.filter(user_id=patient.id)
    response = await client.post(RESET, json={"token": token.token, "password": "brand-new-1"})
    assert (response.status_code, response.json()) == (200, {"ok": True, "data": {}})
    assert await PasswordResetToken.filter(user_id=patient.id).count() == 0
    assert (await login(client, "patient", patient.email, "brand-new-1")).status_code == 200
    assert (await login(client, "patient", patient.email, "correct-horse-1")).status_code == 400
    refreshed = await client.post(
        "/api/v1/auth/refresh", headers={"Cookie": f"refreshToken={old_refresh}"}
    )
    assert refreshed.status_code == 403
    stored = await User.get(id=patient.id)
    assert stored.password_hash.startswith("$2b$10$")


async def test_reset_password_refuses_unknown_and_expired_tokens(client, db):
    patient = await make_patient()
    expired = await PasswordResetToken.create(
        user_id=patient.id, token="e" * 64, expires_at=utc_now() - dt.timedelta(seconds=1)
    )
    for token in ("f" * 64, expired.token):
        response = await client.post(RESET, json={"token": token, "password": "brand-new-1"})
        assert response.status_code == 400
        assert response.json() == {"ok": False, "error": "Invalid or expired token."}


async def test_reset_password_validates_token_and_password(client):
    response = await client.post(RESET, json={"password": "123"})
    assert response.status_code == 400
    body = response.json()
    assert issue_message(body, "password") == "Password must be at least 6 characters."
    assert ["token"] in [issue["path"] for issue in body["error"]["issues"]]


async def test_reset_password_with_malformed_json_is_a_400_envelope(client):
    response = await client.post(RESET, content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["issues"][0]["code"] == "invalid_json"


# -- verify / resend ----------------------------------------------------------------------------


async def test_verify_email_marks_that_profile_verified_and_consumes_the_token(client, db):
    patient = await make_patient(verified=False)
    token = await EmailVerificationToken.create(
        user_id=patient.id,
        token="a" * 64,
        profile_type=ProfileType.PATIENT,
        expires_at=utc_now() + dt.timedelta(hours=1),
    )
    response = await client.post(VERIFY, json={"token": token.token})
    assert (response.status_code, response.json()) == (200, {"ok": True, "data": {}})
    profile = await PatientProfile.get(user_id=patient.id)
    assert profile.email_verified is not None
    assert not await EmailVerificationToken.exists(id=token.id)
    assert (await login(client, "patient", patient.email, "correct-horse-1")).status_code == 200


async def test_verify_email_refuses_unknown_expired_and_profile_less_tokens(client, db):
    donor = await make_donor(verified=False)
    await EmailVerificationToken.create(
        user_id=donor.id,
        token="b" * 64,
        profile_type=ProfileType.DONOR,
        expires_at=utc_now() - dt.timedelta(minutes=1),
    )
    await EmailVerificationToken.create(
        user_id=donor.id,
        token="c" * 64,
        profile_type=ProfileType.PATIENT,
        expires_at=utc_now() + dt.timedelta(hours=1),
    )
    for token, error in (
        ("d" * 64, "Invalid or expired token."),
        ("b" * 64, "Invalid or expired token."),
        ("c" * 64, "Invalid profile type for email verification."),
    ):
        response = await client.post(VERIFY, json={"token": token})
        assert (response.status_code, response.json()) == (400, {"ok": False, "error": error})
    assert (await client.post(VERIFY, json={})).status_code == 400


async def test_resend_verification_accepts_lower_case_profile_types(client, db):
    patient = await make_patient(verified=False)
    response = await client.post(RESEND, json={"email": patient.email, "profileType": "patient"})
    assert (response.status_code, response.json()) == (200, {"ok": True, "data": {}})
    [token] = await EmailVerificationToken.filter(user_id=patient.id)
    assert token.profile_type == ProfileType.PATIENT
    lifetime = token.expires_at - utc_now()
    assert dt.timedelta(hours=23) < lifetime <= dt.timedelta(hours=24)
    [email] = await email_jobs(to=patient.email, template="resend_verification")
    assert email["context"]["token"] == token.token


async def test_resend_verification_answers_already_verified_and_sends_nothing(client, db):
    donor = await make_donor(verified=True)
    response = await client.post(RESEND, json={"email": donor.email, "profileType": "DONOR"})
    assert response.json() == {"ok": True, "data": {"message": "Already verified."}}
    assert await email_jobs() == []


async def test_resend_verification_for_unknown_users_or_missing_profiles_sends_nothing(client, db):
    donor = await make_donor(verified=False)
    for body in (
        {"email": "nobody@example.com", "profileType": "DONOR"},
        {"email": donor.email, "profileType": "PATIENT"},
    ):
        response = await client.post(RESEND, json=body)
        assert response.json() == {"ok": True, "data": {}}
    assert await email_jobs() == []
    assert await DonorProfile.filter(user_id=donor.id, email_verified__isnull=True).exists()


async def test_resend_verification_validates_email_and_profile_type(client):
    response = await client.post(RESEND, json={"email": "x", "profileType": "ADMIN"})
    assert response.status_code == 400
    paths = [issue["path"] for issue in response.json()["error"]["issues"]]
    assert paths == [["email"], ["profileType"]]
