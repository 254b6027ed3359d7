"""Rows for tests, made through the models (the `orm` fixture must be active: use `db`).

    patient = await make_patient()                      # verified, password PASSWORD
    center = await make_center(services=[screening])    # ACTIVE, with its owner staff row
    response = await client.get("/api/v1/auth/me", headers=bearer(patient))

Every factory takes keyword overrides and gives unique e-mails by default. Passwords are hashed
with a low bcrypt cost to keep tests fast; bcrypt reads the cost from the hash, so the edge
verifies them like any other.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Iterable
from typing import Any

from edge.auth.guards import Principal
from edge.auth.passwords import hash_password_sync
from edge.auth.tokens import Claims, encode, new_jti
from edge.settings import EdgeSettings
from models.base import utc_now
from models.centers import ServiceCenter, ServiceCenterScreeningType
from models.enums import Gender, ServiceCenterStatus, StaffStatus
from models.screening_types import ScreeningType
from models.staff import CenterStaff
from models.users import Admins, DonorProfile, PatientProfile, User

#: The password every factory account has unless told otherwise.
PASSWORD = "correct-horse-1"
#: bcrypt cost of factory hashes (the edge's own hashes use 10).
TEST_BCRYPT_COST = 4

#: Profile of each factory-made user, so `bearer(user)` knows patient from donor.
_USER_PROFILES: dict[str, str] = {}


def unique_email(kind: str = "user") -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}@example.com"


def password_hash(password: str = PASSWORD) -> str:
    return hash_password_sync(password, rounds=TEST_BCRYPT_COST)


def settings() -> EdgeSettings:
    """The settings the edge under test reads (conftest sets the environment at import)."""
    return EdgeSettings.from_env(os.environ)


# -- accounts --------------------------------------------------------------------------------


async def make_user(
    *,
    email: str | None = None,
    password: str = PASSWORD,
    full_name: str = "Ada Obi",
    phone: str | None = "08030000000",
    **fields: Any,
) -> User:
    return await User.create(
        email=email or unique_email(),
        full_name=full_name,
        phone=phone,
        password_hash=password_hash(password),
        **fields,
    )


async def add_patient_profile(
    user: User,
    *,
    verified: bool = True,
    gender: Gender = Gender.FEMALE,
    date_of_birth: dt.datetime = dt.datetime(1990, 5, 17),
    state: str = "Lagos",
    lga: str = "Ikeja",
    **fields: Any,
) -> PatientProfile:
    _USER_PROFILES.setdefault(user.id, "PATIENT")
    return await PatientProfile.create(
        user_id=user.id,
        gender=gender,
        date_of_birth=date_of_birth,
        city=lga,
        state=state,
        email_verified=utc_now() if verified else None,
        **fields,
    )


async def add_donor_profile(
    user: User,
    *,
    verified: bool = True,
    organization: str = "",
    country: str | None = "Nigeria",
    **fields: Any,
) -> DonorProfile:
    _USER_PROFILES.setdefault(user.id, "DONOR")
    return await DonorProfile.create(
        user_id=user.id,
        organization_name=organization,
        country=country,
        email_verified=utc_now() if verified else None,
        **fields,
    )


async def make_patient(
    *,
    email: str | None = None,
    password: str = PASSWORD,
    verified: bool = True,
    full_name: str = "Ada Obi",
    **profile: Any,
) -> User:
    """A `User` with a patient profile (verified unless `verified=False`)."""
    user = await make_user(
        email=email or unique_email("patient"), password=password, full_name=full_name
    )
    await add_patient_profile(user, verified=verified, **profile)
    return user


async def make_donor(
    *,
    email: str | None = None,
    password: str = PASSWORD,
    verified: bool = True,
    full_name: str = "Chidi Okafor",
    **profile: Any,
) -> User:
    """A `User` with a donor profile (verified unless `verified=False`)."""
    user = await make_user(
        email=email or unique_email("donor"), password=password, full_name=full_name
    )
    await add_donor_profile(user, verified=verified, **profile)
    return user


async def make_screening_type(
    *,
    name: str | None = None,
    category_id: str = "cancer",
    agreed_price: float = 10000.0,
    active: bool = True,
) -> ScreeningType:
    return await ScreeningType.create(
        name=name or f"Screening {uuid.uuid4().hex[:8]}",
        screening_type_category_id=category_id,
        agreed_price=agreed_price,
        active=active,
    )


async def make_center(
    *,
    email: str | None = None,
    password: str = PASSWORD,
    center_name: str = "Lifeline Diagnostics",
    status: ServiceCenterStatus = ServiceCenterStatus.ACTIVE,
    services: Iterable[ScreeningType] = (),
    with_owner: bool = True,
    **fields: Any,
) -> ServiceCenter:
    """A center (ACTIVE by default) offering `services` at their agreed price, with its owner
    staff row (same e-mail and password, role ADMIN) unless `with_owner=False`."""
    center = await ServiceCenter.create(
        email=email or unique_email("center"),
        password_hash=password_hash(password),
        center_name=center_name,
        phone=fields.pop("phone", "08031111111"),
        address=fields.pop("address", "12 Marina Road"),
        state=fields.pop("state", "Lagos"),
        lga=fields.pop("lga", "Ikeja"),
        bank_account=fields.pop("bank_account", ""),
        status=status,
        **fields,
    )
    offered = list(services)
    if offered:
        await center.services.add(*offered)
    for screening_type in offered:
        await ServiceCenterScreeningType.create(
            center_id=center.id,
            screening_type_id=screening_type.id,
            amount=screening_type.agreed_price,
        )
    if with_owner:
        await CenterStaff.create(
            center_id=center.id,
            email=center.email,
            password_hash=center.password_hash,
            role="ADMIN",
            status=StaffStatus.ACTIVE,
        )
    return center


async def make_staff(
    center: ServiceCenter | None = None,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    role: str | None = None,
    status: StaffStatus = StaffStatus.ACTIVE,
) -> CenterStaff:
    """A staff member (role NULL: profile CENTER_STAFF; role "admin": CENTER)."""
    center = center or await make_center()
    return await CenterStaff.create(
        center_id=center.id,
        email=email or unique_email("staff"),
        password_hash=password_hash(password),
        role=role,
        status=status,
    )


async def owner_staff(center: ServiceCenter) -> CenterStaff:
    """The center's owner staff row (e-mail equal to the center's)."""
    return await CenterStaff.get(center_id=center.id, email=center.email)


async def make_admin(
    *, email: str | None = None, password: str = PASSWORD, full_name: str = "Ngozi Admin"
) -> Admins:
    return await Admins.create(
        email=email or unique_email("admin"),
        full_name=full_name,
        password_hash=password_hash(password),
    )


# -- tokens ----------------------------------------------------------------------------------

Account = User | ServiceCenter | CenterStaff | Admins | Principal


def claims_for(
    account: Account,
    *,
    profile: str | None = None,
    typ: str | None = "access",
    ttl: int = 300,
    iat: int | None = None,
) -> Claims:
    """Token claims as the edge issues them for this account."""
    staff_id: str | None = None
    if isinstance(account, Principal):
        subject, email = account.id, account.email
        staff_id, profile = account.staff_id, profile or account.profile
    elif isinstance(account, Admins):
        subject, email, profile = account.id, account.email, profile or "ADMIN"
    elif isinstance(account, ServiceCenter):
        subject, email, profile = account.id, account.email, profile or "CENTER"
    elif isinstance(account, CenterStaff):
        subject, email, staff_id = account.center_id, account.email, account.id
        is_admin = (account.role or "").lower() == "admin"
        profile = profile or ("CENTER" if is_admin else "CENTER_STAFF")
    else:
        subject, email = account.id, account.email
        profile = profile or _USER_PROFILES.get(account.id, "PATIENT")
    issued = int(time.time()) if iat is None else iat
    return Claims(
        id=subject,
        email=email,
        profile=profile,
        staff_id=staff_id,
        typ=typ,
        iat=issued,
        exp=issued + ttl,
        jti=new_jti() if typ == "refresh" else None,
    )


def token_for(account: Account, **options: Any) -> str:
    """A signed JWT for the account (see `claims_for` for the options)."""
    return encode(settings(), claims_for(account, **options))


def bearer(account: Account, **options: Any) -> dict[str, str]:
    """`Authorization: Bearer <access token>` headers for the account."""
    return {"Authorization": f"Bearer {token_for(account, **options)}"}
