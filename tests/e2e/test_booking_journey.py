"""The patient's journey on real processes (edge with its relay, worker, PostgreSQL, RabbitMQ,
SMTP and the Paystack sandbox): book and pay -> check in at the center -> the center uploads an
image result -> the worker makes its derivatives -> the patient sees the processed thumbnail.

Only the setup (accounts, center, prices) is written with the factories, through the ORM on the
stack's scratch database; every step of the journey goes over HTTP to the edge process.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import ExifTags, Image, ImageDraw

from models.db import isolated
from tests.e2e.stack import Stack, wait_until, workers_are
from tests.edge.factories_appointments import World, booking_world
from tests.factories import bearer, make_staff
from tests.harness.smtp import Mailbox
from tests.sandbox.conftest_paystack import WEBHOOK_PATH, sandbox_server
from tests.sandbox.paystack import PaystackSandbox

#: Real processes on 2 busy CI cores: more than the suite's default 120 s per test.
pytestmark = pytest.mark.timeout(300)

#: How long the worker may take to make the derivatives (generous: 2 busy CI cores).
PROCESSING_DEADLINE = 60.0
#: Africa/Lagos is UTC+01:00 all year (check-in only works on the appointment's Lagos day).
LAGOS = dt.timedelta(hours=1)
PRICE = 15000.0
#: Size of the uploaded scan; its thumbnail fits in 320x320 (actors/images.py).
SCAN_SIZE = (1200, 900)
THUMBNAIL_SIZE = (320, 240)
#: Ikeja, Lagos, as EXIF GPS rationals: location data the derivatives must not leak.
GPS: dict[int, Any] = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (6.0, 36.0, 5.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (3.0, 21.0, 2.0),
}


@pytest.fixture
def paystack() -> Iterator[PaystackSandbox]:
    """The process's Paystack sandbox (on the port the edge processes are told), fresh state."""
    sandbox = sandbox_server()
    sandbox.reset()
    yield sandbox
    sandbox.webhook_url = None
    sandbox.reset()


def later_today_in_lagos() -> dt.datetime:
    """A moment ahead of now (bookable) on today's Lagos date (so check-in works): naive UTC."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    local = now + LAGOS
    end_of_day = dt.datetime.combine(local.date(), dt.time(23, 59, 59)) - LAGOS
    if end_of_day - now < dt.timedelta(minutes=5):
        pytest.skip("too close to midnight in Lagos for a same-day check-in")
    return min(now + dt.timedelta(minutes=30), now + (end_of_day - now) / 2)


def js_iso(moment: dt.datetime) -> str:
    """`2025-07-29T16:38:17.123Z`, as the browser's `Date.toISOString()` writes it."""
    return moment.isoformat(timespec="milliseconds") + "Z"


def scan_with_gps() -> bytes:
    """A real JPEG photo of a "scan" carrying EXIF GPS coordinates and a camera model."""
    image = Image.new("RGB", SCAN_SIZE, (236, 240, 244))
    draw = ImageDraw.Draw(image)
    for x in range(0, SCAN_SIZE[0], 40):
        draw.line([(x, 0), (x, SCAN_SIZE[1])], fill=(180, 190, 200), width=2)
    draw.ellipse([350, 200, 850, 700], fill=(120, 60, 60), outline=(20, 20, 20), width=8)
    draw.rectangle([40, 40, 400, 120], fill=(20, 40, 90))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "ZeroCancer Test Camera"
    exif[ExifTags.Base.Model] = "Scanner 3000"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update(GPS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, exif=exif)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the upload does carry the location
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    return data


def data_of(response: httpx.Response, stack: Stack) -> Any:
    """The `data` of a successful envelope (with the processes' logs when it is not)."""
    assert response.status_code == 200, f"{response.status_code} {response.text}\n{stack.logs()}"
    body = response.json()
    assert body["ok"] is True, body
    return body["data"]


def relative(link: str) -> str:
    """A signed file link as a path on the edge (`PUBLIC_BASE_URL` may prefix it)."""
    parts = urlsplit(link)
    assert parts.path.startswith("/api/v1/appointment/files/"), link
    assert set(parse_qs(parts.query)) == {"expires", "scope", "signature"}, link
    return f"{parts.path}?{parts.query}"


async def job_of_file(stack: Stack, file_id: str) -> str:
    """The id of the image job the upload enqueued for one file (same transaction)."""
    async with stack.connection() as connection:
        job_id = await connection.fetchval(
            "SELECT id FROM jobs WHERE idempotency_key = $1", f"process-result-image:{file_id}"
        )
    assert job_id is not None, f"no image job for file {file_id}"
    return str(job_id)


async def test_booked_paid_checked_in_patient_sees_the_processed_thumbnail_of_their_result(
    stack: Stack, mailbox: Mailbox, paystack: PaystackSandbox
) -> None:
    # Given a patient and an ACTIVE center (with a staff member) offering one screening type
    async with isolated(stack.database_url):
        world: World = await booking_world(price=PRICE)
        staff = await make_staff(world.center)
    patient_headers = bearer(world.patient)
    staff_headers = bearer(staff)

    edge = stack.start_edge()
    stack.start_worker()
    await stack.wait_for_worker()
    paystack.webhook_url = edge.url + WEBHOOK_PATH
    scan = scan_with_gps()
    when = later_today_in_lagos()

    async with stack.client(edge) as http, httpx.AsyncClient(timeout=60.0) as browser:
        await wait_until(
            workers_are(http, "ok"), what="the edge to see the worker\n" + stack.logs()
        )

        # 1. The patient books a self-pay appointment: PENDING, with a Paystack payment page
        booked = data_of(
            await http.post(
                "/api/v1/appointment/patient/book",
                json={
                    "screeningTypeId": world.screening_type.id,
                    "centerId": world.center.id,
                    "appointmentDateTime": js_iso(when),
                },
                headers=patient_headers,
            ),
            stack,
        )
        appointment_id = booked["appointment"]["id"]
        reference = booked["payment"]["reference"]
        assert booked["appointment"]["status"] == "PENDING"
        assert booked["appointment"]["checkInCode"] is None
        assert booked["appointment"]["transaction"]["status"] == "PENDING"
        charge = paystack.transactions[reference]
        assert charge["amount"] == round(PRICE * 100)
        assert charge["email"] == world.patient.email
        assert charge["metadata"]["appointmentId"] == appointment_id

        code_before = data_of(
            await http.get(
                f"/api/v1/appointment/patient/{appointment_id}/checkin-code",
                headers=patient_headers,
            ),
            stack,
        )
        assert code_before["checkInCode"] is None  # no code until paid

        # 2. The patient pays on the provider's page: charge.success reaches the edge's webhook,
        #    and the browser comes back to the frontend, which verifies the payment
        checkout = await browser.get(booked["payment"]["authorizationUrl"])
        assert checkout.status_code == 302, checkout.text
        assert checkout.headers["location"].startswith("http://frontend.test/patient/book/")
        assert f"ref={reference}" in checkout.headers["location"]
        paid = data_of(
            await http.get(
                f"/api/v1/appointment/patient/{appointment_id}", headers=patient_headers
            ),
            stack,
        )
        assert paid["status"] == "SCHEDULED"  # the webhook confirmed the booking already
        assert paid["transaction"]["status"] == "COMPLETED"
        verified = data_of(
            await http.get(f"/api/v1/donor/verify-payment/{reference}", headers=patient_headers),
            stack,
        )
        assert verified["status"] == "success"
        assert verified["amount"] == PRICE
        assert verified["paymentType"] == "appointment_booking"
        assert verified["context"]["appointmentId"] == appointment_id
        assert verified["context"]["appointment"]["status"] == "SCHEDULED"

        # 3. The patient reads the check-in code of the now SCHEDULED appointment
        code = data_of(
            await http.get(
                f"/api/v1/appointment/patient/{appointment_id}/checkin-code",
                headers=patient_headers,
            ),
            stack,
        )["checkInCode"]
        assert isinstance(code, str)
        assert len(code) == 12

        # 4. The center's staff member checks the patient in with that code
        checked_in = data_of(
            await http.post(
                "/api/v1/appointment/center/verify",
                json={"checkInCode": code.lower()},  # typed by hand: case does not matter
                headers=staff_headers,
            ),
            stack,
        )
        assert checked_in == {
            "valid": True,
            "appointmentId": appointment_id,
            "message": "Check-in successful",
        }

        # 5. The staff member uploads the scan (multipart: the bytes are stored here)
        uploaded = data_of(
            await http.post(
                f"/api/v1/appointment/center/{appointment_id}/upload-results",
                files={"files": ("chest-scan.jpg", scan, "image/jpeg")},
                data={"notes": "No anomaly seen.", "filePath": "imaging/chest-scan.jpg"},
                headers=staff_headers,
            ),
            stack,
        )
        assert uploaded["filesCount"] == 1
        result_id = uploaded["resultId"]

        # The patient's appointment shows the check-in by that staff member and the result
        details = data_of(
            await http.get(
                f"/api/v1/appointment/patient/{appointment_id}", headers=patient_headers
            ),
            stack,
        )
        assert details["status"] == "IN_PROGRESS"
        assert details["transaction"]["status"] == "COMPLETED"
        assert details["verification"]["verifier"] == {"id": staff.id, "email": staff.email}
        assert details["result"]["id"] == result_id
        assert [file["fileName"] for file in details["result"]["files"]] == ["chest-scan.jpg"]

        # 6. The patient reads the result: one JPEG file with a signed link
        result = data_of(
            await http.get(
                f"/api/v1/appointment/patient/results/{result_id}", headers=patient_headers
            ),
            stack,
        )
        assert result["notes"] == "No anomaly seen."
        assert result["appointment"]["id"] == appointment_id
        [file] = result["files"]
        assert file["fileType"] == "image/jpeg"
        assert file["fileSize"] == len(scan)
        assert file["filePath"] == "imaging/chest-scan.jpg"
        link = relative(file["cloudinaryUrl"])

        # 7. The worker makes the derivatives (waited for with a deadline, never a fixed sleep)
        job = await stack.wait_for_job(
            await job_of_file(stack, file["id"]),
            ["succeeded", "failed", "dead"],
            seconds=PROCESSING_DEADLINE,
        )
        assert job["status"] == "succeeded", f"{job}\n{stack.logs()}"
        assert job["actor_name"] == "process_result_image"
        assert job["result"]["thumbnailSize"] == list(THUMBNAIL_SIZE)
        assert (job["result"]["width"], job["result"]["height"]) == SCAN_SIZE

        # 8. Through the signed link, without a token: a small JPEG thumbnail without EXIF
        thumbnail = await http.get(f"{link}&variant=thumbnail")
        assert thumbnail.status_code == 200, thumbnail.text
        assert thumbnail.headers["content-type"] == "image/jpeg"
        assert "chest-scan.thumbnail.jpg" in thumbnail.headers["content-disposition"]
        assert len(thumbnail.content) < len(scan)
        with Image.open(io.BytesIO(thumbnail.content)) as small:
            assert small.format == "JPEG"
            assert small.size == THUMBNAIL_SIZE
            assert small.mode == "RGB"
            assert "exif" not in small.info
            assert len(small.getexif()) == 0
            assert dict(small.getexif().get_ifd(ExifTags.IFD.GPSInfo)) == {}
        assert b"Exif\x00\x00" not in thumbnail.content
        assert b"ZeroCancer Test Camera" not in thumbnail.content

        # The web copy is clean too (same size: the scan is under 2048 px)
        web = await http.get(f"{link}&variant=web")
        assert web.status_code == 200, web.text
        with Image.open(io.BytesIO(web.content)) as copy:
            assert (copy.format, copy.size) == ("JPEG", SCAN_SIZE)
            assert "exif" not in copy.info
        assert b"Exif\x00\x00" not in web.content

        # 9. The original is kept byte for byte (a medical record), EXIF and all
        original = await http.get(link)
        assert original.status_code == 200, original.text
        assert original.headers["content-type"] == "image/jpeg"
        assert original.content == scan

        # A link that was not signed by the edge opens nothing
        forged = await http.get(link.rsplit("signature=", 1)[0] + "signature=" + "0" * 64)
        assert forged.status_code == 403, forged.text

        # The patient was told of the check-in by e-mail (sent by the worker)
        async def check_in_mailed() -> bool:
            subjects = [message["Subject"] for message in mailbox.to(world.patient.email)]
            return "ZeroCancer - Check-in Confirmed" in subjects

        await wait_until(check_in_mailed, seconds=PROCESSING_DEADLINE, what="the check-in e-mail")
