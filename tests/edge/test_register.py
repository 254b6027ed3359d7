"""POST /api/v1/register/* (auth.md 4): check-profiles, patient, donor, center."""

from __future__ import annotations

import pytest

from edge.auth.throttle import PROFILE_PROBES, Throttle
from models.centers import ServiceCenter, ServiceCenterScreeningType
from models.enums import ProfileType, ServiceCenterStatus
from models.staff import CenterStaff
from models.tokens import EmailVerificationToken
from models.users import DonorProfile, PatientProfile, User
from tests.edge.support import email_jobs, issue_message, issue_paths
from tests.factories import (
    PASSWORD,
    add_patient_profile,
    make_center,
    make_donor,
    make_patient,
    make_screening_type,
    make_user,
)

PATIENT = {
    "email": "New.Patient@Example.com",
    "password": "secret-1",
    "fullName": "Amaka Eze",
    "phone": "08012345678",
    "dateOfBirth": "1991-03-04T00:00:00.000Z",
    "gender": "FEMALE",
    "state": "Enugu",
    "localGovernment": "Nsukka",
}
DONOR = {
    "email": "donor@example.com",
    "password": "secret-1",
    "fullName": "Tunde Bello",
    "phone": "08087654321",
    "organization": "Bello Foundation",
    "country": "Nigeria",
}


def center_body(services: list[str], **overrides: object) -> dict[str, object]:
    return {
        "centerName": "Hope Clinic",
        "email": "Hope@Clinic.example",
        "password": "secret-1",
        "phoneNumber": "08033333333",
        "address": "5 Hospital Road",
        "state": "Lagos",
        "localGovernment": "Surulere",
        "services": services,
        **overrides,
    }


# -- check-profiles -----------------------------------------------------------------------------


@pytest.fixture
async def clear_probe_limit(redis_url):
    """The per-IP limit is shared by every test from 127.0.0.1: start and end at zero."""
    import redis.asyncio as redis_asyncio

    from edge.auth.throttle import RedisLimiter

    key = Throttle(RedisLimiter(redis_url)).key(PROFILE_PROBES, "127.0.0.1")
    connection = redis_asyncio.Redis.from_url(redis_url)
    await connection.delete(key)
    yield
    await connection.delete(key)
    await connection.aclose()


async def test_check_profiles_lists_donor_then_patient(client, db, clear_probe_limit):
    user = await make_donor()
    await add_patient_profile(user)
    response = await client.post("/api/v1/register/check-profiles", json={"email": user.email})
    assert response.json() == {
        "ok": True,
        "message": "Profiles retrieved successfully",
        "data": {"profiles": ["DONOR", "PATIENT"]},
    }
    unknown = await client.post(
        "/api/v1/register/check-profiles", json={"email": "nobody@example.com"}
    )
    assert unknown.json()["data"] == {"profiles": []}
    invalid = await client.post("/api/v1/register/check-profiles", json={"email": "x"})
    assert invalid.status_code == 400
    assert issue_message(invalid.json(), "email") == "Please enter a valid email address."


async def test_check_profiles_allows_20_calls_a_minute_per_address(client, db, clear_probe_limit):
    statuses = [
        (await client.post("/api/v1/register/check-profiles", json={"email": "a@b.co"})).status_code
        for _ in range(21)
    ]
    assert statuses == [200] * 20 + [429]
    refused = await client.post("/api/v1/register/check-profiles", json={"email": "a@b.co"})
    assert refused.json()["err_code"] == "too_many_attempts"
    assert int(refused.headers["Retry-After"]) >= 1


# -- patient ------------------------------------------------------------------------------------


async def test_registering_a_patient_creates_the_account_profile_token_and_email(client, db):
    response = await client.post("/api/v1/register/patient", json=PATIENT)
    assert response.status_code == 201, response.text
    body = response.json()
    user = await User.get(email="new.patient@example.com")
    assert body == {
        "ok": True,
        "message": "Patient registered successfully",
        "data": {
            "patientId": user.id,
            "email": "new.patient@example.com",
            "fullName": "Amaka Eze",
            "phone": "08012345678",
            "dateOfBirth": "1991-03-04T00:00:00.000Z",
            "gender": "FEMALE",
            "state": "Enugu",
            "localGovernment": "Nsukka",
        },
    }
    profile = await PatientProfile.get(user_id=user.id)
    assert (profile.city, profile.state, profile.email_verified) == ("Nsukka", "Enugu", None)
    assert user.password_hash.startswith("$2b$10$")
    [token] = await EmailVerificationToken.filter(user_id=user.id)
    assert token.profile_type == ProfileType.PATIENT
    [email] = await email_jobs(to=user.email)
    assert email["template"] == "patient_verification"
    assert email["context"]["token"] == token.token
    assert "password" not in response.text.lower()


async def test_patient_registration_refuses_center_emails_and_existing_patients(client, db):
    center = await make_center()
    patient = await make_patient()
    as_center = await client.post(
        "/api/v1/register/patient", json={**PATIENT, "email": center.email}
    )
    assert (as_center.status_code, as_center.json()) == (
        409,
        {
            "ok": False,
            "err_code": "center_already_registered",
            "error": "Email already registered to a center",
        },
    )
    again = await client.post("/api/v1/register/patient", json={**PATIENT, "email": patient.email})
    assert (again.status_code, again.json()) == (
        409,
        {
            "ok": False,
            "err_code": "patient_already_registered",
            "error": "Email already registered",
        },
    )


async def test_a_donor_adds_a_patient_profile_only_with_the_accounts_password(client, db):
    donor = await make_donor(full_name="Kept Name")
    wrong = await client.post(
        "/api/v1/register/patient", json={**PATIENT, "email": donor.email, "password": "nope-123"}
    )
    assert wrong.status_code == 409
    assert wrong.json()["err_code"] == "patient_already_registered"
    assert not await PatientProfile.exists(user_id=donor.id)

    right = await client.post(
        "/api/v1/register/patient", json={**PATIENT, "email": donor.email, "password": PASSWORD}
    )
    assert right.status_code == 201
    assert right.json()["data"]["patientId"] == donor.id
    assert right.json()["data"]["fullName"] == "Kept Name"
    assert await PatientProfile.exists(user_id=donor.id)
    assert len(await email_jobs(to=donor.email, template="patient_verification")) == 1


async def test_invalid_patient_data_is_400_with_the_schema_messages(client, db):
    response = await client.post(
        "/api/v1/register/patient",
        json={
            **PATIENT,
            "email": "bad",
            "password": "1",
            "gender": "OTHER",
            "dateOfBirth": "2999-01-01",
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["err_code"] == "invalid_patient_data"
    assert issue_message(body, "email") == "Please enter a valid email address."
    assert issue_message(body, "password") == "Password must be at least 6 characters."
    assert issue_message(body, "gender") == "Please select a gender."
    assert issue_message(body, "dateOfBirth") == "Please enter a valid date of birth."
    missing = await client.post("/api/v1/register/patient", json={})
    assert issue_message(missing.json(), "dateOfBirth") == "Date of birth is required."
    assert issue_message(missing.json(), "gender") == "Please select a gender."
    assert await User.filter(email__not="donorpool@zerocancer.org").count() == 0


# -- donor --------------------------------------------------------------------------------------


async def test_registering_a_donor_stores_organization_and_country(client, db):
    response = await client.post("/api/v1/register/donor", json=DONOR)
    assert response.status_code == 201
    user = await User.get(email="donor@example.com")
    assert response.json() == {
        "ok": True,
        "message": "Donor registered successfully",
        "data": {
            "donorId": user.id,
            "email": "donor@example.com",
            "fullName": "Tunde Bello",
            "phone": "08087654321",
            "organization": "Bello Foundation",
        },
    }
    profile = await DonorProfile.get(user_id=user.id)
    assert (profile.organization_name, profile.country) == ("Bello Foundation", "Nigeria")
    [token] = await EmailVerificationToken.filter(user_id=user.id)
    assert token.profile_type == ProfileType.DONOR


async def test_donor_registration_refuses_existing_donors_and_wrong_passwords(client, db):
    donor = await make_donor()
    again = await client.post("/api/v1/register/donor", json={**DONOR, "email": donor.email})
    assert (again.status_code, again.json()["err_code"]) == (409, "donor_already_registered")
    patient = await make_patient()
    wrong = await client.post(
        "/api/v1/register/donor", json={**DONOR, "email": patient.email, "password": "nope-123"}
    )
    assert (wrong.status_code, wrong.json()["err_code"]) == (409, "donor_already_registered")
    right = await client.post(
        "/api/v1/register/donor", json={**DONOR, "email": patient.email, "password": PASSWORD}
    )
    assert right.status_code == 201
    assert right.json()["message"] == "Donor registered successfully"
    assert right.json()["data"]["donorId"] == patient.id


async def test_donor_registration_needs_no_optional_fields_and_validates_the_rest(client, db):
    minimal = {k: v for k, v in DONOR.items() if k not in ("organization", "country")}
    response = await client.post("/api/v1/register/donor", json=minimal)
    assert response.status_code == 201
    assert response.json()["data"]["organization"] == ""
    invalid = await client.post("/api/v1/register/donor", json={**DONOR, "phone": "123"})
    assert invalid.status_code == 400
    assert invalid.json()["err_code"] == "invalid_donor_data"
    assert issue_message(invalid.json(), "phone") == "Please enter a valid phone number."


async def test_a_user_with_both_profiles_gets_409_from_both_routes(client, db):
    user = await make_user()
    await add_patient_profile(user)
    from tests.factories import add_donor_profile

    await add_donor_profile(user)
    for path, body in (("patient", PATIENT), ("donor", DONOR)):
        response = await client.post(
            f"/api/v1/register/{path}", json={**body, "email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 409


# -- center -------------------------------------------------------------------------------------


async def test_registering_a_center_creates_it_inactive_with_offers_prices_and_owner(client, db):
    first = await make_screening_type(agreed_price=15000.0)
    second = await make_screening_type()
    services = [first.id, second.id, first.id]
    response = await client.post("/api/v1/register/center", json=center_body(services))
    assert response.status_code == 201, response.text
    center = await ServiceCenter.get(email="hope@clinic.example")
    assert response.json() == {
        "ok": True,
        "message": "Center registered successfully",
        "data": {
            "centerId": center.id,
            "centerName": "Hope Clinic",
            "email": "hope@clinic.example",
            "phoneNumber": "08033333333",
            "address": "5 Hospital Road",
            "state": "Lagos",
            "localGovernment": "Surulere",
            "services": [first.id, second.id],
        },
    }
    assert center.status == ServiceCenterStatus.INACTIVE
    assert (center.lga, center.bank_account) == ("Surulere", "")
    assert sorted(t.id for t in await center.services.all()) == sorted([first.id, second.id])
    prices = {
        row.screening_type_id: row.amount
        for row in await ServiceCenterScreeningType.filter(center_id=center.id)
    }
    assert prices == {first.id: 15000.0, second.id: 10000.0}
    [owner] = await CenterStaff.filter(center_id=center.id)
    assert (owner.email, owner.role, owner.password_hash) == (
        center.email,
        "ADMIN",
        center.password_hash,
    )
    assert owner.id != center.id
    assert await email_jobs() == []


async def test_center_registration_refuses_unknown_services_and_taken_emails(client, db):
    unknown = await client.post("/api/v1/register/center", json=center_body(["no-such-type"]))
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"ok": False, "err_code": "invalid_center_data", "error": "Some screening types not found"},
    )
    center = await make_center()
    taken = await client.post("/api/v1/register/center", json=center_body([], email=center.email))
    assert (taken.status_code, taken.json()) == (
        409,
        {"ok": False, "err_code": "center_already_registered", "error": "Email already registered"},
    )


async def test_invalid_center_data_is_400_invalid_center_data(client, db):
    body = center_body([], centerName="H", address="x")
    del body["services"]
    response = await client.post("/api/v1/register/center", json=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["err_code"] == "invalid_center_data"
    assert issue_message(payload, "centerName") == "Center name must be at least 2 characters."
    assert issue_message(payload, "address") == "Please enter a valid address."
    assert issue_message(payload, "services") == "Please select at least one service."
    assert ["services"] in issue_paths(payload)
