"""/api/v1/appointment/{id}/results and /api/v1/appointment/files/{fileId}/content
(appointments.md §2.4, §3.4, §4.1, §4.20)."""

from __future__ import annotations

import io
import os
import time

import httpx
import pytest
from PIL import Image

from actors.images import make_derivatives
from edge.storage import FileSettings, signed_url
from models.enums import AppointmentStatus
from models.files import StoredFile
from tests.edge.factories_appointments import (
    PDF_BYTES,
    assert_error,
    assert_issue,
    booking_world,
    make_appointment,
    make_result,
    make_result_file,
    storage_dir,
)
from tests.factories import bearer, make_admin, make_center, make_donor, make_patient, make_staff

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/appointment"


def link(file_id: str, scope: str, *, now: float | None = None) -> str:
    return signed_url(FileSettings.from_env(os.environ), file_id, scope, now=now)


# -- results view (§4.1) -----------------------------------------------------------------------


async def test_patient_sees_live_files_grouped_in_folders_with_signed_links(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    result = await make_result(appointment, notes="Normal findings")
    scan = await make_result_file(appointment, result=result, file_path="scans/b.pdf")
    stored = await make_result_file(
        appointment, result=result, file_path="labs/a.pdf", stored=PDF_BYTES
    )
    loose = await make_result_file(appointment, result=result, file_path="summary.pdf")
    await make_result_file(appointment, result=result, file_path="labs/old.pdf", deleted=True)

    response = await client.get(f"{BASE}/{appointment.id}/results", headers=bearer(world.patient))

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["notes"] == "Normal findings"
    assert data["appointment"]["center"]["centerName"] == world.center.center_name
    assert [f["id"] for f in data["files"]] == [stored.id, scan.id, loose.id]
    assert list(data["folders"]) == ["labs", "scans", "root"]
    assert data["folders"]["labs"][0]["cloudinaryId"] == f"local:{stored.id}"
    assert "&scope=active&" in data["files"][0]["cloudinaryUrl"]
    assert data["files"][1]["cloudinaryUrl"] == scan.cloudinary_url
    assert set(data["files"][0]) == {
        "id",
        "fileName",
        "filePath",
        "fileType",
        "fileSize",
        "cloudinaryUrl",
        "uploadedAt",
        "isDeleted",
    }


async def test_centers_and_admins_also_see_deleted_files(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    deleted = await make_result_file(appointment, deleted=True, stored=PDF_BYTES)
    staff = await make_staff(world.center)

    for caller in (world.center, staff, await make_admin()):
        response = await client.get(f"{BASE}/{appointment.id}/results", headers=bearer(caller))
        assert response.status_code == 200
        [file] = response.json()["data"]["files"]
        assert file["id"] == deleted.id
        assert file["isDeleted"] is True
        assert "&scope=all&" in file["cloudinaryUrl"]


async def test_an_appointment_without_results_answers_null(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)

    response = await client.get(f"{BASE}/{appointment.id}/results", headers=bearer(world.center))

    assert response.json() == {"ok": True, "data": None}


async def test_results_of_others_are_not_found_and_ids_are_validated(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    await make_result_file(appointment)

    for caller in (await make_patient(), await make_center()):
        response = await client.get(f"{BASE}/{appointment.id}/results", headers=bearer(caller))
        assert_error(response, 404, "Appointment not found or access denied")
    donor = await client.get(f"{BASE}/{appointment.id}/results", headers=bearer(await make_donor()))
    malformed = await client.get(f"{BASE}/nope/results", headers=bearer(world.patient))
    anonymous = await client.get(f"{BASE}/{appointment.id}/results")

    assert donor.status_code == 403
    assert_issue(malformed, "id")
    assert anonymous.status_code == 401


# -- downloads (§4.20) -------------------------------------------------------------------------


async def test_a_signed_link_serves_the_bytes_with_safe_headers(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    file = await make_result_file(appointment, file_name="Résumé report.pdf", stored=PDF_BYTES)

    response = await client.get(link(file.id, "active"))

    assert response.status_code == 200
    assert response.content == PDF_BYTES
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(PDF_BYTES))
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["cache-control"] == "private, max-age=300"
    assert response.headers["content-disposition"] == (
        "inline; filename=\"Resume report.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20report.pdf"
    )


async def test_bad_or_expired_links_are_403_and_no_credentials_401(
    client: httpx.AsyncClient,
) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    file = await make_result_file(appointment, stored=PDF_BYTES)
    good = link(file.id, "active")

    tampered = await client.get(good[:-4] + "0000")
    expired = await client.get(link(file.id, "active", now=time.time() - 7200))
    widened = await client.get(good.replace("scope=active", "scope=all"))
    bare = await client.get(f"{BASE}/files/{file.id}/content")

    for response in (tampered, expired, widened):
        assert_error(response, 403, "Invalid or expired file link")
    assert bare.status_code == 401


async def test_bearer_tokens_of_the_owners_may_download(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    file = await make_result_file(appointment, stored=PDF_BYTES)
    path = f"{BASE}/files/{file.id}/content"

    for owner in (world.patient, world.center, await make_admin()):
        assert (await client.get(path, headers=bearer(owner))).status_code == 200
    stranger = await client.get(path, headers=bearer(await make_patient()))
    assert_error(stranger, 404, "File not found")


async def test_deleted_files_are_served_only_to_center_scope(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(
        world.patient, world.center, world.screening_type, status=AppointmentStatus.COMPLETED
    )
    file = await make_result_file(appointment, deleted=True, stored=PDF_BYTES)
    path = f"{BASE}/files/{file.id}/content"

    assert_error(await client.get(link(file.id, "active")), 404, "File not found")
    assert_error(await client.get(path, headers=bearer(world.patient)), 404, "File not found")
    assert (await client.get(link(file.id, "all"))).status_code == 200
    assert (await client.get(path, headers=bearer(world.center))).status_code == 200


async def test_external_and_missing_files_are_not_found(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    external = await make_result_file(appointment)
    vanished = await make_result_file(appointment, stored=PDF_BYTES)
    stored = await StoredFile.get(id=vanished.id)
    (storage_dir() / stored.storage_key).unlink()

    for file_id in (external.id, vanished.id):
        response = await client.get(f"{BASE}/files/{file_id}/content", headers=bearer(world.center))
        assert_error(response, 404, "File not found")


async def test_image_derivatives_are_served_as_variants(client: httpx.AsyncClient) -> None:
    world = await booking_world()
    appointment = await make_appointment(world.patient, world.center, world.screening_type)
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(buffer, format="PNG")
    file = await make_result_file(
        appointment, file_name="xray.png", stored=buffer.getvalue(), content_type="image/png"
    )
    key = (await StoredFile.get(id=file.id)).storage_key
    source = storage_dir() / key
    make_derivatives(source, source.with_suffix(".web.jpg"), source.with_suffix(".thumbnail.jpg"))
    url = link(file.id, "active")

    thumbnail = await client.get(url + "&variant=thumbnail")
    unknown = await client.get(url + "&variant=huge")

    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (320, 240)
    assert_error(unknown, 404, "File not found")
