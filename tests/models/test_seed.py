"""models.seed: idempotent, realistic demo data with working bcrypt passwords."""

from __future__ import annotations

import asyncpg
import bcrypt
import pytest

from models import demo_data as demo
from models.fingerprint import SchemaMismatchError
from models.seed import SeedRefusedError, hash_password, seed
from tests.models.conftest import scratch_database


@pytest.fixture(scope="module")
async def seeded_url(migrated_url: str) -> tuple[str, dict[str, int], dict[str, int]]:
    first = await seed(migrated_url)
    second = await seed(migrated_url)
    return migrated_url, first, second


def checks(password: str, hashed: str) -> bool:
    return bcrypt.checkpw(password.encode(), hashed.encode())


async def test_seeding_twice_gives_the_same_counts(
    seeded_url: tuple[str, dict[str, int], dict[str, int]],
) -> None:
    _, first, second = seeded_url

    assert first == second
    assert first["ScreeningType"] == 25
    assert first["ScreeningTypeCategory"] == 5
    assert first["ServiceCenter"] == len(demo.CENTERS)
    assert first["CenterStaff"] == 3 * len(demo.CENTERS)
    assert first["User"] == 1 + len(demo.PATIENTS) + len(demo.DONORS)
    assert first["DonationCampaign"] == 1 + len(demo.CAMPAIGNS)
    assert first["Waitlist"] == len(demo.WAITLIST)


async def test_demo_passwords_verify_against_the_stored_bcrypt_hashes(
    seeded_url: tuple[str, dict[str, int], dict[str, int]], conn: asyncpg.Connection
) -> None:
    users = {
        row["email"]: row["passwordHash"]
        for row in await conn.fetch('SELECT email, "passwordHash" FROM "User"')
    }
    staff = await conn.fetch('SELECT email, "passwordHash" FROM "CenterStaff"')
    # (password, hash) pairs every demo login relies on; bcrypt is slow, so each pair once.
    pairs = {
        *(
            (p.password, users[f"testpatient{n}@example.com"])
            for n, p in enumerate(demo.PATIENTS, start=1)
        ),
        *(
            (p.password, users[f"testdonor{n}@example.com"])
            for n, p in enumerate(demo.DONORS, start=1)
        ),
        *(
            (
                demo.CENTER_PASSWORD if r["email"].startswith("center") else demo.STAFF_PASSWORD,
                r["passwordHash"],
            )
            for r in staff
        ),
    }

    assert all(checks(password, hashed) for password, hashed in pairs)
    assert not checks("wrong-password", users["testdonor1@example.com"])
    assert not checks("password", users["donorpool@zerocancer.org"])
    assert all(h.startswith("$2b$10$") and len(h) == 60 for h in users.values())


async def test_each_center_has_an_owner_staff_row_sharing_its_id_and_hash(
    seeded_url: tuple[str, dict[str, int], dict[str, int]], conn: asyncpg.Connection
) -> None:
    rows = await conn.fetch(
        """
        SELECT c.id AS center_id, s.id AS staff_id, s.role,
               c."passwordHash" = s."passwordHash" AS same_hash
        FROM "ServiceCenter" c JOIN "CenterStaff" s ON s."centerId" = c.id AND s.email = c.email
        """
    )

    assert len(rows) == len(demo.CENTERS)
    assert all(r["center_id"] == r["staff_id"] and r["same_hash"] for r in rows)
    assert {r["role"] for r in rows} == {"admin"}


async def test_every_offer_has_a_price_and_every_price_an_offer(
    seeded_url: tuple[str, dict[str, int], dict[str, int]], conn: asyncpg.Connection
) -> None:
    offers = {
        (r["B"], r["A"]) for r in await conn.fetch('SELECT * FROM "_ScreeningTypeToServiceCenter"')
    }
    prices = {
        (r["centerId"], r["screeningTypeId"])
        for r in await conn.fetch('SELECT * FROM "ServiceCenterScreeningType"')
    }

    assert offers == prices
    assert len(offers) == sum(len(c.services) for c in demo.CENTERS)


async def test_campaign_money_adds_up(
    seeded_url: tuple[str, dict[str, int], dict[str, int]], conn: asyncpg.Connection
) -> None:
    rows = await conn.fetch(
        """
        SELECT c.id, c."totalAmount", c."availableAmount",
               (SELECT coalesce(sum(t.amount), 0) FROM "Transaction" t
                WHERE t."relatedDonationId" = c.id AND t.status = 'COMPLETED') AS credited
        FROM "DonationCampaign" c
        """
    )

    for row in rows:
        assert row["availableAmount"] == row["totalAmount"] == row["credited"], row["id"]
    pool = next(r for r in rows if r["id"] == "general-donor-pool")
    assert pool["totalAmount"] == sum(amount for _, amount in demo.ANONYMOUS_DONATIONS)


async def test_seed_refuses_a_production_environment(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENV_MODE", "production")

    with pytest.raises(SeedRefusedError, match="ENV_MODE=production"):
        await seed(migrated_url)


async def test_seed_refuses_a_database_that_was_not_migrated() -> None:
    async with scratch_database("unmigrated") as url:
        with pytest.raises(SchemaMismatchError, match="records no schema fingerprint"):
            await seed(url)


def test_passwords_are_truncated_to_72_bytes_like_bcryptjs() -> None:
    hashed = hash_password("é" * 40)  # 80 UTF-8 bytes

    assert hashed.startswith("$2b$10$")
    assert bcrypt.checkpw(("é" * 36).encode(), hashed.encode())
