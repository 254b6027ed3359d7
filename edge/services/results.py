"""Screening results (appointments.md §2.4, §4.1, §4.7, §4.9, §4.10, §4.16, §4.20): the result
view with signed file links, recording uploads (JSON metadata or bytes we stored), soft delete
and restore, and who may download a stored file.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from actors.contracts import Requester, enqueue
from actors.contracts.messages import ProcessResultImage
from actors.contracts.notifications import notify
from edge.services.acting import Acting, acting_staff_id
from edge.services.errors import DomainError, InvalidInputError, NotFoundError
from edge.storage import IMAGE_TYPES, LOCAL_ID_PREFIX, content_path, file_settings, signed_url
from models.appointments import Appointment
from models.base import utc_now
from models.enums import AppointmentStatus
from models.files import StoredFile
from models.results import ScreeningResult, ScreeningResultFile

#: Statuses in which results may be uploaded (§4.7 step 3).
UPLOADABLE = (AppointmentStatus.SCHEDULED, AppointmentStatus.IN_PROGRESS)


class ForeignAppointmentError(DomainError):
    """The appointment belongs to another center (answered 403 by the upload route)."""

    default_message = "Appointment does not belong to your center"


def is_local(file: ScreeningResultFile) -> bool:
    """Bytes stored by this system (`cloudinaryId` = `local:{fileId}`)."""
    return file.cloudinary_id.startswith(LOCAL_ID_PREFIX)


def served_file_url(file: ScreeningResultFile, *, scope: str) -> str:
    """`cloudinaryUrl` as served: a signed link for our files, the stored URL for others."""
    if is_local(file):
        return signed_url(file_settings(), file.id, scope)
    return file.cloudinary_url


# ---------------------------------------------------------------------------------------------
# The result object (§2.4)


def _file_entry(file: ScreeningResultFile, scope: str) -> dict[str, Any]:
    return {
        "id": file.id,
        "fileName": file.file_name,
        "filePath": file.file_path,
        "fileType": file.file_type,
        "fileSize": file.file_size,
        "cloudinaryUrl": served_file_url(file, scope=scope),
        "uploadedAt": file.uploaded_at,
        "isDeleted": file.is_deleted,
    }


def _file_row(file: ScreeningResultFile, scope: str) -> dict[str, Any]:
    """The raw row the reference serialises inside `folders` (D-APT-19)."""
    return {
        "id": file.id,
        "resultId": file.result_id,
        "fileName": file.file_name,
        "filePath": file.file_path,
        "fileType": file.file_type,
        "fileSize": file.file_size,
        "cloudinaryUrl": served_file_url(file, scope=scope),
        "cloudinaryId": file.cloudinary_id,
        "uploadedAt": file.uploaded_at,
        "isDeleted": file.is_deleted,
        "deletedAt": file.deleted_at,
        "deletedBy": file.deleted_by_id,
        "deletionReason": file.deletion_reason,
    }


def folder_of(file_path: str) -> str:
    """The part of `filePath` before the first `/`, or `root`."""
    head, sep, _ = file_path.partition("/")
    return head if sep else "root"


async def result_object(
    result: ScreeningResult, appointment: Appointment, *, include_deleted: bool
) -> dict[str, Any]:
    """`TPatientResult`; `appointment` must have `screening_type` and `center` loaded."""
    query = ScreeningResultFile.filter(result_id=result.id)
    if not include_deleted:
        query = query.filter(is_deleted=False)
    files = await query.order_by("file_path", "uploaded_at", "id")
    scope = "all" if include_deleted else "active"
    folders: dict[str, list[dict[str, Any]]] = {}
    for file in files:
        folders.setdefault(folder_of(file.file_path), []).append(_file_row(file, scope))
    return {
        "id": result.id,
        "notes": result.notes,
        "uploadedAt": result.uploaded_at,
        "appointment": {
            "id": appointment.id,
            "appointmentDateTime": appointment.appointment_date_time,
            "screeningType": {
                "id": appointment.screening_type.id,
                "name": appointment.screening_type.name,
            },
            "center": {
                "id": appointment.center.id,
                "centerName": appointment.center.center_name,
                "address": appointment.center.address,
            },
        },
        "files": [_file_entry(file, scope) for file in files],
        "folders": folders,
    }


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads results: `kind` is a role; `id` the patient id, `center_id` for centers."""

    kind: str
    id: str
    center_id: str | None = None

    @property
    def sees_deleted(self) -> bool:
        """Centers and admins see soft-deleted files (to restore them); patients never do."""
        return self.kind != "patient"

    def owns(self, appointment: Appointment) -> bool:
        if self.kind == "admin":
            return True
        if self.kind == "patient":
            return appointment.patient_id == self.id
        return self.center_id is not None and appointment.center_id == self.center_id


async def appointment_results(*, viewer: Viewer, appointment_id: str) -> dict[str, Any] | None:
    """§4.1: the appointment's result (None when it has none); not owned -> not found."""
    appointment = (
        await Appointment.filter(id=appointment_id)
        .select_related("screening_type", "center")
        .first()
    )
    if appointment is None or not viewer.owns(appointment):
        raise NotFoundError("Appointment not found or access denied")
    result = await ScreeningResult.filter(appointment_id=appointment.id).first()
    if result is None:
        return None
    return await result_object(result, appointment, include_deleted=viewer.sees_deleted)


async def patient_result(*, patient_id: str, result_id: str) -> dict[str, Any]:
    """§4.16: one result of the caller's appointments, without deleted files (D-APT-11)."""
    result = await ScreeningResult.filter(id=result_id).first()
    appointment = (
        None
        if result is None
        else await Appointment.filter(id=result.appointment_id, patient_id=patient_id)
        .select_related("screening_type", "center")
        .first()
    )
    if result is None or appointment is None:
        raise NotFoundError("Result not found")
    return await result_object(result, appointment, include_deleted=False)


# ---------------------------------------------------------------------------------------------
# Upload (§4.7)


@dataclass(frozen=True, slots=True)
class ExternalFile:
    """JSON mode: a file the browser uploaded elsewhere; only its metadata is recorded."""

    file_name: str
    file_path: str
    file_type: str
    file_size: int
    url: str
    cloudinary_id: str


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """Multipart mode: bytes already moved into storage at `storage_key`."""

    file_id: str
    storage_key: str
    file_name: str
    file_path: str
    content_type: str
    size: int
    sha256: str
    original_name: str


def new_file_id() -> str:
    return str(uuid.uuid4())


async def upload_target(*, acting: Acting, appointment_id: str) -> Appointment:
    """Steps 1-3 of §4.7, checked before any byte is stored."""
    appointment = await Appointment.get_or_none(id=appointment_id)
    if appointment is None:
        raise NotFoundError("Appointment not found")
    if appointment.center_id != acting.center_id:
        raise ForeignAppointmentError()
    if appointment.status not in UPLOADABLE:
        raise InvalidInputError("Appointment is not in a valid state for result upload")
    return appointment


async def record_upload(
    *,
    acting: Acting,
    appointment_id: str,
    notes: str | None,
    external: Sequence[ExternalFile] = (),
    stored: Sequence[StoredUpload] = (),
) -> dict[str, Any]:
    """Step 4 of §4.7 in one transaction: upsert the result, insert the file rows (and the
    `stored_files` rows), set IN_PROGRESS, and ask the image actor for web/thumbnail copies.
    `notes` None leaves existing notes as they are."""
    async with in_transaction() as conn:
        appointment = (
            await Appointment.filter(id=appointment_id).using_db(conn).select_for_update().first()
        )
        if appointment is None:
            raise NotFoundError("Appointment not found")
        if appointment.center_id != acting.center_id:
            raise ForeignAppointmentError()
        if appointment.status not in UPLOADABLE:
            raise InvalidInputError("Appointment is not in a valid state for result upload")
        now = utc_now()
        uploader = await acting_staff_id(
            center_id=acting.center_id, staff_id=acting.staff_id, using_db=conn
        )
        result = (
            await ScreeningResult.filter(appointment_id=appointment.id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if result is None:
            result = await ScreeningResult.create(
                appointment_id=appointment.id,
                notes=notes,
                uploaded_by_id=uploader,
                uploaded_at=now,
                using_db=conn,
            )
        else:
            values: dict[str, Any] = {"uploaded_by_id": uploader, "uploaded_at": now}
            if notes is not None:
                values["notes"] = notes
            await ScreeningResult.filter(id=result.id).using_db(conn).update(**values)
        rows = [
            ScreeningResultFile(
                result_id=result.id,
                file_name=item.file_name or "unknown",
                file_path=item.file_path or "unknown",
                file_type=item.file_type or "unknown",
                file_size=item.file_size,
                cloudinary_url=item.url,
                cloudinary_id=item.cloudinary_id,
                uploaded_at=now,
                is_deleted=False,
            )
            for item in external
        ]
        for upload in stored:
            await StoredFile.create(
                id=uuid.UUID(upload.file_id),
                storage_key=upload.storage_key,
                content_type=upload.content_type,
                size_bytes=upload.size,
                sha256=upload.sha256,
                original_name=upload.original_name,
                using_db=conn,
            )
            rows.append(
                ScreeningResultFile(
                    id=upload.file_id,
                    result_id=result.id,
                    file_name=upload.file_name,
                    file_path=upload.file_path,
                    file_type=upload.content_type,
                    file_size=upload.size,
                    cloudinary_url=content_path(upload.file_id),
                    cloudinary_id=f"{LOCAL_ID_PREFIX}{upload.file_id}",
                    uploaded_at=now,
                    is_deleted=False,
                )
            )
        if rows:
            await ScreeningResultFile.bulk_create(rows, using_db=conn)
        await (
            Appointment.filter(id=appointment.id, status__in=UPLOADABLE)
            .using_db(conn)
            .update(status=AppointmentStatus.IN_PROGRESS)
        )
        requester = Requester("staff" if acting.staff_id else "center", acting.center_id)
        for upload in stored:
            if upload.content_type in IMAGE_TYPES:
                await enqueue(
                    ProcessResultImage(
                        file_id=upload.file_id,
                        storage_key=upload.storage_key,
                        content_type=upload.content_type,
                    ),
                    using_db=conn,
                    requested_by=requester,
                    idempotency_key=f"process-result-image:{upload.file_id}",
                )
    return {"resultId": result.id, "filesCount": len(rows)}


# ---------------------------------------------------------------------------------------------
# Soft delete and restore (§4.9, §4.10)


async def _center_file(
    acting: Acting, file_id: str, *, deleted: bool, conn: Any
) -> ScreeningResultFile | None:
    return (
        await ScreeningResultFile.filter(
            id=file_id, is_deleted=deleted, result__appointment__center_id=acting.center_id
        )
        .using_db(conn)
        .select_for_update(of=("ScreeningResultFile",))
        .select_related("result__appointment")
        .first()
    )


async def delete_file(
    *, acting: Acting, file_id: str, reason: str | None, notify_patient: bool
) -> dict[str, Any]:
    """§4.9: flags only, the bytes stay."""
    async with in_transaction() as conn:
        file = await _center_file(acting, file_id, deleted=False, conn=conn)
        if file is None:
            raise NotFoundError("File not found or already deleted")
        now = utc_now()
        deleter = await acting_staff_id(
            center_id=acting.center_id, staff_id=acting.staff_id, using_db=conn
        )
        changed = (
            await ScreeningResultFile.filter(id=file.id, is_deleted=False)
            .using_db(conn)
            .update(is_deleted=True, deleted_at=now, deleted_by_id=deleter, deletion_reason=reason)
        )
        if changed != 1:  # pragma: no cover - the row is locked above
            raise NotFoundError("File not found or already deleted")
        appointment = file.result.appointment
        if appointment.status == AppointmentStatus.COMPLETED and notify_patient:
            await notify(
                type="RESULT_UPDATED",
                title="Result File Removed",
                message=(
                    f'A result file "{file.file_name}" has been removed from your '
                    "screening results."
                ),
                recipient_ids=[appointment.patient_id],
                data={"appointmentId": appointment.id},
                using_db=conn,
            )
    return {"fileId": file.id, "deletedAt": now}


async def restore_file(*, acting: Acting, file_id: str) -> dict[str, Any]:
    """§4.10: clears the soft-delete flags."""
    async with in_transaction() as conn:
        file = await _center_file(acting, file_id, deleted=True, conn=conn)
        if file is None:
            raise NotFoundError("Deleted file not found")
        now = utc_now()
        await (
            ScreeningResultFile.filter(id=file.id, is_deleted=True)
            .using_db(conn)
            .update(is_deleted=False, deleted_at=None, deleted_by_id=None, deletion_reason=None)
        )
        appointment = file.result.appointment
        if appointment.status == AppointmentStatus.COMPLETED:
            await notify(
                type="RESULT_UPDATED",
                title="Result File Restored",
                message=(
                    f'Result file "{file.file_name}" has been restored to your screening results.'
                ),
                recipient_ids=[appointment.patient_id],
                data={"appointmentId": appointment.id},
                using_db=conn,
            )
    return {"fileId": file.id, "restoredAt": now}


# ---------------------------------------------------------------------------------------------
# Downloads (§4.20)


@dataclass(frozen=True, slots=True)
class Download:
    file: ScreeningResultFile
    appointment: Appointment
    stored: StoredFile


async def downloadable(file_id: str) -> Download | None:
    """A file whose bytes we store, with its appointment and storage row (None otherwise)."""
    try:
        stored_id = uuid.UUID(file_id)
    except ValueError:
        return None
    file = (
        await ScreeningResultFile.filter(id=file_id).select_related("result__appointment").first()
    )
    if file is None or not is_local(file):
        return None
    stored = await StoredFile.get_or_none(id=stored_id)
    if stored is None:
        return None
    return Download(file=file, appointment=file.result.appointment, stored=stored)
