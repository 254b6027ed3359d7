"""/api/v1/admin/centers and /api/v1/admin/users (admin.md §3, §4)."""

from __future__ import annotations

import httpx
import pytest

from models.centers import ServiceCenter
from models.enums import ServiceCenterStatus
from models.jobs import Job
from tests.edge.factories_appointments import assert_error, assert_issue, booking_world
from tests.edge.factories_appointments import make_appointment as appointment_for
from tests.factories import (
    add_donor_profile,
    add_patient_profile,
    bearer,
    make_admin,
    make_center,
    make_donor,
    make_patient,
    make_screening_type,
    make_user,
)

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/admin"


async def test_admin_routes_need_an_admin_token(client: httpx.AsyncClient) -> None:
    patient = await make_patient()

    for path in ("/centers", "/users", "/campaigns", "/appointments", "/transactions"):
        assert (await client.get(BASE + path)).status_code == 401
        refused = await client.get(BASE + path, headers=bearer(patient))
        assert refused.status_code == 403
        assert refused.json()["message"] == "Forbidden: actor mismatch"


async def test_centres_are_listed_without_password_hashes_with_their_relations(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    world = await booking_world()
    for _ in range(6):
        await appointment_for(world.patient, world.center, world.screening_type)
    await make_center(
        center_name="Inactive Ikeja", status=ServiceCenterStatus.INACTIVE, state="Oyo"
    )

    everything = await client.get(f"{BASE}/centers", headers=bearer(admin))
    inactive = await client.get(
        f"{BASE}/centers", params={"status": "INACTIVE"}, headers=bearer(admin)
    )
    by_state = await client.get(f"{BASE}/centers", params={"state": "Oyo"}, headers=bearer(admin))
    searched = await client.get(
        f"{BASE}/centers", params={"search": world.center.email.upper()}, headers=bearer(admin)
    )
    invalid = await client.get(f"{BASE}/centers", params={"status": "GONE"}, headers=bearer(admin))

    data = everything.json()["data"]
    assert (data["total"], data["page"], data["pageSize"], data["totalPages"]) == (2, 1, 20, 1)
    active = next(c for c in data["centers"] if c["id"] == world.center.id)
    assert "passwordHash" not in active
    assert {"bankAccount", "bankCode", "accountName", "status", "lga"} <= set(active)
    assert active["services"] == [
        {"id": world.screening_type.id, "name": world.screening_type.name}
    ]
    assert active["staff"][0]["email"] == world.center.email
    assert len(active["appointments"]) == 5
    assert [c["centerName"] for c in inactive.json()["data"]["centers"]] == ["Inactive Ikeja"]
    assert by_state.json()["data"]["total"] == 1
    assert [c["id"] for c in searched.json()["data"]["centers"]] == [world.center.id]
    assert_issue(invalid, "status")


async def test_approving_a_centre_sets_its_status_and_queues_its_email(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    center = await make_center(status=ServiceCenterStatus.INACTIVE)

    response = await client.patch(
        f"{BASE}/centers/{center.id}/status", json={"status": "ACTIVE"}, headers=bearer(admin)
    )
    missing = await client.patch(
        f"{BASE}/centers/nope/status", json={"status": "ACTIVE"}, headers=bearer(admin)
    )
    invalid = await client.patch(
        f"{BASE}/centers/{center.id}/status", json={"status": "CLOSED"}, headers=bearer(admin)
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["centerId"], data["status"]) == (center.id, "ACTIVE")
    assert data["updatedAt"].endswith("Z")
    assert (await ServiceCenter.get(id=center.id)).status == ServiceCenterStatus.ACTIVE
    email = await Job.get(actor_name="send_email")
    assert email.args == {
        "template": "center_status_changed",
        "to": center.email,
        "context": {"status": "ACTIVE", "reason": None},
    }
    assert_error(missing, 404, "Center not found")
    assert_issue(invalid, "status")


async def test_users_are_listed_by_profile_without_password_hashes(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    patient = await make_patient(full_name="Amina Bello")
    donor = await make_donor(full_name="Tunde Ade", organization="Ade Trust")
    both = await make_user(full_name="Both Profiles")
    await add_patient_profile(both)
    await add_donor_profile(both)
    screening = await make_screening_type()
    center = await make_center(services=[screening])
    for _ in range(4):
        await appointment_for(patient, center, screening)

    patients = await client.get(
        f"{BASE}/users", params={"profileType": "PATIENT"}, headers=bearer(admin)
    )
    donors = await client.get(
        f"{BASE}/users", params={"profileType": "DONOR"}, headers=bearer(admin)
    )
    searched = await client.get(
        f"{BASE}/users", params={"search": "amina", "pageSize": 5}, headers=bearer(admin)
    )
    invalid = await client.get(
        f"{BASE}/users", params={"profileType": "ADMIN"}, headers=bearer(admin)
    )

    patient_ids = {u["id"] for u in patients.json()["data"]["users"]}
    assert patient_ids == {patient.id, both.id}
    donor_rows = {u["id"]: u for u in donors.json()["data"]["users"]}
    assert {donor.id, both.id} <= set(donor_rows)
    assert donor_rows[donor.id]["donorProfile"]["organizationName"] == "Ade Trust"
    assert donor_rows[donor.id]["patientProfile"] is None
    found = searched.json()["data"]
    assert [u["id"] for u in found["users"]] == [patient.id]
    assert found["pageSize"] == 5
    user = found["users"][0]
    assert "passwordHash" not in user
    assert len(user["appointments"]) == 3
    assert user["patientProfile"]["state"] == "Lagos"
    assert_issue(invalid, "profileType")
