"""Registration: patients, donors and centers (auth.md 4); each one database transaction.

A `User` holds at most one patient and one donor profile and one password. Registering the
other role for an existing e-mail requires that account's password (D-AUTH-7) and sends a
verification e-mail for the new profile; a wrong password answers the same 409 as an existing
profile, so the endpoint does not reveal which one it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from actors.contracts.outbox import Requester
from edge.auth.passwords import hash_password, verify_password
from edge.schemas.register import CenterRegistration, DonorRegistration, PatientRegistration
from edge.services import emails
from edge.services.accounts import (
    EMAIL_VERIFICATION_TTL,
    expires_in,
    find_by_email,
    normalise_email,
    one_time_token,
)
from edge.services.errors import AlreadyExistsError, InvalidInputError
from models.centers import ServiceCenter, ServiceCenterScreeningType
from models.enums import ProfileType, ServiceCenterStatus, StaffStatus
from models.screening_types import ScreeningType
from models.staff import CenterStaff
from models.tokens import EmailVerificationToken
from models.users import DonorProfile, PatientProfile, User


async def check_profiles(email: str) -> list[str]:
    """The profiles the account with this e-mail has: `DONOR` then `PATIENT`."""
    user = await find_by_email(User, email)
    if user is None:
        return []
    profiles = []
    if await DonorProfile.exists(user_id=user.id):
        profiles.append("DONOR")
    if await PatientProfile.exists(user_id=user.id):
        profiles.append("PATIENT")
    return profiles


#: Verification e-mail template of a new profile, by profile type (E-1, E-2).
VERIFICATION_TEMPLATES = {
    ProfileType.PATIENT: emails.PATIENT_VERIFICATION,
    ProfileType.DONOR: emails.DONOR_VERIFICATION,
}


async def send_verification(
    user: User,
    profile_type: ProfileType,
    *,
    using_db: BaseDBAsyncClient,
    template: str | None = None,
) -> EmailVerificationToken:
    """A new 24-hour verification token for one profile and its e-mail (same transaction);
    the template defaults to the new-profile one of that profile type."""
    token = await EmailVerificationToken.create(
        user_id=user.id,
        token=one_time_token(),
        profile_type=profile_type,
        expires_at=expires_in(EMAIL_VERIFICATION_TTL),
        using_db=using_db,
    )
    await emails.send_email(
        template or VERIFICATION_TEMPLATES[profile_type],
        user.email,
        {"token": token.token},
        using_db=using_db,
        requested_by=Requester(profile_type.value.lower(), user.id),
    )
    return token


async def _account_for_new_profile(
    email: str, password: str, profile_model: type[PatientProfile] | type[DonorProfile], code: str
) -> User | None:
    """The existing account to attach the new profile to (None: a new account is needed).

    Raises AlreadyExistsError when the account already has that profile or when the password
    does not match it: the same answer, so the route does not reveal which."""
    user = await find_by_email(User, email)
    if user is None:
        return None
    if await profile_model.exists(user_id=user.id):
        raise AlreadyExistsError("Email already registered", code=code)
    if not await verify_password(password, user.password_hash):
        raise AlreadyExistsError("Email already registered", code=code)
    return user


@dataclass(frozen=True, slots=True)
class RegisteredPatient:
    user: User
    profile: PatientProfile


async def register_patient(data: PatientRegistration) -> RegisteredPatient:
    """Raises AlreadyExistsError `center_already_registered` / `patient_already_registered`."""
    code = "patient_already_registered"
    if await find_by_email(ServiceCenter, data.email) is not None:
        raise AlreadyExistsError(
            "Email already registered to a center", code="center_already_registered"
        )
    user = await _account_for_new_profile(data.email, data.password, PatientProfile, code)
    password_hash = None if user is not None else await hash_password(data.password)
    try:
        async with in_transaction() as conn:
            if user is None:
                assert password_hash is not None
                user = await User.create(
                    full_name=data.full_name,
                    email=normalise_email(data.email),
                    phone=data.phone,
                    password_hash=password_hash,
                    using_db=conn,
                )
            profile = await PatientProfile.create(
                user_id=user.id,
                gender=data.gender,
                date_of_birth=data.birth_moment(),
                city=data.local_government,
                state=data.state,
                using_db=conn,
            )
            await send_verification(user, ProfileType.PATIENT, using_db=conn)
    except IntegrityError:
        # A concurrent registration of the same e-mail or profile won the race.
        raise AlreadyExistsError("Email already registered", code=code) from None
    return RegisteredPatient(user, profile)


@dataclass(frozen=True, slots=True)
class RegisteredDonor:
    user: User
    profile: DonorProfile


async def register_donor(data: DonorRegistration) -> RegisteredDonor:
    """Raises AlreadyExistsError `donor_already_registered` (center e-mails are not checked)."""
    code = "donor_already_registered"
    user = await _account_for_new_profile(data.email, data.password, DonorProfile, code)
    password_hash = None if user is not None else await hash_password(data.password)
    try:
        async with in_transaction() as conn:
            if user is None:
                assert password_hash is not None
                user = await User.create(
                    full_name=data.full_name,
                    email=normalise_email(data.email),
                    phone=data.phone,
                    password_hash=password_hash,
                    using_db=conn,
                )
            profile = await DonorProfile.create(
                user_id=user.id,
                organization_name=data.organization or "",
                country=data.country,
                using_db=conn,
            )
            await send_verification(user, ProfileType.DONOR, using_db=conn)
    except IntegrityError:
        raise AlreadyExistsError("Email already registered", code=code) from None
    return RegisteredDonor(user, profile)


@dataclass(frozen=True, slots=True)
class RegisteredCenter:
    center: ServiceCenter
    services: list[str]


async def register_center(data: CenterRegistration) -> RegisteredCenter:
    """The center (INACTIVE), its offers with prices (D-DM-7) and its owner staff row (role
    ADMIN, same e-mail and hash). Raises AlreadyExistsError `center_already_registered` or
    InvalidInputError `invalid_center_data` for unknown screening types."""
    code = "center_already_registered"
    if await find_by_email(ServiceCenter, data.email) is not None:
        raise AlreadyExistsError("Email already registered", code=code)
    service_ids = list(dict.fromkeys(data.services))
    types = await ScreeningType.filter(id__in=service_ids) if service_ids else []
    if len(types) != len(service_ids):
        raise InvalidInputError("Some screening types not found", code="invalid_center_data")
    password_hash = await hash_password(data.password)
    email = normalise_email(data.email)
    try:
        async with in_transaction() as conn:
            center = await ServiceCenter.create(
                center_name=data.center_name,
                email=email,
                password_hash=password_hash,
                phone=data.phone_number,
                address=data.address,
                state=data.state,
                lga=data.local_government,
                bank_account="",
                status=ServiceCenterStatus.INACTIVE,
                using_db=conn,
            )
            if types:
                await center.services.add(*types, using_db=conn)
            for screening_type in types:
                await ServiceCenterScreeningType.create(
                    center_id=center.id,
                    screening_type_id=screening_type.id,
                    amount=screening_type.agreed_price,
                    using_db=conn,
                )
            await CenterStaff.create(
                center_id=center.id,
                email=email,
                password_hash=password_hash,
                role="ADMIN",
                status=StaffStatus.ACTIVE,
                using_db=conn,
            )
    except IntegrityError:
        raise AlreadyExistsError("Email already registered", code=code) from None
    return RegisteredCenter(center, service_ids)
