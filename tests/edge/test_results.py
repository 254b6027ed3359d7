"""Result upload, soft delete and restore by centers (appointments.md §3.2, §4.7, §4.9, §4.10)."""

from __future__ import annotations

import asyncio
import hashlib
import io
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from models.appointments import Appointment
from models.enums import AppointmentStatus
from models.files import StoredFile
from models.jobs import Job
from models.results import ScreeningResult, ScreeningResultFile
from tests.edge.factories_appointments import (
    PDF_BYTES,
    assert_error,
    assert_issue,
    booking_world,
    make_appointment,
    make_result,
    make_result_file,
    notifications_of,
    reloaded,
    storage_dir,
)
from tests.factories import bearer, make_center, make_staff, owner_staff

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/appointment/center"
MAX_BYTES = 10 * 1024 * 1024


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def ui_file(name: str = "report.pdf", **overrides: object) -> dict[str, object]:
    """One entry of the JSON body the web UI sends after uploading to Cloudinary."""
    entry: dict[str, object] = {
        "fileName": name,
        "originalName": name,
        "filePath": f"labs/{name}",
        "fileType": "application/pdf",
        "fileSize": 2048,
        "url": f"https://res.cloudinary.com/demo/raw/upload/v1/{name}",
        "cloudinaryId": f"screening-results/x/labs/{name}",
    }
    entry.update(overrides)
    return entry


def stored_keys(appointment: Appointment) -> list[str]:
    folder = storage_dir() / "results" / appointment.id
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


# -- JSON mode ---------------------------------------------------------------------------------


async def test_json_upload_records_the_files_and_starts_the_appointment(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    staff = await make_staff(world.center)

    response = await client.post(
        f"{BASE}/{appointment.id}/upload-results",
        json={"files": [ui_file(), ui_file("b.pdf")], "notes": "Clear", "folderName": "labs"},
        headers=bearer(staff),
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["filesCount"] == 2
    result = await ScreeningResult.get(id=data["resultId"])
    assert (result.notes, result.uploaded_by_id) == ("Clear", staff.id)
    files = await ScreeningResultFile.filter(result_id=result.id).order_by("file_name")
    assert [f.cloudinary_url for f in files] == [
        "https://res.cloudinary.com/demo/raw/upload/v1/b.pdf",
        "https://res.cloudinary.com/demo/raw/upload/v1/report.pdf",
    ]
    assert (await reloaded(appointment)).status == AppointmentStatus.IN_PROGRESS


async def test_a_second_json_upload_keeps_notes_it_does_not_send(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.IN_PROGRESS
    )
    await make_result(appointment, notes="First notes")

    response = await client.post(
        f"{BASE}/{appointment.id}/upload-results",
        json={"files": []},
        headers=bearer(world.center),
    )

    assert response.json()["data"]["filesCount"] == 0
    result = await ScreeningResult.get(appointment_id=appointment.id)
    assert result.notes == "First notes"
    assert result.uploaded_by_id == (await owner_staff(world.center)).id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "files"),
        ({"files": [ui_file(url="javascript:alert(1)")]}, "files"),
        ({"files": [ui_file(fileSize=10.5)]}, "files"),
        ({"files": [ui_file(fileSize=-1)]}, "files"),
        ({"files": [], "notes": "x" * 5001}, "notes"),
    ],
)
async def test_json_upload_validates_urls_sizes_and_notes(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)

    response = await client.post(
        f"{BASE}/{appointment.id}/upload-results", json=body, headers=bearer(world.center)
    )

    assert_issue(response, field)
    assert not await ScreeningResult.all().exists()


async def test_upload_checks_the_appointment_center_and_state(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    completed = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.COMPLETED
    )
    body = {"files": [ui_file()]}

    foreign = await client.post(
        f"{BASE}/{appointment.id}/upload-results", json=body, headers=bearer(await make_center())
    )
    missing = await client.post(
        f"{BASE}/no-such-appointment/upload-results", json=body, headers=bearer(world.center)
    )
    final = await client.post(
        f"{BASE}/{completed.id}/upload-results", json=body, headers=bearer(world.center)
    )

    assert_error(foreign, 403, "Appointment does not belong to your center")
    assert_error(missing, 404, "Appointment not found")
    assert_error(final, 400, "Appointment is not in a valid state for result upload")


# -- multipart mode ----------------------------------------------------------------------------


async def test_multipart_upload_stores_the_bytes_and_asks_for_image_derivatives(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    image = png_bytes()

    response = await client.post(
        f"{BASE}/{appointment.id}/upload-results",
        files=[
            ("files", ("../../etc/Report.PDF", PDF_BYTES, "application/octet-stream")),
            ("files", ("scan.png", image, "image/png")),
        ],
        data={"filePath": ["/labs/../report.pdf", "scans/scan.png"], "notes": "Two files"},
        headers=bearer(world.center),
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["filesCount"] == 2
    files = {f.file_name: f for f in await ScreeningResultFile.all()}
    assert set(files) == {"Report.PDF", "scan.png"}
    pdf = files["Report.PDF"]
    assert (pdf.file_type, pdf.file_size, pdf.file_path) == (
        "application/pdf",
        len(PDF_BYTES),
        "labs/report.pdf",
    )
    assert pdf.cloudinary_id == f"local:{pdf.id}"
    assert pdf.cloudinary_url == f"/api/v1/appointment/files/{pdf.id}/content"
    stored = await StoredFile.get(id=pdf.id)
    assert stored.storage_key == f"results/{appointment.id}/{pdf.id}.pdf"
    assert stored.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert (storage_dir() / stored.storage_key).read_bytes() == PDF_BYTES
    assert (await ScreeningResult.get(appointment_id=appointment.id)).notes == "Two files"
    [job] = await Job.filter(actor_name="process_result_image")
    assert job.args == {
        "file_id": files["scan.png"].id,
        "storage_key": f"results/{appointment.id}/{files['scan.png'].id}.png",
        "content_type": "image/png",
    }
    assert job.queue_name == "images"


async def test_the_uploaded_file_is_downloadable_by_its_signed_link(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    await client.post(
        f"{BASE}/{appointment.id}/upload-results",
        files=[("file", ("result.pdf", PDF_BYTES, "application/pdf"))],
        headers=bearer(world.center),
    )

    view = await client.get(
        f"/api/v1/appointment/{appointment.id}/results", headers=bearer(world.patient)
    )
    url = view.json()["data"]["files"][0]["cloudinaryUrl"]
    download = await client.get(url)

    assert urlsplit(url).path.endswith("/content")
    assert download.content == PDF_BYTES


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.pdf", b"MZ\x90\x00 not a pdf"),
        ("photo.gif", b"GIF89a...."),
        ("empty.pdf", b""),
        ("scan.png", PDF_BYTES),
    ],
)
async def test_a_file_of_the_wrong_type_rejects_the_whole_upload(
    client: httpx.AsyncClient, name: str, content: bytes
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)

    response = await client.post(
        f"{BASE}/{appointment.id}/upload-results",
        files=[
            ("files", ("good.pdf", PDF_BYTES, "application/pdf")),
            ("files", (name, content, "application/octet-stream")),
        ],
        headers=bearer(world.center),
    )

    assert_error(
        response, 400, f"File {name} has invalid type. Allowed: pdf, jpg, jpeg, png, doc, docx"
    )
    assert not await ScreeningResultFile.all().exists()
    assert not await StoredFile.all().exists()
    assert stored_keys(appointment) == []
    assert list((storage_dir() / "tmp").glob("*.part")) == []
    assert (await reloaded(appointment)).status == AppointmentStatus.SCHEDULED


async def test_more_files_than_allowed_are_refused(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)

    response = await client.post(
        f"{BASE}/{appointment.id}/upload-results",
        files=[("files", (f"r{i}.pdf", PDF_BYTES, "application/pdf")) for i in range(11)],
        headers=bearer(world.center),
    )

    assert_error(response, 400, "Too many files. Max: 10 per request")
    assert not await StoredFile.all().exists()


async def test_a_file_over_the_size_limit_is_413(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    big = b"%PDF-" + b"0" * MAX_BYTES

    response = await client.post(
        f"{BASE}/{appointment.id}/upload-results",
        files=[("files", ("big.pdf", big, "application/pdf"))],
        headers=bearer(world.center),
    )

    assert_error(response, 413, "File big.pdf is too large. Max size: 10MB")
    assert stored_keys(appointment) == []


async def test_a_body_declared_larger_than_the_limit_is_refused_before_reading(
    edge_url: str,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    host, port = urlsplit(edge_url).hostname or "", urlsplit(edge_url).port or 80
    token = bearer(world.center)["Authorization"]
    head = (
        f"POST {BASE}/{appointment.id}/upload-results HTTP/1.1\r\n"
        f"Host: {host}\r\nAuthorization: {token}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {200 * 1024 * 1024}\r\nConnection: close\r\n\r\n"
    )

    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head.encode() + b"--xyz\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        headers_and_body = await asyncio.wait_for(reader.read(4096), timeout=10)
    finally:
        writer.close()

    assert status_line.startswith(b"HTTP/1.1 413")
    assert b"Request body too large" in headers_and_body


async def test_a_file_part_needs_a_file_name(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)

    response = await client.post(
        f"{BASE}/{appointment.id}/upload-results",
        files=[("files", ("", PDF_BYTES, "application/pdf"))],
        headers=bearer(world.center),
    )

    assert_issue(response, "files")


# -- soft delete and restore -------------------------------------------------------------------


async def test_deleting_with_the_ui_body_flags_the_file_and_tells_the_patient(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.COMPLETED
    )
    file = await make_result_file(appointment, file_name="scan.pdf", stored=PDF_BYTES)

    response = await client.request(
        "DELETE",
        f"{BASE}/files/{file.id}",
        json={"reason": "Wrong patient", "notifyPatient": True},
        headers=bearer(world.center),
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["fileId"] == file.id
    assert data["deletedAt"].endswith("Z")
    file = await reloaded(file)
    assert file.is_deleted is True
    assert file.deletion_reason == "Wrong patient"
    assert file.deleted_by_id == (await owner_staff(world.center)).id
    key = (await StoredFile.get(id=file.id)).storage_key
    assert (storage_dir() / key).exists()
    [notice] = await notifications_of(world.patient.id)
    assert (
        notice.message == 'A result file "scan.pdf" has been removed from your screening results.'
    )


async def test_deleting_without_notification_or_with_a_mismatched_id(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.COMPLETED
    )
    file = await make_result_file(appointment)
    other = await make_result_file(appointment)

    mismatch = await client.request(
        "DELETE",
        f"{BASE}/files/{file.id}",
        json={"fileId": other.id},
        headers=bearer(world.center),
    )
    quiet = await client.request(
        "DELETE",
        f"{BASE}/files/{file.id}",
        json={"fileId": file.id, "notifyPatient": False},
        headers=bearer(world.center),
    )
    again = await client.delete(f"{BASE}/files/{file.id}", headers=bearer(world.center))

    assert_issue(mismatch, "fileId", "fileId must match the path")
    assert quiet.status_code == 200
    assert await notifications_of(world.patient.id) == []
    assert_error(again, 404, "File not found or already deleted")


async def test_another_center_cannot_delete_or_restore(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    live = await make_result_file(appointment)
    deleted = await make_result_file(appointment, deleted=True)
    stranger = await make_center()

    delete = await client.delete(f"{BASE}/files/{live.id}", headers=bearer(stranger))
    restore = await client.post(f"{BASE}/files/{deleted.id}/restore", headers=bearer(stranger))

    assert_error(delete, 404, "File not found or already deleted")
    assert_error(restore, 404, "Deleted file not found")
    assert (await reloaded(live)).is_deleted is False


async def test_restoring_without_a_body_clears_the_flags(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.COMPLETED
    )
    file = await make_result_file(appointment, file_name="scan.pdf", deleted=True)
    staff = await make_staff(world.center)

    response = await client.post(f"{BASE}/files/{file.id}/restore", headers=bearer(staff))
    again = await client.post(f"{BASE}/files/{file.id}/restore", headers=bearer(staff))

    assert response.status_code == 200
    assert response.json()["data"]["fileId"] == file.id
    file = await reloaded(file)
    assert (file.is_deleted, file.deleted_at, file.deletion_reason) == (False, None, None)
    [notice] = await notifications_of(world.patient.id)
    assert notice.title == "Result File Restored"
    assert_error(again, 404, "Deleted file not found")
