"""Every analytics metric (spec/analytics.md §2-§6) on a small hand-built dataset, exact numbers.

The dataset is described next to `seed()`; the expected values below are worked out by hand
from it, so each assertion names the rows that make it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from tortoise import connections

from actors.analytics import queries, snapshots, windows
from actors.analytics.queries import Window

NOW = datetime(2025, 6, 15, 12, 0, 0)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def seed(db: asyncpg.Connection) -> None:
    """Three centres, four users (+ the system donor), three campaigns (+ the pool), eleven
    transactions, six appointments, five waitlist entries, three allocations, three payouts."""
    old = at("2024-01-01T00:00:00")
    await db.execute('UPDATE "User" SET "createdAt" = $1 WHERE id = $2', old, "general-public")
    await db.execute(
        'UPDATE "DonationCampaign" SET "createdAt" = $1 WHERE id = $2', old, "general-donor-pool"
    )
    await db.execute(
        """INSERT INTO "ScreeningType" (id, name, "screeningTypeCategoryId", "agreedPrice")
           VALUES ('st1', 'Cervical', 'cancer', 10000)"""
    )
    await db.executemany(
        """INSERT INTO "ServiceCenter" (id, email, "passwordHash", "centerName", address, state,
                                        lga, status)
           VALUES ($1, $1 || '@c.test', 'x', $2, 'addr', $3, 'lga', $4)""",
        [
            ("c1", "Alpha Clinic", "Lagos", "ACTIVE"),
            ("c2", "Beta Labs", "Kano", "ACTIVE"),
            ("c3", "Gamma Care", "Lagos", "INACTIVE"),
        ],
    )
    await db.executemany(
        """INSERT INTO "User" (id, "fullName", email, "passwordHash", "createdAt")
           VALUES ($1, $1, $1 || '@u.test', 'x', $2)""",
        [
            ("p1", at("2025-06-02T08:00:00")),
            ("p2", at("2025-05-20T08:00:00")),
            ("p3", at("2025-01-10T08:00:00")),
            ("d1", at("2025-06-10T08:00:00")),
        ],
    )
    await db.executemany(
        """INSERT INTO "PatientProfile" (id, "userId", "dateOfBirth", state)
           VALUES ('pp-' || $1, $1, '1990-01-01', $2)""",
        [("p1", "Lagos"), ("p2", "Kano"), ("p3", "")],
    )
    await db.execute("""INSERT INTO "DonorProfile" (id, "userId") VALUES ('dp-d1', 'd1')""")
    await db.executemany(
        """INSERT INTO "DonationCampaign" (id, "donorId", "totalAmount", "availableAmount",
                                           title, status, "createdAt", "updatedAt")
           VALUES ($1, 'd1', $2, $3, $4, $5, $6, $6)""",
        [
            ("k1", 50000.0, 30000.0, "School Drive", "ACTIVE", at("2025-06-05T00:00:00")),
            ("k2", 20000.0, 20000.0, "", "COMPLETED", at("2025-03-01T00:00:00")),
        ],
    )
    await db.executemany(
        """INSERT INTO "Transaction" (id, "type", status, amount, "relatedDonationId",
                                      "paymentChannel", "createdAt")
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        [
            ("t1", "DONATION", "COMPLETED", 30000.0, "k1", "PAYSTACK", at("2025-06-05T10:00:00")),
            ("t2", "DONATION", "COMPLETED", 20000.0, "k1", "PAYSTACK", at("2025-05-10T10:00:00")),
            ("t3", "DONATION", "PENDING", 5000.0, "k1", "PAYSTACK", at("2025-06-06T10:00:00")),
            ("t4", "DONATION", "COMPLETED", 20000.0, "k2", "PAYSTACK", at("2025-03-01T00:00:00")),
            ("t5", "DONATION", "FAILED", 7000.0, "k2", "PAYSTACK", at("2025-03-02T10:00:00")),
            ("t6", "APPOINTMENT", "COMPLETED", 15000.0, None, "PAYSTACK",
             at("2025-06-03T10:00:00")),
            ("t7", "APPOINTMENT", "COMPLETED", 10000.0, None, "PAYSTACK",
             at("2025-05-25T10:00:00")),
            ("t8", "APPOINTMENT", "PENDING", 12000.0, None, "PAYSTACK", at("2025-06-12T10:00:00")),
            ("t9", "REFUND", "COMPLETED", 8000.0, "general-donor-pool", "INTERNAL_TRANSFER",
             at("2025-06-07T10:00:00")),
            # The settlement of donated appointment a4 (README decision 2): not revenue.
            ("t10", "APPOINTMENT", "COMPLETED", 10000.0, "k1", "DONATION",
             at("2025-06-14T10:00:00")),
            ("t11", "DONATION", "COMPLETED", 4000.0, "general-donor-pool", "PAYSTACK",
             at("2025-06-01T00:00:00")),
        ],
    )  # fmt: skip
    await db.executemany(
        """INSERT INTO "Appointment" (id, "patientId", "centerId", "screeningTypeId",
                                      "donationId", "isDonation", "appointmentDateTime",
                                      "transactionId", status, "createdAt")
           VALUES ($1, $2, $3, 'st1', $4, $4::text IS NOT NULL, $5, $6, $7, $8)""",
        [
            ("a1", "p1", "c1", None, at("2025-06-04T09:00:00"), "t6", "COMPLETED",
             at("2025-06-03T10:00:00")),
            ("a2", "p2", "c2", None, at("2025-05-27T10:00:00"), "t7", "IN_PROGRESS",
             at("2025-05-25T10:00:00")),
            ("a3", "p1", "c1", None, at("2025-06-20T10:00:00"), "t8", "PENDING",
             at("2025-06-12T10:00:00")),
            ("a4", "p2", "c2", "k1", at("2025-05-05T08:00:00"), "t10", "COMPLETED",
             at("2025-05-01T10:00:00")),
            ("a5", "p3", "c1", None, at("2025-06-16T10:00:00"), None, "SCHEDULED",
             at("2025-04-01T10:00:00")),
            ("a6", "p3", "c2", None, at("2025-02-10T10:00:00"), None, "CANCELLED",
             at("2025-02-01T10:00:00")),
        ],
    )  # fmt: skip
    await db.executemany(
        """INSERT INTO "ScreeningResult" (id, "appointmentId", "uploadedAt")
           VALUES ('r-' || $1, $1, $2)""",
        [("a1", at("2025-06-04T15:00:00")), ("a2", at("2025-05-28T10:00:00"))],
    )
    await db.executemany(
        """INSERT INTO "Waitlist" (id, "screeningTypeId", "patientId", status, "joinedAt",
                                   "claimedAt")
           VALUES ($1, 'st1', $2, $3, $4, $5)""",
        [
            ("w1", "p1", "PENDING", at("2025-06-01T00:00:00"), None),
            ("w2", "p2", "MATCHED", at("2025-05-01T00:00:00"), None),
            ("w3", "p2", "CLAIMED", at("2025-05-01T00:00:00"), at("2025-05-03T12:00:00")),
            ("w4", "p3", "EXPIRED", at("2025-03-01T00:00:00"), None),
            ("w5", "p1", "CLAIMED", at("2025-04-01T00:00:00"), at("2025-04-02T00:00:00")),
        ],
    )
    await db.executemany(
        """INSERT INTO "DonationAllocation" (id, "waitlistId", "appointmentId", "patientId",
                                             "campaignId", "amountAllocated")
           VALUES ($1, $2, $3, $4, $5, 10000)""",
        [
            ("al1", "w2", None, "p2", "k1"),
            ("al2", "w3", "a4", "p2", "k1"),
            ("al3", "w5", "a5", "p1", "k2"),
        ],
    )
    await db.executemany(
        """INSERT INTO payouts (id, "batchReference", "payoutNumber", "centerId", amount,
                                "netAmount", status, "periodStart", "periodEnd", reason,
                                "updatedAt")
           VALUES ($1, 'PAY', $1, $2, $3, $3::float8 - 10, $4, now(), now(), 'r', now())""",
        [("po1", "c1", 5000.0, "PENDING"), ("po2", "c1", 3000.0, "SUCCESS"),
         ("po3", "c2", 2000.0, "PENDING")],
    )  # fmt: skip


@pytest.fixture
async def data(db: asyncpg.Connection) -> asyncpg.Connection:
    await seed(db)
    return db


def conn() -> Any:
    return connections.get("default")


async def test_dashboard_metrics_follow_the_new_definitions(data: asyncpg.Connection) -> None:
    result = await queries.dashboard(conn(), now=NOW)

    assert result == {
        # t1 + t2 + t4 + t6 + t7 + t11: completed donations and bookings, not the refund t9,
        # the settlement t10, or the pending/failed t3, t5, t8.
        "totalRevenue": 99000,
        # t1, t6 and t11 (exactly at the start of June).
        "monthlyRevenue": 49000,
        "averageTransactionValue": 16500,
        "totalUsers": 5,  # p1, p2, p3, d1 and the system donor
        "newUsersThisMonth": 2,  # p1, d1
        "activePatients": 2,  # p1 (a1, a3) and p2 (a2) booked in the last 30 days
        "activeDonors": 1,  # d1 created k1 on 5 June
        "totalAppointments": 6,
        "completedAppointments": 2,  # a1, a4
        "pendingAppointments": 2,  # a2 IN_PROGRESS, a5 SCHEDULED (a3 PENDING is not)
        "appointmentCompletionRate": pytest.approx(100 / 3),
        "activeCampaigns": 2,  # k1 and the pool
        "totalDonationAmount": 74000,  # t1 + t2 + t4 + t11
        "averageCampaignFunding": 35000,  # (k1 50000 + k2 20000) / 2, the pool left out
        "activeCenters": 2,
        "centerUtilizationRate": pytest.approx(200 / 3),  # c1, c2 of three
        "totalWaitlistUsers": 1,  # w1
        "averageWaitTime": pytest.approx(1.75),  # w3 2.5 days, w5 1 day (CLAIMED counts)
        "matchingSuccessRate": 60,  # w2, w3, w5 of five
    }


async def test_dashboard_on_an_empty_database_is_all_zero(db: asyncpg.Connection) -> None:
    await db.execute('DELETE FROM "DonationCampaign"')
    await db.execute('DELETE FROM "DonorProfile"')
    await db.execute('DELETE FROM "User"')

    result = await queries.dashboard(conn(), now=NOW)

    assert set(result.values()) == {0}


async def test_time_report_buckets_by_month_and_grows_against_the_previous_window(
    data: asyncpg.Connection,
) -> None:
    window = Window("monthly", at("2025-03-01T00:00:00"), NOW)

    result = await queries.time_report(conn(), window, now=NOW)

    assert result == {
        # t4 sits exactly at `from`: counted in the current window only (D-AN-5).
        "revenueByDay": [
            {"date": "2025-03-01", "amount": 20000},
            {"date": "2025-05-01", "amount": 30000},  # t2, t7
            {"date": "2025-06-01", "amount": 49000},  # t1, t6, t11
        ],
        "appointmentsByDay": [
            {"date": "2025-04-01", "count": 1},  # a5
            {"date": "2025-05-01", "count": 2},  # a2, a4
            {"date": "2025-06-01", "count": 2},  # a1, a3
        ],
        "registrationsByDay": [
            {"date": "2025-05-01", "count": 1},  # p2
            {"date": "2025-06-01", "count": 2},  # p1, d1
        ],
        # Previous window [2024-11-14T12:00, 2025-03-01): p3 registered, a6 booked, no revenue.
        "userGrowthRate": 200,
        "revenueGrowthRate": 0,
        "appointmentGrowthRate": 400,
    }


async def test_time_report_weekly_buckets_start_on_monday(data: asyncpg.Connection) -> None:
    window = Window("weekly", at("2025-05-19T00:00:00"), NOW)

    result = await queries.time_report(conn(), window, now=NOW)

    assert result["appointmentsByDay"] == [
        {"date": "2025-05-19", "count": 1},  # a2, Sunday 25 May
        {"date": "2025-06-02", "count": 1},  # a1, Tuesday 3 June
        {"date": "2025-06-09", "count": 1},  # a3, Thursday 12 June
    ]


async def test_several_windows_in_one_statement_match_one_at_a_time(
    data: asyncpg.Connection,
) -> None:
    spans = [windows.resolve(scope, NOW) for scope in windows.DEFAULT_TIME_SCOPES]

    together = (await queries.compute(conn(), ["time"], now=NOW, windows=spans))["time"]

    alone = [await queries.time_report(conn(), span, now=NOW) for span in spans]
    assert together == alone
    # p1, p2, d1 by day, week and month (p3 too for months); by year 2024 (system donor), 2025.
    assert [len(r["registrationsByDay"]) for r in together] == [3, 3, 3, 2]


async def test_geographic_report_groups_by_state(data: asyncpg.Connection) -> None:
    result = await queries.geographic(conn(), now=NOW)

    assert result == {
        "usersByState": [{"state": "Kano", "count": 1}, {"state": "Lagos", "count": 1}],
        "centersByState": [{"state": "Lagos", "count": 2}, {"state": "Kano", "count": 1}],
        "appointmentsByState": [{"state": "Kano", "count": 3}, {"state": "Lagos", "count": 3}],
        # Completed transactions linked to appointments: t7 + t10 at c2, t6 at c1.
        "revenueByState": [{"state": "Kano", "amount": 20000}, {"state": "Lagos", "amount": 15000}],
        "waitlistHotZones": [
            {"state": "Kano", "waitlistCount": 2, "averageWaitTime": 2.5},  # w2, w3
            {"state": "Lagos", "waitlistCount": 2, "averageWaitTime": 1},  # w1, w5
        ],
    }


async def test_center_performance_uses_real_figures(data: asyncpg.Connection) -> None:
    result = await queries.center_performance(conn(), now=NOW)

    assert result == [
        {
            "centerId": "c1",
            "centerName": "Alpha Clinic",
            "totalAppointments": 3,
            "completedAppointments": 1,
            "completionRate": pytest.approx(100 / 3),
            "totalRevenue": 15000,  # t6 (t8 is pending)
            "averageAppointmentValue": 5000,
            "averageRating": 0,
            "payoutsPending": 5000,
            "averageProcessingTime": 6,  # a1: 09:00 -> 15:00
            "resultUploadRate": 100,  # a1 of a1
        },
        {
            "centerId": "c2",
            "centerName": "Beta Labs",
            "totalAppointments": 3,
            "completedAppointments": 1,
            "completionRate": pytest.approx(100 / 3),
            "totalRevenue": 20000,  # t7 and the settlement t10
            "averageAppointmentValue": pytest.approx(20000 / 3),
            "averageRating": 0,
            "payoutsPending": 2000,
            "averageProcessingTime": 24,  # a2
            "resultUploadRate": 50,  # a2 of a2 and a4
        },
        {
            "centerId": "c3",
            "centerName": "Gamma Care",
            "totalAppointments": 0,
            "completedAppointments": 0,
            "completionRate": 0,
            "totalRevenue": 0,
            "averageAppointmentValue": 0,
            "averageRating": 0,
            "payoutsPending": 0,
            "averageProcessingTime": 0,
            "resultUploadRate": 0,
        },
    ]


async def test_a_transaction_shared_by_two_appointments_counts_once(
    data: asyncpg.Connection,
) -> None:
    # Given a second c2 appointment and a c1 appointment both linked to t7 (created later
    # than a2, so a2 stays t7's first appointment).
    await data.executemany(
        """INSERT INTO "Appointment" (id, "patientId", "centerId", "screeningTypeId",
                                      "appointmentDateTime", "transactionId", status, "createdAt")
           VALUES ($1, 'p2', $2, 'st1', '2025-06-01', 't7', 'SCHEDULED', $3)""",
        [("a7", "c2", at("2025-05-26T00:00:00")), ("a8", "c1", at("2025-05-27T00:00:00"))],
    )

    centers = await queries.center_performance(conn(), now=NOW)
    geographic = await queries.geographic(conn(), now=NOW)

    assert [c["totalRevenue"] for c in centers] == [25000, 20000, 0]  # c1 gains t7 once
    assert geographic["revenueByState"] == [
        {"state": "Kano", "amount": 20000},  # t7 stays with its first appointment, a2
        {"state": "Lagos", "amount": 15000},
    ]


async def test_campaign_analytics(data: asyncpg.Connection) -> None:
    result = await queries.campaigns(conn(), now=NOW)

    assert result == [
        {
            "campaignId": "k1",
            "title": "School Drive",
            "targetAmount": 50000,
            "currentAmount": 50000,  # t1 + t2 (t3 pending, t10 is a settlement)
            "fundingPercentage": 100,
            "donorCount": 2,
            "averageDonation": 25000,
            "patientsMatched": 2,  # al1, al2
            "appointmentsCompleted": 1,  # al2 -> a4
            "utilizationRate": 50,
            "daysSinceCreated": 10,
            "estimatedDepletion": 15,  # 30000 left at (50000 - 30000) / 10 per day
        },
        {
            "campaignId": "k2",
            "title": "Donation Campaign",
            "targetAmount": 20000,
            "currentAmount": 20000,
            "fundingPercentage": 100,
            "donorCount": 1,
            "averageDonation": 20000,
            "patientsMatched": 1,
            "appointmentsCompleted": 0,  # a5 is only scheduled
            "utilizationRate": 0,
            "daysSinceCreated": 106,
            "estimatedDepletion": None,  # nothing spent
        },
        {
            "campaignId": "general-donor-pool",
            "title": "General donation public pool",
            "targetAmount": 0,
            "currentAmount": 4000,  # t11; the refund t9 is not a donation
            "fundingPercentage": 0,
            "donorCount": 1,
            "averageDonation": 4000,
            "patientsMatched": 0,
            "appointmentsCompleted": 0,
            "utilizationRate": 0,
            "daysSinceCreated": 531,
            "estimatedDepletion": None,
        },
    ]


async def test_one_statement_for_every_report_gives_the_same_answers(
    data: asyncpg.Connection,
) -> None:
    spans = [Window("monthly", at("2025-03-01T00:00:00"), NOW)]

    together = await queries.compute(conn(), list(queries.KINDS), now=NOW, windows=spans)

    assert together["dashboard"] == await queries.dashboard(conn(), now=NOW)
    assert together["centers"] == await queries.center_performance(conn(), now=NOW)
    assert together["geographic"] == await queries.geographic(conn(), now=NOW)
    assert together["campaigns"] == await queries.campaigns(conn(), now=NOW)
    assert together["time"] == [await queries.time_report(conn(), spans[0], now=NOW)]


async def test_refresh_stores_every_snapshot_and_never_goes_back_in_time(
    data: asyncpg.Connection,
) -> None:
    moment = NOW.replace(tzinfo=UTC)

    refreshed = await snapshots.refresh(now=moment)
    await snapshots.refresh("dashboard", now=moment - timedelta(minutes=5))

    rows = await data.fetch("SELECT kind, scope, computed_at, duration_ms FROM analytics_snapshots")
    assert sorted((r["kind"], r["scope"]) for r in rows) == sorted(refreshed.snapshots)
    assert {r["computed_at"] for r in rows} == {moment}  # the older dashboard was not kept
    assert all(r["duration_ms"] >= 0 for r in rows)
    stored = await data.fetchval(
        "SELECT data->>'period' FROM analytics_snapshots WHERE kind = 'time' "
        "AND scope = 'period=weekly'"
    )
    assert stored == "weekly"
    assert refreshed.summary()["snapshots"][0] == {"kind": "dashboard", "scope": ""}


async def test_a_full_refresh_drops_custom_windows_nobody_asked_for_lately(
    data: asyncpg.Connection,
) -> None:
    moment = NOW.replace(tzinfo=UTC)
    recent = windows.time_scope("daily", at("2025-06-01T00:00:00"), at("2025-06-10T00:00:00"))
    old = windows.time_scope("weekly", at("2025-01-01T00:00:00"), at("2025-02-01T00:00:00"))
    await snapshots.refresh("time", recent, now=moment - timedelta(hours=1))
    await snapshots.refresh("time", old, now=moment - timedelta(days=2))

    await snapshots.refresh(now=moment)

    scopes = {r["scope"] for r in await data.fetch("SELECT scope FROM analytics_snapshots")}
    assert recent in scopes
    assert old not in scopes
    assert set(windows.DEFAULT_TIME_SCOPES) <= scopes


async def test_refresh_refuses_unknown_kinds_and_scopes() -> None:
    with pytest.raises(snapshots.UnknownKindError):
        snapshots.targets("revenue")
    with pytest.raises(snapshots.UnknownKindError):
        snapshots.targets("dashboard", "period=daily")
    with pytest.raises(snapshots.UnknownKindError):
        snapshots.targets("time", "period=hourly")


def test_default_windows_are_relative_to_to() -> None:
    end = at("2024-03-31T10:00:00")
    scope = windows.time_scope("monthly", None, end)

    window = windows.resolve(scope, NOW)

    assert window == Window("monthly", at("2023-03-31T10:00:00"), end)
    assert windows.resolve("period=daily", NOW).start == NOW - timedelta(days=30)
    assert windows.resolve("period=weekly", NOW).start == NOW - timedelta(days=84)
    assert windows.resolve("period=yearly", NOW).start == at("2020-06-15T12:00:00")
    assert windows.minus_months(at("2024-02-29T00:00:00"), 12) == at("2023-02-28T00:00:00")
