"""Appointment routes shared by every role: /api/v1/appointment/{id}/results and the download of
stored result files, /api/v1/appointment/files/{fileId}/content.

Patient routes are in `appointment_patient`, center routes in `appointment_center` and
`results`.
"""

from __future__ import annotations

import asyncio

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, ResponseStream, file_stream

from edge.auth.guards import Principal, authenticate, requires_role
from edge.deps import principal_of
from edge.envelope import ok
from edge.errors import ApiError, NotAuthenticated
from edge.schemas.appointment import IdPath
from edge.services import results
from edge.services.results import Viewer
from edge.storage import (
    content_disposition,
    default_storage,
    file_settings,
    variant_key,
    verify_signature,
)
from edge.validation import validate

bp = Blueprint("appointment", url_prefix="/appointment")

#: Derivatives the image actor writes beside a stored image (`?variant=`).
VARIANTS = frozenset({"web", "thumbnail"})


def viewer_of(principal: Principal) -> Viewer:
    return Viewer(kind=principal.kind, id=principal.id, center_id=principal.center_id)


@bp.get("/<appointment_id:str>/results", name="get_appointment_results")
@requires_role("patient", "center", "center_staff", "admin")
async def get_appointment_results(request: Request, appointment_id: str) -> HTTPResponse:
    """The appointment's result with its files (`data: null` when none was uploaded).

    Patients see their own appointments' non-deleted files; centers their own appointments'
    files including soft-deleted ones; admins any.
    """
    validate(IdPath, {"id": appointment_id})
    viewer = viewer_of(principal_of(request))
    return ok(await results.appointment_results(viewer=viewer, appointment_id=appointment_id))


def _file_not_found() -> ApiError:
    return ApiError("File not found", status=404)


@bp.get("/files/<file_id:str>/content", name="get_result_file_content")
async def get_result_file_content(request: Request, file_id: str) -> HTTPResponse | ResponseStream:
    """The bytes of a stored result file, by signed link (`expires`, `scope`, `signature`) or
    bearer token (the patient, the appointment's center, an admin)."""
    settings = file_settings()
    expires = request.args.get("expires")
    scope = request.args.get("scope")
    signature = request.args.get("signature")
    signed = expires is not None or scope is not None or signature is not None
    signature_ok = bool(
        expires
        and scope
        and signature
        and verify_signature(settings, file_id, expires, scope, signature)
    )
    principal = authenticate(request) if "authorization" in request.headers else None
    if not signed and principal is None:
        raise NotAuthenticated("no authorization included in request")
    download = await results.downloadable(file_id)
    token_ok = (
        principal is not None
        and download is not None
        and viewer_of(principal).owns(download.appointment)
    )
    if not signature_ok and not token_ok:
        if signed and not token_ok:
            raise ApiError("Invalid or expired file link", status=403)
        raise _file_not_found()
    if download is None:
        raise _file_not_found()
    if download.file.is_deleted:
        sees_deleted = (signature_ok and scope == "all") or (
            token_ok and principal is not None and principal.kind != "patient"
        )
        if not sees_deleted:
            raise _file_not_found()
    key = download.stored.storage_key
    content_type = download.stored.content_type
    file_name = download.file.file_name
    variant = request.args.get("variant")
    if variant is not None:
        if variant not in VARIANTS:
            raise _file_not_found()
        key = variant_key(key, variant)
        content_type = "image/jpeg"
        file_name = f"{file_name.rsplit('.', 1)[0]}.{variant}.jpg"
    storage = default_storage()
    if not await storage.exists(key):
        raise _file_not_found()
    path = storage.local_path(key)
    size = (await asyncio.to_thread(path.stat)).st_size
    headers = {
        "Content-Disposition": content_disposition(file_name),
        "Content-Length": str(size),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, max-age=300",
    }
    return await file_stream(path, mime_type=content_type, headers=headers)
