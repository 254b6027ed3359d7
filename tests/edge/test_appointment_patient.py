"""/api/v1/appointment/patient and /api/v1/patient/receipts (appointments.md §4.11-4.19, §5).

Self-pay booking talks to the payment provider, so those tests use their own edge process whose
PAYSTACK_BASE_URL points at a small local stand-in for Paystack's initialize call.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from models.appointments import Appointment
from models.base import utc_now
from models.enums import (
    AllocationStatus,
    AppointmentStatus,
    ServiceCenterStatus,
    TransactionStatus,
)
from models.transactions import Transaction
from models.waitlists import DonationAllocation
from tests.conftest import edge_process
from tests.edge.factories_appointments import (
    LAGOS,
    PDF_BYTES,
    assert_error,
    assert_issue,
    booking_world,
    make_appointment,
    make_campaign,
    make_match,
    make_result_file,
    make_transaction,
    make_verification,
    reloaded,
)
from tests.factories import bearer, make_center, make_patient, make_screening_type, make_staff

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/appointment/patient"
#: E-mail the stand-in provider refuses (answers HTTP 500).
REFUSED_EMAIL_MARK = "refuse-payment"


class FakePaystack(BaseHTTPRequestHandler):
    """`POST /transaction/initialize` as Paystack answers it; refuses marked e-mails."""

    calls: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        payload = json.loads(self.rfile.read(length))
        type(self).calls.append(
            {"path": self.path, "auth": self.headers["authorization"], **payload}
        )
        if REFUSED_EMAIL_MARK in payload["email"]:
            self._answer(500, {"status": False, "message": "boom"})
            return
        self._answer(
            200,
            {
                "status": True,
                "message": "Authorization URL created",
                "data": {
                    "authorization_url": f"https://checkout.test/{payload['reference']}",
                    "access_code": "access-123",
                    "reference": payload["reference"],
                },
            },
        )

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def paystack() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePaystack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
async def paying_client(database_url: str, paystack: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an edge whose payment provider is the local stand-in."""
    process = edge_process(database_url, PAYSTACK_BASE_URL=paystack).start()
    try:
        process.wait_http(f"{process.url}/api/v1/healthz", timeout=60)
        async with httpx.AsyncClient(base_url=process.url, timeout=30.0) as http:
            yield http
    finally:
        process.stop()


def in_days(days: int) -> str:
    return (utc_now() + dt.timedelta(days=days)).isoformat() + "Z"


# -- self-pay booking (§4.11) ------------------------------------------------------------------


async def test_booking_creates_a_pending_appointment_and_returns_the_payment_page(
    paying_client: httpx.AsyncClient,
) -> None:
    world = await booking_world(price=15000.0)
    FakePaystack.calls.clear()

    response = await paying_client.post(
        f"{BASE}/book",
        json={
            "screeningTypeId": world.screening_type.id,
            "centerId": world.center.id,
            "appointmentDateTime": in_days(3),
            "paymentReference": "PAY-IGNORED",
        },
        headers=bearer(world.patient),
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    appointment, payment = data["appointment"], data["payment"]
    reference = payment["reference"]
    assert re.fullmatch(rf"book-appointment-{world.patient.id}-\d+-[0-9a-f]{{12}}", reference)
    assert payment == {
        "transactionId": reference,
        "reference": reference,
        "authorizationUrl": f"https://checkout.test/{reference}",
        "accessCode": "access-123",
    }
    assert appointment["status"] == "PENDING"
    assert appointment["checkInCode"] is None
    assert appointment["checkInCodeExpiresAt"] is None
    assert appointment["transaction"]["amount"] == 15000.0
    assert appointment["transaction"]["status"] == "PENDING"
    assert "donationId" not in appointment
    assert "result" not in appointment
    [call] = FakePaystack.calls
    assert call["amount"] == 1_500_000
    assert call["email"] == world.patient.email
    assert call["metadata"]["appointmentId"] == appointment["id"]
    assert call["callback_url"] == (
        f"http://frontend.test/patient/book/payment-status?ref={reference}"
        f"&type=book&patientId={world.patient.id}"
    )
    stored = await Transaction.get(payment_reference=reference)
    assert (stored.status, stored.payment_channel) == (TransactionStatus.PENDING, "PAYSTACK")


async def test_a_provider_failure_cancels_the_booking_and_answers_502(
    paying_client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    patient = await make_patient(email=f"{REFUSED_EMAIL_MARK}@example.com")

    response = await paying_client.post(
        f"{BASE}/book",
        json={
            "screeningTypeId": world.screening_type.id,
            "centerId": world.center.id,
            "appointmentDateTime": in_days(2),
        },
        headers=bearer(patient),
    )

    assert_error(response, 502, "Failed to initialize payment")
    [appointment] = await Appointment.filter(patient_id=patient.id)
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancellation_reason == "Payment initialization failed"
    transaction = await Transaction.get(id=appointment.transaction_id)
    assert transaction.status == TransactionStatus.FAILED


async def test_booking_falls_back_to_the_agreed_price_without_a_price_row(
    paying_client: httpx.AsyncClient,
) -> None:
    screening_type = await make_screening_type(agreed_price=8000.0)
    center = await make_center()
    await center.services.add(screening_type)
    patient = await make_patient()

    response = await paying_client.post(
        f"{BASE}/book",
        json={
            "screeningTypeId": screening_type.id,
            "centerId": center.id,
            "appointmentDateTime": in_days(1),
        },
        headers=bearer(patient),
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["appointment"]["transaction"]["amount"] == 8000.0


async def test_booking_is_refused_where_the_type_is_not_offered(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    inactive = await make_center(
        services=[world.screening_type], status=ServiceCenterStatus.INACTIVE
    )
    unrelated = await make_screening_type()
    retired = await make_screening_type(active=False)
    await world.center.services.add(retired)

    for center_id, type_id in (
        (inactive.id, world.screening_type.id),
        (world.center.id, unrelated.id),
        (world.center.id, retired.id),
        ("no-such-center", world.screening_type.id),
    ):
        response = await client.post(
            f"{BASE}/book",
            json={
                "screeningTypeId": type_id,
                "centerId": center_id,
                "appointmentDateTime": in_days(1),
            },
            headers=bearer(world.patient),
        )
        assert_error(response, 400, "Screening type not available at this center")
    assert not await Appointment.all().exists()


async def test_booking_validates_its_body_with_the_contract_messages(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()

    empty = await client.post(
        f"{BASE}/book",
        json={"screeningTypeId": "", "centerId": "", "appointmentDateTime": ""},
        headers=bearer(patient),
    )
    past = await client.post(
        f"{BASE}/book",
        json={"screeningTypeId": "t", "centerId": "c", "appointmentDateTime": in_days(-1)},
        headers=bearer(patient),
    )
    too_far = await client.post(
        f"{BASE}/book",
        json={"screeningTypeId": "t", "centerId": "c", "appointmentDateTime": in_days(400)},
        headers=bearer(patient),
    )

    assert_issue(empty, "screeningTypeId", "Screening type is required.")
    assert_issue(empty, "centerId", "Center is required.")
    assert_issue(empty, "appointmentDateTime", "Appointment date and time is required.")
    assert_issue(past, "appointmentDateTime", "Invalid appointment date and time")
    assert_issue(too_far, "appointmentDateTime", "Invalid appointment date and time")


async def test_only_patients_may_book(client: httpx.AsyncClient) -> None:
    world = await booking_world()

    anonymous = await client.post(f"{BASE}/book", json={})
    center = await client.post(f"{BASE}/book", json={}, headers=bearer(world.center))

    assert anonymous.status_code == 401
    assert center.status_code == 403


# -- booking with a donation (§4.12, §4.13) -----------------------------------------------------


async def test_eligible_centers_are_active_offering_centers_by_name(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    _, allocation = await make_match(world.patient, world.screening_type, await make_campaign())
    zulu = await make_center(center_name="Zulu Clinic", services=[world.screening_type])
    alpha = await make_center(
        center_name="Alpha Clinic", services=[world.screening_type], state="Abuja"
    )
    await make_center(
        center_name="Closed Clinic",
        services=[world.screening_type],
        status=ServiceCenterStatus.SUSPENDED,
    )
    await make_center(center_name="Other Clinic")

    everything = await client.get(
        f"{BASE}/matches/eligible-centers/{allocation.id}",
        params={"page": "1", "size": "2"},
        headers=bearer(world.patient),
    )
    in_abuja = await client.get(
        f"{BASE}/matches/eligible-centers/{allocation.id}",
        params={"state": "Abuja"},
        headers=bearer(world.patient),
    )

    assert everything.status_code == 200
    data = everything.json()["data"]
    assert [c["centerName"] for c in data["centers"]] == ["Alpha Clinic", world.center.center_name]
    assert (data["page"], data["pageSize"], data["total"], data["totalPages"]) == (1, 2, 3, 2)
    assert set(data["centers"][0]) == {"id", "centerName", "address", "state", "lga"}
    assert [c["id"] for c in in_abuja.json()["data"]["centers"]] == [alpha.id]
    assert zulu.id not in [c["id"] for c in data["centers"]]


async def test_eligible_centers_refuse_foreign_expired_and_used_allocations(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    campaign = await make_campaign()
    _, expired = await make_match(
        world.patient, world.screening_type, campaign, status=AllocationStatus.EXPIRED
    )
    _, mine = await make_match(world.patient, world.screening_type, campaign)
    stranger = await make_patient()

    for allocation_id, caller in ((expired.id, world.patient), (mine.id, stranger)):
        response = await client.get(
            f"{BASE}/matches/eligible-centers/{allocation_id}", headers=bearer(caller)
        )
        assert_error(response, 400, "Invalid or already assigned allocation")
    bad_size = await client.get(
        f"{BASE}/matches/eligible-centers/{mine.id}",
        params={"size": "101"},
        headers=bearer(world.patient),
    )
    assert_issue(bad_size, "size")


async def test_selecting_a_center_claims_the_allocation_and_schedules(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    campaign = await make_campaign()
    entry, allocation = await make_match(world.patient, world.screening_type, campaign)
    when = (utc_now() + dt.timedelta(days=20)).replace(microsecond=0)

    response = await client.post(
        f"{BASE}/matches/select-center",
        json={
            "allocationId": allocation.id,
            "centerId": world.center.id,
            "appointmentDateTime": when.isoformat() + "+01:00",
        },
        headers=bearer(world.patient),
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]["appointment"]
    assert data["status"] == "SCHEDULED"
    assert data["isDonation"] is True
    assert data["donationId"] == campaign.id
    assert re.fullmatch(r"[0-9A-F]{12}", data["checkInCode"])
    assert "transaction" not in data
    assert "transactionId" not in data
    # +01:00 is read as such: stored one hour earlier in UTC
    appointment = await Appointment.get(id=data["id"])
    assert appointment.appointment_date_time == when - LAGOS
    local_day = (appointment.appointment_date_time + LAGOS).date()
    assert appointment.check_in_code_expires_at == dt.datetime.combine(
        local_day, dt.time(22, 59, 59, 999000)
    )
    allocation = await reloaded(allocation)
    entry = await reloaded(entry)
    assert allocation.appointment_id == appointment.id
    assert entry.status == AllocationStatus.CLAIMED
    assert entry.claimed_at == allocation.claimed_at


async def test_one_allocation_gives_at_most_one_appointment_even_when_raced(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    _, allocation = await make_match(world.patient, world.screening_type, await make_campaign())
    body = {
        "allocationId": allocation.id,
        "centerId": world.center.id,
        "appointmentDateTime": in_days(5),
    }

    responses = await asyncio.gather(
        *(
            client.post(f"{BASE}/matches/select-center", json=body, headers=bearer(world.patient))
            for _ in range(4)
        )
    )

    assert sorted(r.status_code for r in responses) == [200, 400, 400, 400]
    assert await Appointment.filter(patient_id=world.patient.id).count() == 1


async def test_an_expired_allocation_cannot_be_claimed(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    _, allocation = await make_match(
        world.patient, world.screening_type, await make_campaign(), status=AllocationStatus.EXPIRED
    )

    response = await client.post(
        f"{BASE}/matches/select-center",
        json={
            "allocationId": allocation.id,
            "centerId": world.center.id,
            "appointmentDateTime": in_days(5),
        },
        headers=bearer(world.patient),
    )

    assert_error(response, 400, "Invalid or already assigned allocation")
    assert not await Appointment.all().exists()
    assert (await DonationAllocation.get(id=allocation.id)).appointment_id is None


async def test_selecting_a_center_that_does_not_offer_the_type_is_refused(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    _, allocation = await make_match(world.patient, world.screening_type, await make_campaign())
    elsewhere = await make_center()

    refused = await client.post(
        f"{BASE}/matches/select-center",
        json={
            "allocationId": allocation.id,
            "centerId": elsewhere.id,
            "appointmentDateTime": in_days(5),
        },
        headers=bearer(world.patient),
    )
    invalid = await client.post(
        f"{BASE}/matches/select-center",
        json={"allocationId": "", "centerId": world.center.id, "appointmentDateTime": "soon"},
        headers=bearer(world.patient),
    )

    assert_error(refused, 400, "Screening type not available at this center")
    assert_issue(invalid, "allocationId", "Allocation ID is required.")
    assert_issue(invalid, "appointmentDateTime", "Invalid appointment date and time")


# -- the patient's appointments (§4.14, §4.18, §4.19) ------------------------------------------


async def test_patient_list_is_own_appointments_latest_first(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    now = utc_now()
    paid = await make_appointment(
        world.patient,
        world.center,
        world.screening_type,
        when=now + dt.timedelta(days=1),
        transaction=await make_transaction(),
    )
    later = await make_appointment(
        world.patient, world.center, world.screening_type, when=now + dt.timedelta(days=9)
    )
    await make_result_file(later)
    await make_appointment(await make_patient(), world.center, world.screening_type)

    response = await client.get(BASE, headers=bearer(world.patient))
    filtered = await client.get(
        BASE, params={"status": "COMPLETED", "size": "5"}, headers=bearer(world.patient)
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert [a["id"] for a in data["appointments"]] == [later.id, paid.id]
    assert (data["page"], data["pageSize"], data["total"], data["totalPages"]) == (1, 20, 2, 1)
    newest, oldest = data["appointments"]
    assert "result" in newest
    assert "transaction" not in newest
    assert oldest["transaction"]["id"] == paid.transaction_id
    assert newest["center"] == {
        "id": world.center.id,
        "centerName": world.center.center_name,
        "address": world.center.address,
        "state": world.center.state,
        "lga": world.center.lga,
    }
    assert filtered.json()["data"]["appointments"] == []


@pytest.mark.parametrize("params", [{"page": "0"}, {"size": "1.5"}, {"status": "NO_SHOW"}])
async def test_patient_list_validates_its_query(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    patient = await make_patient()

    response = await client.get(BASE, params=params, headers=bearer(patient))

    assert_issue(response, next(iter(params)))


async def test_patient_detail_shows_live_files_and_the_check_in(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.COMPLETED
    )
    live = await make_result_file(appointment, stored=PDF_BYTES)
    await make_result_file(appointment, file_name="wrong.pdf", deleted=True)
    staff = await make_staff(world.center)
    verification = await make_verification(appointment)
    verification.verified_by_id = staff.id
    await verification.save()

    response = await client.get(f"{BASE}/{appointment.id}", headers=bearer(world.patient))

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["center"]["email"] == world.center.email
    assert data["center"]["phoneNumber"] == world.center.phone
    assert "cancellationReason" not in data
    assert [f["id"] for f in data["result"]["files"]] == [live.id]
    url = data["result"]["files"][0]["cloudinaryUrl"]
    assert url.startswith(f"/api/v1/appointment/files/{live.id}/content?expires=")
    assert "&scope=active&" in url
    assert data["verification"]["verifier"] == {"id": staff.id, "email": staff.email}
    content = await client.get(url)
    assert content.status_code == 200
    assert content.content == PDF_BYTES


async def test_another_patients_appointment_is_not_found(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    stranger = await make_patient()

    theirs = await client.get(f"{BASE}/{appointment.id}", headers=bearer(stranger))
    results_path = await client.get(f"{BASE}/results", headers=bearer(world.patient))
    code = await client.get(f"{BASE}/{appointment.id}/checkin-code", headers=bearer(stranger))

    assert_error(theirs, 404, "Appointment not found")
    assert_error(results_path, 404, "Appointment not found")
    assert_error(code, 404, "Not found or forbidden")


async def test_check_in_code_is_served_until_it_expires(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    valid = await make_appointment(world.patient, world.center, world.screening_type)
    expired = await make_appointment(
        world.patient,
        world.center,
        world.screening_type,
        code_expires_at=utc_now() - dt.timedelta(minutes=1),
    )
    unpaid = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.PENDING
    )

    ok = await client.get(f"{BASE}/{valid.id}/checkin-code", headers=bearer(world.patient))
    gone = await client.get(f"{BASE}/{expired.id}/checkin-code", headers=bearer(world.patient))
    none = await client.get(f"{BASE}/{unpaid.id}/checkin-code", headers=bearer(world.patient))

    assert ok.json()["data"]["checkInCode"] == valid.check_in_code
    assert_error(gone, 410, "Check-in code expired")
    assert none.json()["data"] == {"checkInCode": None, "expiresAt": None}


# -- result and receipts (§4.16, §4.17, §5) ----------------------------------------------------


async def test_patient_result_hides_deleted_files_and_checks_ownership(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    live = await make_result_file(appointment, file_path="scans/a.pdf")
    await make_result_file(appointment, deleted=True)

    mine = await client.get(f"{BASE}/results/{live.result_id}", headers=bearer(world.patient))
    theirs = await client.get(
        f"{BASE}/results/{live.result_id}", headers=bearer(await make_patient())
    )
    malformed = await client.get(f"{BASE}/results/not-a-uuid", headers=bearer(world.patient))

    assert mine.status_code == 200
    data = mine.json()["data"]
    assert [f["id"] for f in data["files"]] == [live.id]
    assert list(data["folders"]) == ["scans"]
    assert data["files"][0]["cloudinaryUrl"] == live.cloudinary_url
    assert_error(theirs, 404, "Result not found")
    assert_issue(malformed, "id")


async def test_receipts_list_the_patients_payments(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    older = await make_transaction(created_at=utc_now() - dt.timedelta(days=2))
    newer = await make_transaction()
    first = await make_appointment(
        world.patient, world.center, world.screening_type, transaction=older
    )
    await make_appointment(world.patient, world.center, world.screening_type, transaction=newer)
    foreign = await make_transaction()
    await make_appointment(
        await make_patient(), world.center, world.screening_type, transaction=foreign
    )

    listing = await client.get("/api/v1/patient/receipts", headers=bearer(world.patient))
    alias = await client.get(f"/api/v1/patient/receipts/{older.id}", headers=bearer(world.patient))
    original = await client.get(f"{BASE}/receipts/{older.id}", headers=bearer(world.patient))
    refused = await client.get(f"{BASE}/receipts/{foreign.id}", headers=bearer(world.patient))

    data = listing.json()["data"]
    assert [r["id"] for r in data["receipts"]] == [newer.id, older.id]
    assert data["total"] == 2
    assert alias.json() == original.json()
    assert original.json()["data"]["appointments"] == [
        {
            "id": first.id,
            "appointmentDateTime": first.appointment_date_time.isoformat(timespec="milliseconds")
            + "Z",
            "screeningType": {"id": world.screening_type.id, "name": world.screening_type.name},
            "patientId": world.patient.id,
        }
    ]
    assert_error(refused, 404, "Not found or forbidden")
