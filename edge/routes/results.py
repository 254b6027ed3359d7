"""Result routes of centers: /api/v1/appointment/center/{id}/upload-results and
/api/v1/appointment/center/files/{fileId} (soft delete, restore).

Upload has two modes (appointments.md §4.7): the JSON metadata the existing UI sends after
uploading to Cloudinary itself, and `multipart/form-data` whose bytes this system stores. The
route streams: the body is never held in memory, each file goes to a temporary file while being
counted and hashed, and nothing is kept unless every file passes (all-or-nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sanic import Blueprint, Request
from sanic.exceptions import PayloadTooLarge
from sanic.response import HTTPResponse

from edge.auth.guards import requires_role
from edge.deps import principal_of
from edge.envelope import ok
from edge.errors import ApiError, ValidationFailed
from edge.schemas.appointment import (
    MAX_NOTES,
    DeleteFileBody,
    RestoreFileBody,
    UploadResultsBody,
)
from edge.services import results
from edge.services.acting import Acting
from edge.services.errors import DomainError
from edge.services.results import ExternalFile, ForeignAppointmentError, StoredUpload
from edge.storage import (
    ALLOWED_EXTENSIONS_TEXT,
    FileSettings,
    StagedFile,
    clean_file_name,
    clean_file_path,
    default_storage,
    detect_type,
    file_settings,
    printable_name,
    result_key,
)
from edge.uploads import MultipartError, MultipartReader, boundary_of
from edge.validation import json_body, validate

log = logging.getLogger("zerocancer.edge.results")

bp = Blueprint("appointment_results", url_prefix="/appointment")

CENTER_ROLES = ("center", "center_staff")
#: Largest JSON-mode body (metadata of at most 100 files plus notes).
MAX_JSON_BODY = 1024 * 1024
#: Longest text part (`filePath`, `folderName`) accepted in multipart mode.
MAX_TEXT_PART = 64 * 1024


def too_large(message: str = "Request body too large") -> ApiError:
    return ApiError(message, status=413, err_code="payload_too_large")


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _stream(request: Request) -> Any:
    """The request's body stream (`Http` under HTTP/1.1; typed as the bare `Stream` base)."""
    return request.stream


async def _check_target(acting: Acting, appointment_id: str) -> None:
    try:
        await results.upload_target(acting=acting, appointment_id=appointment_id)
    except ForeignAppointmentError as exc:
        raise ApiError(exc.message, status=403) from None


@bp.post("/center/<appointment_id:str>/upload-results", name="upload_results", stream=True)
@requires_role(*CENTER_ROLES)
async def upload_results(request: Request, appointment_id: str) -> HTTPResponse:
    """Record result files: JSON metadata (the web UI) or multipart files stored here."""
    acting = Acting.of(principal_of(request))
    boundary = boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        return await _upload_json(request, acting, appointment_id)
    return await _upload_multipart(request, acting, appointment_id, boundary)


async def _read_json_body(request: Request) -> None:
    declared = _declared_length(request)
    if declared is not None and declared > MAX_JSON_BODY:
        raise too_large()
    stream = _stream(request)
    if stream is None:
        return
    stream.request_max_size = MAX_JSON_BODY
    body = bytearray()
    try:
        while (chunk := await stream.read()) is not None:
            body.extend(chunk)
    except PayloadTooLarge:
        raise too_large() from None
    request.body = bytes(body)


async def _upload_json(request: Request, acting: Acting, appointment_id: str) -> HTTPResponse:
    await _read_json_body(request)
    data = json_body(request) if request.body else {}
    body = validate(UploadResultsBody, data)
    await _check_target(acting, appointment_id)
    external = [
        ExternalFile(
            file_name=item.file_name,
            file_path=item.file_path,
            file_type=item.file_type,
            file_size=item.file_size,
            url=item.url,
            cloudinary_id=item.cloudinary_id,
        )
        for item in body.files
    ]
    try:
        answer = await results.record_upload(
            acting=acting, appointment_id=appointment_id, notes=body.notes, external=external
        )
    except Exception as exc:
        raise _upload_failure(exc, appointment_id) from None
    return ok(answer)


def _upload_failure(exc: Exception, appointment_id: str) -> Exception:
    """What a failure inside step 4 answers: domain refusals as such, anything else 500."""
    if isinstance(exc, ForeignAppointmentError):
        return ApiError(exc.message, status=403)
    if isinstance(exc, DomainError | ApiError):
        return exc
    log.error("result upload failed for appointment %s", appointment_id, exc_info=exc)
    return ApiError("Failed to upload results", status=500)


@dataclass
class _Received:
    """What a multipart body carried; `error` is the first refusal (the rest is drained)."""

    files: list[tuple[StagedFile, str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    notes: str | None = None
    error: ApiError | None = None


async def _receive(request: Request, boundary: bytes, settings: FileSettings) -> _Received:
    received = _Received()

    stream = _stream(request)

    async def read() -> bytes | None:
        if stream is None:
            return None
        try:
            chunk: bytes | None = await stream.read()
        except PayloadTooLarge:
            raise too_large() from None
        return chunk

    reader = MultipartReader(read, boundary)
    try:
        while (part := await reader.next_part()) is not None:
            if part.name in ("files", "file"):
                await _receive_file(reader, part.filename, received, settings)
            elif part.name == "filePath":
                received.paths.append(await reader.read_text(MAX_TEXT_PART))
            elif part.name == "notes":
                notes = await reader.read_text(MAX_NOTES * 4)
                if len(notes) > MAX_NOTES and received.error is None:
                    received.error = ValidationFailed.issue(
                        ["notes"],
                        f"String must contain at most {MAX_NOTES} character(s)",
                        "too_big",
                    )
                received.notes = notes
            # Other parts (folderName, unknown names) are read past and ignored.
    except MultipartError as exc:
        received.error = received.error or ValidationFailed.issue(
            [], f"Malformed multipart body: {exc}"
        )
    except BaseException:
        await _discard(received)
        raise
    if received.error is None and not received.files:
        received.error = ValidationFailed.issue(["files"], "Required", "invalid_type")
    return received


async def _receive_file(
    reader: MultipartReader,
    filename: str | None,
    received: _Received,
    settings: FileSettings,
) -> None:
    if received.error is not None:
        return  # drained by next_part()
    if not filename:
        received.error = ValidationFailed.issue(["files"], "File name is required")
        return
    if len(received.files) >= settings.max_files:
        received.error = ApiError(f"Too many files. Max: {settings.max_files} per request")
        return
    staged = await default_storage().stage()
    received.files.append((staged, filename, ""))
    oversize = False
    while (chunk := await reader.read()) is not None:
        if oversize or staged.size + len(chunk) > settings.max_bytes:
            oversize = True
            staged.count(chunk)
            continue
        await staged.write(chunk)
    await staged.close()
    if oversize:
        received.error = too_large(
            f"File {filename} is too large. Max size: {settings.max_megabytes_text}"
        )
    elif staged.size == 0 or detect_type(filename, staged.head) is None:
        received.error = ApiError(
            f"File {filename} has invalid type. Allowed: {ALLOWED_EXTENSIONS_TEXT}"
        )


async def _discard(received: _Received) -> None:
    storage = default_storage()
    for staged, _, _ in received.files:
        await storage.discard(staged)


async def _upload_multipart(
    request: Request, acting: Acting, appointment_id: str, boundary: bytes
) -> HTTPResponse:
    settings = file_settings()
    declared = _declared_length(request)
    if declared is not None and declared > settings.max_body_bytes:
        raise too_large()
    stream = _stream(request)
    if stream is not None:
        stream.request_max_size = settings.max_body_bytes
    # Appointment and permission checks come before any byte is stored.
    await _check_target(acting, appointment_id)
    received = await _receive(request, boundary, settings)
    if received.error is not None:
        await _discard(received)
        raise received.error
    storage = default_storage()
    uploads: list[StoredUpload] = []
    try:
        for index, (staged, filename, _) in enumerate(received.files):
            kind = detect_type(filename, staged.head)
            assert kind is not None  # checked while receiving
            file_id = results.new_file_id()
            name = clean_file_name(filename, kind.extension)
            client_path = received.paths[index] if index < len(received.paths) else None
            key = result_key(appointment_id, file_id, kind.extension)
            await storage.commit(staged, key)
            uploads.append(
                StoredUpload(
                    file_id=file_id,
                    storage_key=key,
                    file_name=name,
                    file_path=clean_file_path(client_path, name),
                    content_type=kind.content_type,
                    size=staged.size,
                    sha256=staged.sha256,
                    original_name=printable_name(filename)[:255],
                )
            )
        answer = await results.record_upload(
            acting=acting, appointment_id=appointment_id, notes=received.notes, stored=uploads
        )
    except BaseException as exc:
        # Nothing is kept unless the rows committed: remove whatever reached storage.
        await _discard(received)
        for upload in uploads:
            await storage.delete(upload.storage_key)
        if not isinstance(exc, Exception):
            raise
        raise _upload_failure(exc, appointment_id) from None
    return ok(answer)


def _optional_json(request: Request) -> object:
    """The body as JSON, `{}` when there is none (the UI sends no body to restore, D-APT-4)."""
    if not request.body or not request.body.strip():
        return {}
    return json_body(request)


@bp.delete("/center/files/<file_id:str>", name="delete_result_file")
@requires_role(*CENTER_ROLES)
async def delete_result_file(request: Request, file_id: str) -> HTTPResponse:
    """Soft-delete a result file (bytes kept; the patient is told when results were final)."""
    body = validate(DeleteFileBody, _optional_json(request))
    if body.file_id is not None and body.file_id != file_id:
        raise ValidationFailed.issue(["fileId"], "fileId must match the path")
    return ok(
        await results.delete_file(
            acting=Acting.of(principal_of(request)),
            file_id=file_id,
            reason=body.reason,
            notify_patient=body.notify_patient,
        )
    )


@bp.post("/center/files/<file_id:str>/restore", name="restore_result_file")
@requires_role(*CENTER_ROLES)
async def restore_result_file(request: Request, file_id: str) -> HTTPResponse:
    """Restore a soft-deleted result file."""
    body = validate(RestoreFileBody, _optional_json(request))
    if body.file_id is not None and body.file_id != file_id:
        raise ValidationFailed.issue(["fileId"], "fileId must match the path")
    return ok(await results.restore_file(acting=Acting.of(principal_of(request)), file_id=file_id))
