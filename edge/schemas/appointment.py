"""Request models of /api/v1/appointment and /api/v1/patient (appointments.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, StrictInt
from pydantic_core import PydanticCustomError

from edge.services.appointment_times import bookable_time
from edge.storage import file_settings
from edge.validation import Msg, Schema
from models.enums import AppointmentStatus

#: Largest page the appointment lists serve.
MAX_PAGE_SIZE = 100
#: Longest result notes accepted (new, §4.7).
MAX_NOTES = 5000
#: Most file entries one JSON-mode upload may list (D-APT-17).
MAX_JSON_FILES = 100
#: Largest `fileSize` the integer column holds.
MAX_FILE_SIZE = 2_147_483_647

INVALID_DATE = "Invalid appointment date and time"

Page = Annotated[int, Field(ge=1)]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]


def _required_date_time(message: str) -> Any:
    """A date-time string: empty -> `message`, else an ISO date-time within the booking window,
    turned into naive UTC (§4.11, §4.5)."""

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise PydanticCustomError("invalid_type", "Expected string")
        if not value:
            raise PydanticCustomError("too_small", message)
        moment = bookable_time(value)
        if moment is None:
            raise PydanticCustomError("invalid_date", INVALID_DATE)
        return moment

    return BeforeValidator(check)


def _uuid(value: str) -> str:
    try:
        uuid.UUID(value)
    except ValueError:
        raise PydanticCustomError("invalid_string", "Invalid uuid") from None
    return value


UuidStr = Annotated[str, AfterValidator(_uuid)]


def _status(value: Any) -> Any:
    """`CANCELED` (the reference enum's spelling) is an alias of `CANCELLED` (D-APT-13)."""
    return "CANCELLED" if value == "CANCELED" else value


# -- patient -----------------------------------------------------------------------------------


class BookBody(Schema):
    screening_type_id: Annotated[str, Field(min_length=1), Msg("Screening type is required.")]
    center_id: Annotated[str, Field(min_length=1), Msg("Center is required.")]
    appointment_date_time: Annotated[
        datetime, _required_date_time("Appointment date and time is required.")
    ]
    #: Required by the reference but ignored; optional here (§4.11).
    payment_reference: str | None = None


class SelectCenterBody(Schema):
    allocation_id: Annotated[str, Field(min_length=1), Msg("Allocation ID is required.")]
    center_id: Annotated[str, Field(min_length=1), Msg("Center ID is required.")]
    appointment_date_time: Annotated[
        datetime, _required_date_time("Appointment date and time is required.")
    ]


class PatientAppointmentsQuery(Schema):
    page: Page = 1
    size: PageSize = 20
    status: AppointmentStatus | None = None


class EligibleCentersQuery(Schema):
    page: Page = 1
    size: PageSize = 20
    state: str | None = None
    lga: str | None = None


class ReceiptsQuery(Schema):
    page: Page = 1
    size: PageSize = 20


class IdPath(Schema):
    id: UuidStr


# -- center ------------------------------------------------------------------------------------


class CenterAppointmentsQuery(Schema):
    page: Page = 1
    page_size: PageSize = 20
    screening_type: str | None = None
    status: Annotated[AppointmentStatus | None, BeforeValidator(_status)] = None


class CancelBody(Schema):
    reason: str | None = None


class RescheduleBody(Schema):
    new_date_time: Annotated[datetime, _required_date_time(INVALID_DATE)]
    reason: str | None = None


class VerifyBody(Schema):
    check_in_code: Annotated[str, Field(min_length=1), Msg("Check-in code is required")]


class CompleteBody(Schema):
    appointment_id: str
    completion_notes: str | None = None


class DeleteFileBody(Schema):
    file_id: UuidStr | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    notify_patient: StrictBool = True


class RestoreFileBody(Schema):
    file_id: UuidStr | None = None


# -- result upload, JSON mode (§4.7) ------------------------------------------------------------


def _result_url(value: str) -> str:
    """`http(s)` only, host allow-listed when `RESULT_FILE_URL_ALLOWED_HOSTS` is set (D-APT-17)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        raise PydanticCustomError("invalid_string", "Invalid url") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("invalid_string", "Invalid url")
    allowed = file_settings().allowed_url_hosts
    if allowed and parts.hostname.lower() not in allowed:
        raise PydanticCustomError("invalid_string", "URL host is not allowed")
    return value


class UploadedFile(Schema):
    file_name: str
    original_name: str
    file_path: str
    file_type: str
    file_size: Annotated[StrictInt, Field(ge=0, le=MAX_FILE_SIZE)]
    url: Annotated[str, AfterValidator(_result_url)]
    cloudinary_id: str


class UploadResultsBody(Schema):
    files: Annotated[list[UploadedFile], Field(max_length=MAX_JSON_FILES)]
    notes: Annotated[str, Field(max_length=MAX_NOTES)] | None = None
    folder_name: str | None = None
