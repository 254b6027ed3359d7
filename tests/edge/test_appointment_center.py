"""/api/v1/appointment/center: list, detail, cancel, reschedule, check-in, complete
(appointments.md §4.2-4.6, §4.8)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from models.appointments import Appointment, AppointmentVerification
from models.base import utc_now
from models.enums import AllocationStatus, AppointmentStatus, CampaignStatus
from models.waitlists import Waitlist
from tests.edge.factories_appointments import (
    LAGOS,
    PDF_BYTES,
    assert_error,
    assert_issue,
    balance,
    booking_world,
    make_appointment,
    make_campaign,
    make_match,
    make_result_file,
    make_transaction,
    make_verification,
    notifications_of,
    pool,
    reloaded,
)
from tests.edge.support import email_jobs
from tests.factories import bearer, make_center, make_donor, make_patient, make_staff, owner_staff

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/appointment/center"


# -- list and detail ---------------------------------------------------------------------------


async def test_center_lists_only_its_own_appointments_newest_first_without_codes(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    other_center = await make_center(services=[world.screening_type])
    now = utc_now()
    older = await make_appointment(
        world.patient, world.center, world.screening_type, created_at=now - dt.timedelta(hours=2)
    )
    newer = await make_appointment(
        world.patient, world.center, world.screening_type, created_at=now
    )
    await make_appointment(world.patient, other_center, world.screening_type)

    response = await client.get(BASE, headers=bearer(world.center))

    assert response.status_code == 200
    data = response.json()["data"]
    assert [item["id"] for item in data["appointments"]] == [newer.id, older.id]
    assert (data["page"], data["pageSize"], data["total"], data["totalPages"]) == (1, 20, 2, 1)
    first = data["appointments"][0]
    assert first["checkInCode"] is None  # D-APT-12
    assert first["patient"] == {"id": world.patient.id, "fullName": world.patient.full_name}
    assert first["screeningType"]["id"] == world.screening_type.id
    assert first["appointmentDateTime"].endswith("Z")


async def test_center_list_accepts_the_misspelt_canceled_status_and_center_staff(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    cancelled = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.CANCELLED
    )
    await make_appointment(world.patient, world.center, world.screening_type)
    staff = await make_staff(world.center)

    response = await client.get(BASE, params={"status": "CANCELED"}, headers=bearer(staff))

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["data"]["appointments"]] == [cancelled.id]


async def test_center_list_rejects_a_bad_page_size_and_wrong_callers(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()

    bad = await client.get(BASE, params={"pageSize": "0"}, headers=bearer(world.center))
    anonymous = await client.get(BASE)
    patient = await client.get(BASE, headers=bearer(world.patient))

    assert_issue(bad, "pageSize")
    assert anonymous.status_code == 401
    assert patient.status_code == 403
    assert patient.json()["message"] == "Forbidden: actor mismatch"


async def test_center_detail_has_the_verification_and_hides_other_centers_appointments(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    verification = await make_verification(appointment)
    stranger = await make_center()

    mine = await client.get(f"{BASE}/{appointment.id}", headers=bearer(world.center))
    theirs = await client.get(f"{BASE}/{appointment.id}", headers=bearer(stranger))

    assert mine.status_code == 200
    data = mine.json()["data"]
    assert data["verification"] == {"id": verification.id}
    assert data["center"] == {"id": world.center.id, "centerName": world.center.center_name}
    assert data["checkInCode"] is None
    assert_error(theirs, 404, "Appointment not found.")


# -- cancel ------------------------------------------------------------------------------------


async def test_cancelling_records_the_reason_and_tells_the_patient(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, transaction=await make_transaction()
    )

    response = await client.post(
        f"{BASE}/{appointment.id}/cancel",
        json={"reason": "Machine down"},
        headers=bearer(world.center),
    )

    assert response.status_code == 200
    assert response.json() == {"ok": True, "data": {"id": appointment.id}}
    appointment = await reloaded(appointment)
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancellation_reason == "Machine down"
    assert appointment.cancellation_date is not None
    [notice] = await notifications_of(world.patient.id)
    assert notice.type == "APPOINTMENT_CANCELLED"
    assert notice.message == (
        f"Your appointment for {world.screening_type.name} at {world.center.center_name} "
        "has been cancelled by the center."
    )
    assert notice.data == {"appointmentId": appointment.id, "reason": "Machine down"}


async def test_cancelling_a_donated_appointment_returns_the_reserved_money(
    client: httpx.AsyncClient,
) -> None:
    # Given a claimed allocation of 10 000 from a 50 000 campaign
    world = await booking_world()
    campaign = await make_campaign(total=50000.0)
    entry, allocation = await make_match(world.patient, world.screening_type, campaign)
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, is_donation=True, donation_id=campaign.id
    )
    allocation.appointment_id = appointment.id
    allocation.claimed_at = utc_now()
    await allocation.save()
    entry.status = AllocationStatus.CLAIMED
    await entry.save()

    # When the center cancels
    response = await client.post(f"{BASE}/{appointment.id}/cancel", headers=bearer(world.center))

    # Then the entry expires and the campaign has its money back
    assert response.status_code == 200
    entry = await reloaded(entry)
    assert entry.status == AllocationStatus.EXPIRED
    assert entry.expired_at is not None
    assert await balance(campaign.id) == (50000.0, 50000.0)
    [notice] = await notifications_of(world.patient.id)
    assert notice.message.endswith(
        "The donation reserved for it has been released; you can rejoin the waitlist."
    )


async def test_cancelling_a_donated_appointment_of_a_deleted_campaign_credits_the_pool(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    campaign = await make_campaign(total=10000.0)
    _, allocation = await make_match(
        world.patient, world.screening_type, campaign, status=AllocationStatus.CLAIMED
    )
    campaign.status = CampaignStatus.DELETED
    await campaign.save()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, is_donation=True, donation_id=campaign.id
    )
    allocation.appointment_id = appointment.id
    await allocation.save()
    before = await pool()

    response = await client.post(f"{BASE}/{appointment.id}/cancel", headers=bearer(world.center))

    assert response.status_code == 200
    after = await pool()
    assert after.available_amount == before.available_amount + 10000.0
    assert after.total_amount == before.total_amount + 10000.0
    assert (await balance(campaign.id))[0] == 0.0


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (AppointmentStatus.CANCELLED, "Already cancelled."),
        (AppointmentStatus.COMPLETED, "Cannot cancel a completed appointment."),
    ],
)
async def test_cancelling_a_final_appointment_is_refused(
    client: httpx.AsyncClient, status: AppointmentStatus, error: str
) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, status=status
    )

    response = await client.post(f"{BASE}/{appointment.id}/cancel", headers=bearer(world.center))

    assert_error(response, 400, error)


async def test_another_center_cannot_cancel(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)

    response = await client.post(
        f"{BASE}/{appointment.id}/cancel", headers=bearer(await make_center())
    )

    assert_error(response, 404, "Appointment not found.")
    appointment = await reloaded(appointment)
    assert appointment.status == AppointmentStatus.SCHEDULED


# -- reschedule --------------------------------------------------------------------------------


async def test_rescheduling_keeps_the_status_and_extends_the_code_to_the_new_day(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    new_time = (utc_now() + dt.timedelta(days=30)).replace(hour=9, minute=30, microsecond=0)

    response = await client.post(
        f"{BASE}/{appointment.id}/reschedule",
        json={"newDateTime": new_time.isoformat() + "Z", "reason": "Doctor away"},
        headers=bearer(world.center),
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == appointment.id
    assert data["appointmentDateTime"] == new_time.isoformat(timespec="milliseconds") + "Z"
    appointment = await reloaded(appointment)
    assert appointment.status == AppointmentStatus.SCHEDULED
    assert appointment.appointment_date_time == new_time
    local_day = (new_time + LAGOS).date()
    assert appointment.check_in_code_expires_at == (
        dt.datetime.combine(local_day, dt.time(22, 59, 59, 999000))
    )
    [notice] = await notifications_of(world.patient.id)
    assert notice.type == "APPOINTMENT_RESCHEDULED"
    assert "(WAT)." in notice.message


async def test_rescheduling_an_unpaid_booking_leaves_it_pending(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.PENDING
    )
    new_time = utc_now() + dt.timedelta(days=3)

    response = await client.post(
        f"{BASE}/{appointment.id}/reschedule",
        json={"newDateTime": new_time.isoformat() + "Z"},
        headers=bearer(world.center),
    )

    assert response.status_code == 200
    appointment = await reloaded(appointment)
    assert appointment.status == AppointmentStatus.PENDING
    assert appointment.check_in_code is None


@pytest.mark.parametrize("value", ["", "next tuesday", "2020-01-01T10:00:00Z", "2025-13-01"])
async def test_rescheduling_to_an_invalid_time_is_a_validation_error(
    client: httpx.AsyncClient, value: str
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)

    response = await client.post(
        f"{BASE}/{appointment.id}/reschedule",
        json={"newDateTime": value},
        headers=bearer(world.center),
    )

    assert_issue(response, "newDateTime", "Invalid appointment date and time")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (AppointmentStatus.CANCELLED, "Cannot reschedule a cancelled appointment."),
        (
            AppointmentStatus.IN_PROGRESS,
            "Only pending or scheduled appointments can be rescheduled.",
        ),
    ],
)
async def test_rescheduling_is_refused_outside_pending_and_scheduled(
    client: httpx.AsyncClient, status: AppointmentStatus, error: str
) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, status=status
    )

    response = await client.post(
        f"{BASE}/{appointment.id}/reschedule",
        json={"newDateTime": (utc_now() + dt.timedelta(days=2)).isoformat() + "Z"},
        headers=bearer(world.center),
    )

    assert_error(response, 400, error)


# -- check-in ----------------------------------------------------------------------------------


async def test_staff_check_in_records_the_staff_member_and_notifies(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, code="A1B2C3D4E5F6"
    )
    staff = await make_staff(world.center)

    response = await client.post(
        f"{BASE}/verify", json={"checkInCode": " a1b2c3d4e5f6 "}, headers=bearer(staff)
    )

    assert response.status_code == 200
    assert response.json()["data"] == {
        "valid": True,
        "appointmentId": appointment.id,
        "message": "Check-in successful",
    }
    appointment = await reloaded(appointment)
    assert appointment.status == AppointmentStatus.IN_PROGRESS
    verification = await AppointmentVerification.get(appointment_id=appointment.id)
    assert verification.verified_by_id == staff.id
    [notice] = await notifications_of(world.patient.id)
    assert notice.type == "CHECK_IN_CONFIRMED"
    assert [job["to"] for job in await email_jobs()] == [world.patient.email]


async def test_owner_check_in_is_attributed_to_the_owner_staff_row_and_tells_donors(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    donor = await make_donor()
    campaign = await make_campaign(donor=donor)
    _, allocation = await make_match(
        world.patient, world.screening_type, campaign, status=AllocationStatus.CLAIMED
    )
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, is_donation=True, donation_id=campaign.id
    )
    allocation.appointment_id = appointment.id
    await allocation.save()

    response = await client.post(
        f"{BASE}/verify",
        json={"checkInCode": appointment.check_in_code},
        headers=bearer(world.center),
    )

    assert response.json()["data"]["valid"] is True
    verification = await AppointmentVerification.get(appointment_id=appointment.id)
    assert verification.verified_by_id == (await owner_staff(world.center)).id
    [notice] = await notifications_of(donor.id)
    assert notice.type == "PATIENT_CHECKED_IN"
    assert notice.data is not None
    assert notice.data["screeningType"] == world.screening_type.name


async def _verify(client: httpx.AsyncClient, center: object, code: str) -> dict[str, object]:
    response = await client.post(
        f"{BASE}/verify",
        json={"checkInCode": code},
        headers=bearer(center),  # type: ignore[arg-type]
    )
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()["data"]
    return data


async def test_check_in_refusals_follow_the_new_order(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    stranger = await make_center()
    now = utc_now()
    expired = await make_appointment(
        world.patient,
        world.center,
        world.screening_type,
        code_expires_at=now - dt.timedelta(seconds=1),
    )
    cancelled = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.CANCELLED
    )
    unpaid = await make_appointment(
        world.patient,
        world.center,
        world.screening_type,
        status=AppointmentStatus.PENDING,
        code="0000AAAA1111",
    )
    started = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.IN_PROGRESS
    )
    tomorrow = await make_appointment(
        world.patient, world.center, world.screening_type, when=now + dt.timedelta(days=1)
    )

    assert await _verify(client, world.center, "FFFFFFFFFFFF") == {
        "valid": False,
        "message": "Invalid check-in code",
    }
    assert await _verify(client, stranger, tomorrow.check_in_code or "") == {
        "valid": False,
        "message": "Check-in code does not belong to your center",
    }
    assert await _verify(client, world.center, expired.check_in_code or "") == {
        "valid": False,
        "message": "Check-in code has expired",
    }
    assert (await _verify(client, world.center, cancelled.check_in_code or ""))["message"] == (
        "Appointment has been cancelled"
    )
    assert (await _verify(client, world.center, unpaid.check_in_code or ""))["message"] == (
        "Appointment payment is not complete"
    )
    assert await _verify(client, world.center, started.check_in_code or "") == {
        "valid": False,
        "appointmentId": started.id,
        "message": "Appointment already checked in",
    }
    assert (await _verify(client, world.center, tomorrow.check_in_code or ""))["message"] == (
        "Appointment is not scheduled for today"
    )
    assert not await AppointmentVerification.all().exists()


async def test_a_second_check_in_answers_already_checked_in(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    code = appointment.check_in_code or ""

    first = await _verify(client, world.center, code)
    second = await _verify(client, world.center, code)

    assert first["valid"] is True
    assert second == {
        "valid": False,
        "appointmentId": appointment.id,
        "message": "Appointment already checked in",
    }


async def test_check_in_without_a_code_is_a_validation_error(client: httpx.AsyncClient) -> None:
    world = await booking_world()

    response = await client.post(
        f"{BASE}/verify", json={"checkInCode": ""}, headers=bearer(world.center)
    )

    assert_issue(response, "checkInCode", "Check-in code is required")


# -- complete ----------------------------------------------------------------------------------


async def test_completing_tells_the_patient_and_the_funding_donor(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    donor = await make_donor()
    campaign = await make_campaign(donor=donor)
    _, allocation = await make_match(
        world.patient, world.screening_type, campaign, status=AllocationStatus.CLAIMED
    )
    appointment = await make_appointment(
        world.patient,
        world.center,
        world.screening_type,
        status=AppointmentStatus.IN_PROGRESS,
        is_donation=True,
        donation_id=campaign.id,
    )
    allocation.appointment_id = appointment.id
    await allocation.save()
    file = await make_result_file(appointment, stored=PDF_BYTES)

    response = await client.post(
        f"{BASE}/{appointment.id}/complete",
        json={"appointmentId": appointment.id, "completionNotes": "All clear"},
        headers=bearer(world.center),
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["appointmentId"] == appointment.id
    assert data["status"] == "COMPLETED"
    assert data["completedAt"].endswith("Z")
    appointment = await reloaded(appointment)
    assert appointment.status == AppointmentStatus.COMPLETED
    [patient_notice] = await notifications_of(world.patient.id)
    assert patient_notice.type == "RESULTS_AVAILABLE"
    assert patient_notice.data == {"appointmentId": appointment.id, "resultId": file.result_id}
    [donor_notice] = await notifications_of(donor.id)
    assert donor_notice.type == "APPOINTMENT_COMPLETED"


async def test_completing_needs_a_live_result_file(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.IN_PROGRESS
    )
    await make_result_file(appointment, deleted=True)

    response = await client.post(
        f"{BASE}/{appointment.id}/complete",
        json={"appointmentId": appointment.id},
        headers=bearer(world.center),
    )

    assert_error(response, 400, "Cannot complete appointment without uploading results")


async def test_completing_checks_the_path_and_the_status(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    scheduled = await make_appointment(world.patient, world.center, world.screening_type)

    mismatch = await client.post(
        f"{BASE}/{scheduled.id}/complete",
        json={"appointmentId": "something-else"},
        headers=bearer(world.center),
    )
    not_started = await client.post(
        f"{BASE}/{scheduled.id}/complete",
        json={"appointmentId": scheduled.id},
        headers=bearer(world.center),
    )

    assert_issue(mismatch, "appointmentId", "appointmentId must match the path")
    assert_error(not_started, 404, "Appointment not found or cannot be completed")
    assert (await Appointment.get(id=scheduled.id)).status == AppointmentStatus.SCHEDULED


async def test_patients_cannot_use_center_routes(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    patient = await make_patient()

    response = await client.post(f"{BASE}/{appointment.id}/cancel", headers=bearer(patient))

    assert response.status_code == 403
    assert (await Waitlist.all().count()) == 0
