"""Request models of /api/v1/register (auth.md 4), with the shared zod schemas' messages."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from edge.validation import EmailStr, Msg, Schema
from models.enums import Gender

EMAIL_MESSAGE = "Please enter a valid email address."
MIN6_PASSWORD_TEXT = "Password must be at least 6 characters."  # noqa: S105 - a message
FULL_NAME_MESSAGE = "Full name must be at least 2 characters."
PHONE_MESSAGE = "Please enter a valid phone number."
STATE_MESSAGE = "Please select a state."
LGA_MESSAGE = "Please select a local government."

Email = Annotated[EmailStr, Msg(EMAIL_MESSAGE)]
Password6 = Annotated[str, Field(min_length=6), Msg(MIN6_PASSWORD_TEXT)]
FullName = Annotated[str, Field(min_length=2), Msg(FULL_NAME_MESSAGE)]
Phone = Annotated[str, Field(min_length=7), Msg(PHONE_MESSAGE)]
State = Annotated[str, Field(min_length=1), Msg(STATE_MESSAGE)]
LocalGovernment = Annotated[str, Field(min_length=1), Msg(LGA_MESSAGE)]


def _past_date(value: str) -> dt.datetime:
    """An ISO-8601 date or date-time in the past, as naive UTC (New in auth.md 4.2)."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise PydanticCustomError("invalid_date", "Please enter a valid date of birth.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    if moment >= dt.datetime.now(dt.UTC).replace(tzinfo=None):
        raise PydanticCustomError("invalid_date", "Please enter a valid date of birth.")
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _check_birth_date(value: str) -> str:
    _past_date(value)
    return value


class CheckProfilesBody(Schema):
    email: Email


class PatientRegistration(Schema):
    email: Email
    password: Password6
    full_name: FullName
    phone: Phone
    date_of_birth: Annotated[
        str,
        AfterValidator(_check_birth_date),
        Msg("Date of birth is required.", on_missing=True, on_type=True, on_invalid=False),
    ]
    gender: Annotated[Gender, Msg("Please select a gender.", on_missing=True, on_type=True)]
    state: State
    local_government: LocalGovernment

    def birth_moment(self) -> dt.datetime:
        return _past_date(self.date_of_birth)


class DonorRegistration(Schema):
    email: Email
    password: Password6
    full_name: FullName
    phone: Phone
    organization: str | None = None
    country: str | None = None


class CenterRegistration(Schema):
    center_name: Annotated[
        str, Field(min_length=2), Msg("Center name must be at least 2 characters.")
    ]
    email: Email
    password: Password6
    phone_number: Phone
    address: Annotated[str, Field(min_length=5), Msg("Please enter a valid address.")]
    state: State
    local_government: LocalGovernment
    services: Annotated[list[str], Msg("Please select at least one service.", on_missing=True)]
