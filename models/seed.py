"""``zerocancer seed``: idempotent demo data for development (never for production).

Run after ``zerocancer migrate``. Every row is found by a natural key (e-mail, name, payment
reference...) and created only when missing, so running it again changes nothing. It refuses
to run when ``ENV_MODE`` (or ``ZEROCANCER_ENV``) is ``production``, and creates no admin
(the first admin comes from ``zerocancer admin create``).

Demo accounts (published passwords, development only):

========================================  ===============  ===================================
login                                     password         notes
========================================  ===============  ===================================
``center1@zerocancer.org`` … ``center8``  ``centerpass``   center owner login; also the owner
                                                           staff row (role ``admin``, id = the
                                                           center's id, spec §6.3); center 8 is
                                                           ``INACTIVE``
``staff<n>a@zerocancer.africa``           ``staffpass``    staff of center n, role ``admin``
``staff<n>b@zerocancer.africa``           ``staffpass``    staff of center n, role ``nurse``
``testpatient1@example.com``              ``password123``  patient (Lagos, Ikeja)
``testpatient2@example.com``              ``testpass456``  patient (Kano, Nasarawa)
``testpatient3@example.com``              ``demo789``      patient (Enugu, Nsukka)
``testdonor1@example.com``                ``password123``  donor, campaign 1
``testdonor2@example.com``                ``testpass456``  donor, campaign 2
``testdonor3@example.com``                ``demo789``      donor, campaign 3
========================================  ===============  ===================================

The system user ``general-public`` cannot log in. Passwords are hashed with bcrypt, cost 10
(spec/api/auth.md §2.5).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import bcrypt
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import demo_data as demo
from models.base import utc_now
from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.centers import ServiceCenter, ServiceCenterScreeningType
from models.db import isolated
from models.enums import AllocationStatus, CampaignStatus, TransactionStatus, TransactionType
from models.fingerprint import SchemaMismatchError, check_schema
from models.migrate import MIGRATIONS_DIR
from models.screening_types import ScreeningType
from models.staff import CenterStaff
from models.transactions import Transaction
from models.users import DonorProfile, PatientProfile, User
from models.waitlists import Waitlist

#: bcrypt cost of the reference (bcryptjs ``hash(password, 10)``).
BCRYPT_COST = 10

#: Advisory lock key serialising concurrent seeds ("zcseed" in ASCII).
LOCK_KEY = 0x7A6373656564

#: Tables whose row counts ``seed`` reports.
COUNTED_TABLES = (
    "ScreeningTypeCategory",
    "ScreeningType",
    "ServiceCenter",
    "CenterStaff",
    "ServiceCenterScreeningType",
    "_ScreeningTypeToServiceCenter",
    "User",
    "PatientProfile",
    "DonorProfile",
    "DonationCampaign",
    "_DonationCampaignScreeningTypes",
    "Transaction",
    "Waitlist",
)


class SeedRefusedError(RuntimeError):
    """Demo data must never reach a production database."""


def hash_password(password: str) -> str:
    """bcrypt ``$2b$`` hash, cost 10, of the first 72 UTF-8 bytes (as bcryptjs does)."""
    return bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(BCRYPT_COST)).decode()


class _Hashes:
    """One hash per distinct demo password per run (bcrypt is slow; these are demo accounts)."""

    def __init__(self) -> None:
        self._done: dict[str, str] = {}

    async def __call__(self, password: str) -> str:
        if password not in self._done:
            self._done[password] = await asyncio.to_thread(hash_password, password)
        return self._done[password]


async def _screening_types(connection: BaseDBAsyncClient) -> dict[str, ScreeningType]:
    # The fixed rows (categories, system user, general pool) come from migration 0003; running
    # it again restores any that were deleted and changes nothing otherwise.
    fixed_rows = (MIGRATIONS_DIR / "0003_fixed_rows.sql").read_text(encoding="utf-8")
    await connection.execute_script(fixed_rows)
    types: dict[str, ScreeningType] = {}
    for name, description, category, price in demo.SCREENING_TYPES:
        types[name], _ = await ScreeningType.get_or_create(
            name=name,
            defaults={
                "description": description,
                "screening_type_category_id": category,
                "agreed_price": price,
            },
        )
    return types


async def _centers(types: dict[str, ScreeningType], hashes: _Hashes) -> None:
    for number, spec in enumerate(demo.CENTERS, start=1):
        email = f"center{number}@zerocancer.org"
        center_hash = await hashes(demo.CENTER_PASSWORD)
        center, created = await ServiceCenter.get_or_create(
            email=email,
            defaults={
                "password_hash": center_hash,
                "center_name": spec.name,
                "address": spec.address,
                "state": spec.state,
                "lga": spec.lga,
                "phone": spec.phone,
                "bank_name": spec.bank_name,
                "bank_code": spec.bank_code,
                "bank_account": f"01{number:08d}",
                "account_name": spec.name,
                "status": spec.status,
            },
        )
        if created:
            # The owner staff row: same e-mail and hash, the center's own id (spec §6.3).
            await CenterStaff.create(
                id=center.id, center=center, email=email, password_hash=center_hash, role="admin"
            )
        for suffix, role in (("a", "admin"), ("b", "nurse")):
            await CenterStaff.get_or_create(
                center=center,
                email=f"staff{number}{suffix}@zerocancer.africa",
                defaults={"password_hash": await hashes(demo.STAFF_PASSWORD), "role": role},
            )
        offered = [types[name] for name in spec.services]
        await center.services.add(*offered)
        for screening_type in offered:
            price = round(screening_type.agreed_price * spec.price_factor / 500) * 500
            await ServiceCenterScreeningType.get_or_create(
                center=center, screening_type=screening_type, defaults={"amount": float(price)}
            )


async def _person(email: str, person: demo.DemoPerson, hashes: _Hashes) -> User:
    user, _ = await User.get_or_create(
        email=email,
        defaults={
            "full_name": person.full_name,
            "phone": person.phone,
            "password_hash": await hashes(person.password),
        },
    )
    return user


async def _people(hashes: _Hashes) -> tuple[list[User], list[User]]:
    patients = []
    for number, person in enumerate(demo.PATIENTS, start=1):
        user = await _person(f"testpatient{number}@example.com", person, hashes)
        await PatientProfile.get_or_create(
            user=user,
            defaults={
                "gender": person.gender,
                "date_of_birth": person.date_of_birth,
                "state": person.state,
                "city": person.lga,  # the column holds the LGA (spec §3.2)
                "email_verified": utc_now(),
            },
        )
        patients.append(user)
    donors = []
    for number, person in enumerate(demo.DONORS, start=1):
        user = await _person(f"testdonor{number}@example.com", person, hashes)
        await DonorProfile.get_or_create(
            user=user,
            defaults={
                "organization_name": person.organization,
                "country": "Nigeria",
                "email_verified": utc_now(),
            },
        )
        donors.append(user)
    return patients, donors


async def _completed_donation(reference: str, amount: float, campaign: DonationCampaign) -> None:
    """A completed donation credited to ``campaign``, once (keyed on the payment reference)."""
    if await Transaction.exists(payment_reference=reference):
        return
    await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.COMPLETED,
        amount=amount,
        related_donation=campaign,
        payment_reference=reference,
        payment_channel="PAYSTACK",
    )
    campaign.total_amount += amount
    campaign.available_amount += amount
    await campaign.save(update_fields=["total_amount", "available_amount", "updated_at"])


async def _campaigns(donors: list[User], types: dict[str, ScreeningType]) -> None:
    for number, (donor, spec) in enumerate(zip(donors, demo.CAMPAIGNS, strict=True), start=1):
        campaign, created = await DonationCampaign.get_or_create(
            donor=donor,
            title=spec.title,
            defaults={
                "purpose": spec.purpose,
                "total_amount": 0.0,
                "available_amount": 0.0,
                "target_gender": spec.target_gender,
                "target_age_range": spec.target_age_range,
                "target_states": list(spec.target_states),
                "target_lgas": [],
                "status": CampaignStatus.ACTIVE,
            },
        )
        if created:
            await campaign.screening_types.add(*(types[name] for name in spec.screening_types))
        await _completed_donation(f"seed-campaign-{number}", spec.amount, campaign)
    pool = await DonationCampaign.get(id=GENERAL_DONOR_POOL_ID)
    for reference, amount in demo.ANONYMOUS_DONATIONS:
        await _completed_donation(reference, amount, pool)


async def _waitlist(patients: list[User], types: dict[str, ScreeningType]) -> None:
    for number, type_name in demo.WAITLIST:
        patient, screening_type = patients[number - 1], types[type_name]
        entries = Waitlist.filter(patient=patient, screening_type=screening_type)
        if not await entries.exists():
            await Waitlist.create(
                patient=patient, screening_type=screening_type, status=AllocationStatus.PENDING
            )


async def _counts(connection: BaseDBAsyncClient) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in COUNTED_TABLES:
        rows = await connection.execute_query_dict(f'SELECT count(*) AS n FROM "{table}"')
        counts[table] = int(rows[0]["n"])
    return counts


async def seed(url: str) -> dict[str, int]:
    """Write the demo data into the migrated database at ``url``; return row counts per table.

    Raises ``SeedRefusedError`` in production and ``SchemaMismatchError`` when the database is
    not migrated to these models.
    """
    for variable in ("ENV_MODE", "ZEROCANCER_ENV"):
        if os.environ.get(variable, "").lower() == "production":
            raise SeedRefusedError(f"{variable}=production: demo data is for development only")
    await check_schema(url)  # a clear error when the database is not migrated (or outdated)
    hashes = _Hashes()
    async with isolated(url), in_transaction() as connection:
        await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY])
        types = await _screening_types(connection)
        await _centers(types, hashes)
        patients, donors = await _people(hashes)
        await _campaigns(donors, types)
        await _waitlist(patients, types)
        return await _counts(connection)


def main(argv: Sequence[str] | None = None) -> int:
    """``zerocancer seed [--database-url URL]`` (default: ``$DATABASE_URL``)."""
    parser = argparse.ArgumentParser(prog="zerocancer seed", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("no database: set DATABASE_URL or pass --database-url")
    try:
        counts = asyncio.run(seed(args.database_url))
    except (SeedRefusedError, SchemaMismatchError) as exc:
        print(f"seed: error: {exc}", file=sys.stderr)
        return 1
    for table, count in counts.items():
        print(f"{table:32} {count:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
