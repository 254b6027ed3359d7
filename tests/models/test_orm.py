"""Reading and writing through the models: custom column types, join tables, system tables."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from tortoise.context import TortoiseContext

from models.base import new_id, utc_now
from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.centers import ServiceCenter
from models.db import isolated, tortoise_config
from models.enums import CampaignStatus, Gender, ServiceCenterStatus, StaffStatus
from models.jobs import Job, JobStatus
from models.outbox import OutboxMessage
from models.screening_types import ScreeningType
from models.staff import CenterStaff
from models.users import PatientProfile, User

LAGOS = dt.timezone(dt.timedelta(hours=1))


@pytest.fixture
async def orm(migrated_url: str) -> AsyncIterator[TortoiseContext]:
    async with isolated(migrated_url) as context:
        yield context


async def make_user(email: str) -> User:
    return await User.create(full_name="Amaka Obi", email=email, password_hash="x")


def test_ids_and_clocks_look_like_prisma_ones() -> None:
    now = utc_now()
    row_id = new_id()

    assert row_id == str(uuid.UUID(row_id)) == row_id.lower()
    assert uuid.UUID(row_id).version == 4
    assert len(row_id) == 36
    assert now.tzinfo is None
    assert now.microsecond % 1000 == 0


def test_the_config_accepts_both_url_schemes() -> None:
    for url in ("postgresql://u:p@db:5433/zc?sslmode=require", "postgres://u:p@db:5433/zc"):
        credentials = tortoise_config(url, max_size=7)["connections"]["default"]["credentials"]
        assert (credentials["host"], credentials["port"], credentials["database"]) == (
            "db",
            5433,
            "zc",
        )
        assert (credentials["user"], credentials["password"], credentials["maxsize"]) == (
            "u",
            "p",
            7,
        )
    assert (
        "sslmode"
        not in tortoise_config("postgresql://db/zc?sslmode=require")["connections"]["default"][
            "credentials"
        ]
    )


async def test_enums_and_timestamps_round_trip_as_naive_utc_milliseconds(
    orm: TortoiseContext, conn: asyncpg.Connection
) -> None:
    user = await make_user("amaka@example.com")
    born = dt.datetime(1990, 5, 17, 9, 30, 15, 123456, tzinfo=LAGOS)
    profile = await PatientProfile.create(
        user=user, gender="FEMALE", date_of_birth=born, city="Ikeja", state="Lagos"
    )

    stored = await PatientProfile.get(id=profile.id)
    raw = await conn.fetchrow('SELECT * FROM "PatientProfile" WHERE id = $1', profile.id)

    assert stored.gender is Gender.FEMALE
    assert stored.date_of_birth == dt.datetime(1990, 5, 17, 8, 30, 15, 123000)
    assert raw["dateOfBirth"] == stored.date_of_birth
    assert raw["gender"] == "FEMALE"
    assert stored.user_id == user.id
    assert user.created_at.tzinfo is None


async def test_arrays_read_null_as_empty_and_updated_at_follows_saves(
    orm: TortoiseContext, conn: asyncpg.Connection
) -> None:
    donor = await make_user("donor@example.com")
    campaign = await DonationCampaign.create(
        donor=donor,
        total_amount=0.0,
        available_amount=0.0,
        title="Lagos screenings",
        status=CampaignStatus.PENDING,
        target_states=["Lagos", "Ogun"],
    )
    await conn.execute(
        'UPDATE "DonationCampaign" SET "targetLgas" = NULL, "updatedAt" = $2 WHERE id = $1',
        campaign.id,
        dt.datetime(2020, 1, 1),
    )

    stored = await DonationCampaign.get(id=campaign.id)
    assert (stored.target_states, stored.target_lgas) == (["Lagos", "Ogun"], [])
    stored.status = CampaignStatus.ACTIVE
    await stored.save()

    raw = await conn.fetchrow('SELECT * FROM "DonationCampaign" WHERE id = $1', campaign.id)
    assert raw["status"] == "ACTIVE"
    assert raw["updatedAt"] > dt.datetime(2020, 1, 1)
    assert raw["targetLgas"] == []


async def test_join_tables_use_prisma_a_and_b_columns(
    orm: TortoiseContext, conn: asyncpg.Connection
) -> None:
    screening = await ScreeningType.create(
        name="Join Test Screening", screening_type_category_id="cancer"
    )
    center = await ServiceCenter.create(
        email="join@example.com",
        password_hash="x",
        center_name="Join Clinic",
        address="1 Road",
        state="Lagos",
        lga="Ikeja",
    )
    campaign = await DonationCampaign.get(id=GENERAL_DONOR_POOL_ID)

    await center.services.add(screening)
    await campaign.screening_types.add(screening)

    offer = await conn.fetchrow(
        'SELECT * FROM "_ScreeningTypeToServiceCenter" WHERE "B" = $1', center.id
    )
    funded = await conn.fetchrow(
        'SELECT * FROM "_DonationCampaignScreeningTypes" WHERE "A" = $1', campaign.id
    )
    assert offer["A"] == screening.id  # A = ScreeningType (sorts before ServiceCenter)
    assert funded["B"] == screening.id  # A = DonationCampaign (sorts before ScreeningType)
    assert [c.id for c in await screening.centers.all()] == [center.id]
    assert [c.id for c in await screening.campaigns.all()] == [GENERAL_DONOR_POOL_ID]
    assert center.status is ServiceCenterStatus.INACTIVE
    await campaign.screening_types.clear()


async def test_nullable_enum_defaults_and_reads_null(
    orm: TortoiseContext, conn: asyncpg.Connection
) -> None:
    center = await ServiceCenter.create(
        email="staff-clinic@example.com",
        password_hash="x",
        center_name="Staff Clinic",
        address="2 Road",
        state="Kano",
        lga="Nasarawa",
    )
    staff = await CenterStaff.create(center=center, email="nurse@example.com", password_hash="x")
    await conn.execute('UPDATE "CenterStaff" SET status = NULL WHERE id = $1', staff.id)

    assert staff.status is StaffStatus.ACTIVE
    assert (await CenterStaff.get(id=staff.id)).status is None


async def test_jobs_and_outbox_rows_use_aware_timestamps(orm: TortoiseContext) -> None:
    job = await Job.create(actor_name="send_email", queue_name="email", args={"to": "a@b.c"})
    message = await OutboxMessage.create(job=job, queue_name="email", message={"actor": "x"})

    stored = await Job.get(id=job.id)
    assert stored.status is JobStatus.QUEUED
    assert stored.args == {"to": "a@b.c"}
    assert stored.created_at.tzinfo is not None
    assert isinstance(message.id, int)
    assert (await OutboxMessage.get(id=message.id)).job_id == job.id
