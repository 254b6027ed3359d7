"""Attacks on the result upload (appointments.md 3.2, 4.7 multipart mode) and on what it serves.

Against the security edge (conftest.py): 256 KiB per file, 3 files per request, its own
STORAGE_DIR inside a directory that holds nothing else. Multipart bodies are written by hand so
that file names reach the server byte for byte (NUL, backslashes, RFC 5987 `filename*`).

Every refused upload must answer a 4xx JSON envelope and leave no trace: no byte in storage (the
staging files included), no row, the appointment's status unchanged. Every accepted one must be
stored under `results/{appointmentId}/{fileId}.{ext}` with a cleaned display name, nothing
outside STORAGE_DIR, and be served back with its canonical type, `nosniff` and a sandbox CSP.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from actors.images import ImageRejectedError, process_result_image
from models.appointments import Appointment
from models.enums import AppointmentStatus
from models.jobs import Job
from models.results import ScreeningResultFile
from tests.edge.factories_appointments import PDF_BYTES, make_appointment
from tests.factories import bearer, make_center, make_patient, make_screening_type, owner_staff
from tests.security.conftest import MAX_FILE_BYTES, MAX_FILE_TEXT, MAX_FILES, reset_database

INVALID_TYPE = "File {name} has invalid type. Allowed: pdf, jpg, jpeg, png, doc, docx"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 64 + b"\xff\xd9"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"PE\x00\x00"
HTML_BYTES = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
SVG_BYTES = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
DOCX_BYTES = b"PK\x03\x04" + b"\x00" * 64
DOC_BYTES = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64
BOUNDARY = "zc-security-boundary-7f3a"


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares `width x height` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return PNG_MAGIC + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# ---------------------------------------------------------------------------------------------
# Multipart bodies, byte for byte


@dataclass(frozen=True)
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None
    disposition: bytes | None = None  # the whole Content-Disposition value, when given

    def encode(self) -> bytes:
        if self.disposition is not None:
            disposition = self.disposition
        else:
            disposition = f'form-data; name="{self.name}"'.encode()
            if self.filename is not None:
                disposition += b'; filename="' + self.filename.encode("utf-8") + b'"'
        head = b"Content-Disposition: " + disposition + b"\r\n"
        if self.content_type:
            head += f"Content-Type: {self.content_type}\r\n".encode()
        return head + b"\r\n" + self.data


def file_part(filename: str, data: bytes = PDF_BYTES, **options: Any) -> Part:
    return Part("files", data, filename=filename, **options)


def multipart(parts: list[Part], *, close: bool = True) -> bytes:
    body = b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + part.encode() + b"\r\n" for part in parts)
    return body + (b"--" + BOUNDARY.encode() + b"--\r\n" if close else b"")


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


# ---------------------------------------------------------------------------------------------
# The world of this module


@dataclass
class UploadWorld:
    center: dict[str, str]
    other_center: dict[str, str]
    patient: dict[str, str]
    patient_id: str
    center_id: str
    screening_type_id: str


@pytest.fixture(scope="module")
async def upload_world(orm: None, database_url: str, sclient: httpx.AsyncClient) -> UploadWorld:
    await reset_database(database_url)
    screening = await make_screening_type()
    center = await make_center(services=[screening])
    other = await make_center(services=[screening])
    patient = await make_patient()
    return UploadWorld(
        center=bearer(await owner_staff(center), ttl=3600),
        other_center=bearer(await owner_staff(other), ttl=3600),
        patient=bearer(patient, ttl=3600),
        patient_id=patient.id,
        center_id=center.id,
        screening_type_id=screening.id,
    )


@pytest.fixture
async def appointment(upload_world: UploadWorld) -> Appointment:
    from models.centers import ServiceCenter
    from models.screening_types import ScreeningType
    from models.users import User

    return await make_appointment(
        await User.get(id=upload_world.patient_id),
        await ServiceCenter.get(id=upload_world.center_id),
        await ScreeningType.get(id=upload_world.screening_type_id),
    )


def tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def storage_watch(security_root: Path, security_storage: Path) -> Any:
    """What the upload wrote: new files under the security root (which holds only storage/)."""
    before = tree(security_root)

    def new_files() -> set[str]:
        return tree(security_root) - before

    yield new_files
    leftovers = [name for name in tree(security_root) if name.startswith("storage/tmp/")]
    assert leftovers == [], f"staging files left behind: {leftovers}"
    assert {path.name for path in security_root.iterdir()} <= {"storage"}


async def upload(
    client: httpx.AsyncClient,
    appointment_id: str,
    body: bytes,
    headers: dict[str, str],
    content_headers: dict[str, str] = MULTIPART,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/appointment/center/{appointment_id}/upload-results",
        content=body,
        headers={**headers, **content_headers},
    )


async def file_rows(appointment_id: str) -> list[ScreeningResultFile]:
    return await ScreeningResultFile.filter(result__appointment_id=appointment_id).order_by(
        "uploaded_at", "id"
    )


async def assert_refused(
    response: httpx.Response,
    status: int,
    appointment: Appointment,
    new_files: Any,
    error: str | None = None,
) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["ok"] is False
    if error is not None:
        assert body["error"] == error
    assert new_files() == set(), "a refused upload left bytes in storage"
    assert await file_rows(appointment.id) == []
    stored = await Appointment.get(id=appointment.id)
    assert stored.status == AppointmentStatus.SCHEDULED


def assert_stored_safely(appointment: Appointment, new_files: set[str], count: int) -> None:
    pattern = re.compile(
        rf"^storage/results/{re.escape(appointment.id)}/"
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(pdf|jpg|jpeg|png|doc|docx)$"
    )
    assert len(new_files) == count, new_files
    for name in new_files:
        assert pattern.match(name), f"stored outside results/{{appointment}}/{{uuid}}.ext: {name}"


def assert_safe_display_name(row: ScreeningResultFile) -> None:
    assert row.file_name, "empty display name"
    assert len(row.file_name) <= 255
    assert "/" not in row.file_name
    assert "\\" not in row.file_name
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", row.file_name)
    assert row.file_name not in (".", "..")
    assert not row.file_path.startswith("/")
    assert ".." not in row.file_path.split("/")
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", row.file_path)
    assert len(row.file_path) <= 500


async def download(
    client: httpx.AsyncClient, file_id: str, headers: dict[str, str], **params: str
) -> httpx.Response:
    return await client.get(
        f"/api/v1/appointment/files/{file_id}/content", headers=headers, params=params
    )


def assert_served_defused(response: httpx.Response, content_type: str) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('inline; filename="')
    fallback = disposition.split('filename="', 1)[1].split('"; filename*=', 1)[0]
    assert re.fullmatch(r"[\x20-\x7e]*", fallback), disposition
    assert '"' not in fallback, disposition
    assert "filename*=UTF-8''" in disposition


# ---------------------------------------------------------------------------------------------
# Wrong types


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        pytest.param("report.pdf", EXE_BYTES, id="windows executable named .pdf"),
        pytest.param("scan.jpg", HTML_BYTES, id="html named .jpg"),
        pytest.param("scan.png", SVG_BYTES, id="svg with script named .png"),
        pytest.param("scan.jpeg", b"GIF89a\x01\x00\x01\x00" + b"\x00" * 32, id="gif named .jpeg"),
        pytest.param("results.docx", PDF_BYTES, id="pdf named .docx"),
        pytest.param("notes.doc", DOCX_BYTES, id="docx (zip) named .doc"),
        pytest.param("image.jpg", PNG_MAGIC + b"\x00" * 32, id="png named .jpg"),
        pytest.param("report.pdf", b" " + PDF_BYTES, id="pdf magic not at byte 0"),
        pytest.param("report.pdf", b"%PDF", id="truncated magic"),
        pytest.param("script.pdf", b"#!/bin/sh\nrm -rf /\n", id="shell script named .pdf"),
    ],
)
async def test_wrong_bytes_behind_an_allowed_extension_are_refused(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
    filename: str,
    data: bytes,
) -> None:
    response = await upload(
        sclient, appointment.id, multipart([file_part(filename, data)]), upload_world.center
    )
    await assert_refused(
        response, 400, appointment, storage_watch, INVALID_TYPE.format(name=filename)
    )


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        pytest.param("report.exe", PDF_BYTES, id="pdf named .exe"),
        pytest.param("report.pdf.exe", PDF_BYTES, id="double extension ending .exe"),
        pytest.param("page.html", JPEG_BYTES, id="jpeg named .html"),
        pytest.param("drawing.svg", PNG_MAGIC + b"\x00" * 32, id="png named .svg"),
        pytest.param("report", PDF_BYTES, id="no extension"),
        pytest.param("report.", PDF_BYTES, id="empty extension"),
        pytest.param("report.pdf ", PDF_BYTES, id="trailing space after extension"),
        pytest.param("report.php", PDF_BYTES, id="server script extension"),
    ],
)
async def test_allowed_bytes_behind_another_extension_are_refused(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
    filename: str,
    data: bytes,
) -> None:
    response = await upload(
        sclient, appointment.id, multipart([file_part(filename, data)]), upload_world.center
    )
    await assert_refused(
        response, 400, appointment, storage_watch, INVALID_TYPE.format(name=filename)
    )


async def test_an_empty_file_is_refused(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
) -> None:
    response = await upload(
        sclient, appointment.id, multipart([file_part("empty.pdf", b"")]), upload_world.center
    )
    await assert_refused(
        response, 400, appointment, storage_watch, INVALID_TYPE.format(name="empty.pdf")
    )


async def test_the_declared_part_type_is_ignored_and_polyglots_are_served_defused(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
) -> None:
    """A PDF/HTML polyglot passes the leading-bytes rule; it is stored and served as a PDF
    that the browser may neither sniff nor run (nosniff, CSP sandbox)."""
    polyglot = PDF_BYTES + HTML_BYTES
    parts = [
        file_part("poly.pdf", polyglot, content_type="text/html"),
        file_part("photo.JPG", JPEG_BYTES + HTML_BYTES, content_type="text/html"),
    ]
    response = await upload(sclient, appointment.id, multipart(parts), upload_world.center)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["filesCount"] == 2
    assert_stored_safely(appointment, storage_watch(), 2)
    rows = await file_rows(appointment.id)
    assert sorted(row.file_type for row in rows) == ["application/pdf", "image/jpeg"]
    for row in rows:
        served = await download(sclient, row.id, upload_world.center)
        assert_served_defused(served, row.file_type)
        assert served.content in (polyglot, JPEG_BYTES + HTML_BYTES)


# ---------------------------------------------------------------------------------------------
# Sizes and counts


async def test_an_oversize_file_is_refused_and_nothing_is_kept(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
) -> None:
    big = PDF_BYTES + b"0" * MAX_FILE_BYTES
    parts = [file_part("small.pdf"), file_part("big.pdf", big)]
    response = await upload(sclient, appointment.id, multipart(parts), upload_world.center)
    await assert_refused(
        response,
        413,
        appointment,
        storage_watch,
        f"File big.pdf is too large. Max size: {MAX_FILE_TEXT}",
    )


async def test_a_file_of_exactly_the_limit_is_accepted(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
) -> None:
    exact = PDF_BYTES + b"0" * (MAX_FILE_BYTES - len(PDF_BYTES))
    response = await upload(
        sclient, appointment.id, multipart([file_part("exact.pdf", exact)]), upload_world.center
    )
    assert response.status_code == 200, response.text
    assert_stored_safely(appointment, storage_watch(), 1)


async def test_too_many_files_are_refused(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
) -> None:
    parts = [file_part(f"page-{index}.pdf") for index in range(MAX_FILES + 1)]
    response = await upload(sclient, appointment.id, multipart(parts), upload_world.center)
    await assert_refused(
        response, 400, appointment, storage_watch, f"Too many files. Max: {MAX_FILES} per request"
    )


async def test_a_declared_body_over_the_limit_is_refused_before_reading(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
) -> None:
    limit = MAX_FILES * MAX_FILE_BYTES + 1024 * 1024
    body = multipart([Part("folderName", b"x" * (limit + 1))])
    response = await upload(sclient, appointment.id, body, upload_world.center)
    await assert_refused(response, 413, appointment, storage_watch, "Request body too large")


async def test_a_chunked_body_cannot_smuggle_an_unbounded_ignored_part(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
) -> None:
    """No Content-Length: the limit is enforced while streaming, also on parts the route
    reads past (unknown names)."""
    limit = MAX_FILES * MAX_FILE_BYTES + 1024 * 1024
    head = b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="junk"\r\n\r\n'

    async def chunks() -> AsyncIterator[bytes]:
        yield head
        sent = 0
        while sent <= limit + 64 * 1024:
            yield b"j" * 65536
            sent += 65536
        yield b"\r\n--" + BOUNDARY.encode() + b"--\r\n"

    response = await sclient.post(
        f"/api/v1/appointment/center/{appointment.id}/upload-results",
        content=chunks(),
        headers={**upload_world.center, **MULTIPART},
    )
    await assert_refused(response, 413, appointment, storage_watch)


# ---------------------------------------------------------------------------------------------
# Decompression bombs: stored byte for byte (3.2), refused by the image actor


async def test_a_decompression_bomb_is_stored_but_the_image_job_refuses_it(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
    security_storage: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = png_claiming(100_000, 100_000)
    assert len(bomb) < 200
    response = await upload(
        sclient, appointment.id, multipart([file_part("bomb.png", bomb)]), upload_world.center
    )

    assert response.status_code == 200, response.text
    assert_stored_safely(appointment, storage_watch(), 1)
    (row,) = await file_rows(appointment.id)
    job = await Job.get(actor_name="process_result_image", args__contains={"file_id": row.id})
    assert job.args["storage_key"] == f"results/{appointment.id}/{row.id}.png"

    monkeypatch.setenv("STORAGE_DIR", str(security_storage))
    with pytest.raises(ImageRejectedError, match="decompression bomb"):
        await process_result_image(**job.args)

    assert storage_watch() == {f"storage/{job.args['storage_key']}"}, "derivatives were written"
    original = await download(sclient, row.id, upload_world.center)
    assert original.content == bomb
    assert_served_defused(original, "image/png")
    web = await download(sclient, row.id, upload_world.center, variant="web")
    assert web.status_code == 404


# ---------------------------------------------------------------------------------------------
# Path tricks in names


PATH_TRICKS = [
    pytest.param("../../etc/passwd.pdf", id="dot-dot traversal"),
    pytest.param("/etc/passwd.pdf", id="absolute path"),
    pytest.param("..\\..\\windows\\win.ini.pdf", id="windows traversal"),
    pytest.param("C:\\Windows\\System32\\evil.pdf", id="drive letter"),
    pytest.param("....//....//x.pdf", id="doubled dots"),
    pytest.param("%2e%2e%2f%2e%2e%2fescape.pdf", id="percent-encoded traversal"),
    pytest.param("results/../../../escape.pdf", id="traversal inside the storage layout"),
    pytest.param("..", id="dot-dot only"),
    pytest.param(".pdf", id="extension only"),
    pytest.param("a" * 5000 + ".pdf", id="very long name"),
    pytest.param("r\u00e9sultat \u691c\u67fb \U0001f600.pdf", id="unicode"),
    pytest.param("invoice\u202efdp.exe.pdf", id="right-to-left override"),
    pytest.param("line\r\nbreak.pdf", id="control characters"),
    pytest.param('quote";name=evil.pdf', id="quote injection"),
]


@pytest.mark.parametrize("filename", PATH_TRICKS)
async def test_path_tricks_in_file_names_never_leave_storage(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
    filename: str,
) -> None:
    part = file_part(filename)
    if "\r" in filename or '"' in filename:
        escaped = filename.replace("\\", "\\\\").replace('"', '\\"').replace("\r\n", "")
        part = Part(
            "files",
            PDF_BYTES,
            disposition=b'form-data; name="files"; filename="' + escaped.encode() + b'"',
        )
    response = await upload(sclient, appointment.id, multipart([part]), upload_world.center)

    assert response.status_code < 500, response.text
    if response.status_code != 200:
        await assert_refused(response, response.status_code, appointment, storage_watch)
        return
    assert_stored_safely(appointment, storage_watch(), 1)
    (row,) = await file_rows(appointment.id)
    assert_safe_display_name(row)
    assert_served_defused(await download(sclient, row.id, upload_world.center), "application/pdf")


@pytest.mark.parametrize(
    "disposition",
    [
        pytest.param(
            b'form-data; name="files"; filename="report\x00.exe.pdf"',
            id="NUL byte",
        ),
        pytest.param(
            b"form-data; name=\"files\"; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd.pdf",
            id="RFC 5987 encoded traversal",
        ),
        pytest.param(
            b"form-data; name=\"files\"; filename*=UTF-8''report%00.pdf",
            id="RFC 5987 encoded NUL",
        ),
        pytest.param(
            b'form-data; name="files"; filename="a.pdf"; filename="/etc/b.pdf"',
            id="two filename parameters",
        ),
    ],
)
async def test_raw_disposition_tricks_never_fail_the_server(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
    disposition: bytes,
) -> None:
    part = Part("files", PDF_BYTES, disposition=disposition)
    response = await upload(sclient, appointment.id, multipart([part]), upload_world.center)

    assert response.status_code < 500, response.text
    if response.status_code != 200:
        await assert_refused(response, response.status_code, appointment, storage_watch)
        return
    assert_stored_safely(appointment, storage_watch(), 1)
    (row,) = await file_rows(appointment.id)
    assert_safe_display_name(row)


@pytest.mark.parametrize(
    ("client_path", "stored"),
    [
        ("../../../../etc/cron.d/job", "etc/cron.d/job"),
        ("/var/www/html/shell", "var/www/html/shell"),
        ("..\\..\\windows\\tasks", "windows/tasks"),
        ("reports/./2025/../scan.pdf", "reports/2025/scan.pdf"),
        ("a\x01b\x7fc/d", "abc/d"),
    ],
)
async def test_client_file_paths_are_cleaned(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
    client_path: str,
    stored: str,
) -> None:
    parts = [file_part("scan.pdf"), Part("filePath", client_path.encode())]
    response = await upload(sclient, appointment.id, multipart(parts), upload_world.center)

    assert response.status_code == 200, response.text
    assert_stored_safely(appointment, storage_watch(), 1)
    (row,) = await file_rows(appointment.id)
    assert row.file_path == stored
    assert_safe_display_name(row)


# ---------------------------------------------------------------------------------------------
# Malformed bodies and callers


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(multipart([file_part("a.pdf")], close=False), None, id="no closing boundary"),
        pytest.param(b"no multipart here", None, id="no boundary in the body"),
        pytest.param(
            b"--" + BOUNDARY.encode() + b"\r\nX-Other: 1\r\n\r\n%PDF-\r\n--" + BOUNDARY.encode(),
            None,
            id="part without disposition",
        ),
        pytest.param(
            b"--"
            + BOUNDARY.encode()
            + b'\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n'
            + b"X-Pad: "
            + b"p" * (1024 * 1024)
            + b"\r\n\r\n%PDF-\r\n--"
            + BOUNDARY.encode()
            + b"--\r\n",
            None,
            id="oversized part headers",
        ),
        pytest.param(
            multipart([file_part("a.pdf")]),
            "multipart/form-data; boundary=another-boundary",
            id="boundary mismatch",
        ),
        pytest.param(multipart([file_part("a.pdf")]), "multipart/form-data", id="no boundary"),
        pytest.param(
            multipart([Part("files", PDF_BYTES)]), None, id="file part without a file name"
        ),
        pytest.param(multipart([Part("notes", b"only notes")]), None, id="no file at all"),
        pytest.param(
            multipart([file_part("a.pdf"), Part("filePath", b"p" * (65 * 1024))]),
            None,
            id="oversized text part",
        ),
        pytest.param(
            multipart([file_part("a.pdf"), Part("notes", b"n" * 5001)]), None, id="notes too long"
        ),
    ],
)
async def test_malformed_multipart_bodies_are_400(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
    body: bytes,
    content_type: str | None,
) -> None:
    headers = {"Content-Type": content_type} if content_type else MULTIPART
    response = await upload(sclient, appointment.id, body, upload_world.center, headers)
    await assert_refused(response, 400, appointment, storage_watch)


async def test_another_centre_is_refused_before_any_byte_is_stored(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
) -> None:
    body = multipart([file_part("scan.pdf", PDF_BYTES + b"0" * 100_000)])
    foreign = await upload(sclient, appointment.id, body, upload_world.other_center)
    patient = await upload(sclient, appointment.id, body, upload_world.patient)
    anonymous = await upload(sclient, appointment.id, body, {})

    await assert_refused(
        foreign, 403, appointment, storage_watch, "Appointment does not belong to your center"
    )
    await assert_refused(patient, 403, appointment, storage_watch)
    await assert_refused(anonymous, 401, appointment, storage_watch)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"url": "javascript:alert(document.cookie)"}, "url", id="javascript url"),
        pytest.param({"url": "data:text/html,<script>alert(1)</script>"}, "url", id="data url"),
        pytest.param({"url": "file:///etc/passwd"}, "url", id="file url"),
        pytest.param({"fileSize": -1}, "fileSize", id="negative size"),
        pytest.param({"fileSize": 1.5}, "fileSize", id="fractional size"),
        pytest.param({"fileSize": 2**31}, "fileSize", id="size beyond the column"),
    ],
)
async def test_json_mode_metadata_attacks_are_400(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
    change: dict[str, Any],
    field: str,
) -> None:
    """D-APT-17: JSON mode records links; only http(s) links and integer sizes."""
    item = {
        "fileName": "scan.pdf",
        "originalName": "scan.pdf",
        "filePath": "scan.pdf",
        "fileType": "application/pdf",
        "fileSize": 10,
        "url": "https://res.cloudinary.com/demo/raw/upload/scan.pdf",
        "cloudinaryId": "screening-results/scan.pdf",
        **change,
    }
    response = await sclient.post(
        f"/api/v1/appointment/center/{appointment.id}/upload-results",
        json={"files": [item]},
        headers=upload_world.center,
    )
    await assert_refused(response, 400, appointment, storage_watch)
    issues = response.json()["error"]["issues"]
    assert any(field in issue["path"] for issue in issues), issues


async def test_too_many_json_entries_are_refused(
    sclient: httpx.AsyncClient,
    upload_world: UploadWorld,
    appointment: Appointment,
    storage_watch: Any,
) -> None:
    item = {
        "fileName": "scan.pdf",
        "originalName": "scan.pdf",
        "filePath": "scan.pdf",
        "fileType": "application/pdf",
        "fileSize": 10,
        "url": "https://res.cloudinary.com/demo/raw/upload/scan.pdf",
        "cloudinaryId": "screening-results/scan.pdf",
    }
    response = await sclient.post(
        f"/api/v1/appointment/center/{appointment.id}/upload-results",
        json={"files": [item] * 101},
        headers=upload_world.center,
    )
    await assert_refused(response, 400, appointment, storage_watch)
