"""The scheduler: one leader, one job per slot, misfires once, the maintenance actor."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace

import asyncpg
import pytest

from actors.contracts.messages import PurgeExpiredTokens
from actors.schedule import CronEntry, IntervalEntry, entries
from actors.scheduled import purge_expired_tokens
from actors.scheduler import Scheduler
from actors.settings import WorkerSettings

LAGOS = "Africa/Lagos"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class Clock:
    def __init__(self, now: str) -> None:
        self.now = at(now)

    def __call__(self) -> dt.datetime:
        return self.now


def purge_daily() -> CronEntry:
    return CronEntry(
        name="purge", cron="30 3 * * *", timezone=LAGOS, message=lambda s: PurgeExpiredTokens()
    )


@pytest.fixture
def settings(runtime_database_url: str) -> WorkerSettings:
    return WorkerSettings(database_url=runtime_database_url, frontend_url="http://frontend.test")


async def jobs_by_key(db: asyncpg.Connection) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT idempotency_key, count(*) AS n FROM jobs GROUP BY idempotency_key"
    )
    return {row["idempotency_key"]: row["n"] for row in rows}


async def test_two_schedulers_fire_each_slot_once(
    runtime_db: asyncpg.Connection, settings: WorkerSettings
) -> None:
    clock = Clock("2025-09-01T05:00:00+00:00")
    schedulers = [Scheduler(settings, schedule=[purge_daily()], clock=clock) for _ in range(2)]
    try:
        # When both tick at the same time, twice in the same slot
        for _ in range(2):
            outcomes = await asyncio.gather(*(s.run_once() for s in schedulers))
            assert sorted(len(fired) for fired in outcomes) == [0, 1]
        # Then one leads, and the 03:30 Lagos slot has one job
        assert sum(s.leader for s in schedulers) == 1
        assert await jobs_by_key(runtime_db) == {"schedule:purge:2025-09-01T02:30Z": 1}

        # When the leader goes away, the other takes over and does not fire the slot again
        leader = next(s for s in schedulers if s.leader)
        other = next(s for s in schedulers if not s.leader)
        await leader.close()
        assert await other.run_once() != []
        assert other.leader
        assert await jobs_by_key(runtime_db) == {"schedule:purge:2025-09-01T02:30Z": 1}

        # And the next day's slot fires once
        clock.now = at("2025-09-02T02:31:00+00:00")
        [fired] = await other.run_once()
        assert fired.new
    finally:
        for scheduler in schedulers:
            await scheduler.close()
    keys = await jobs_by_key(runtime_db)
    assert keys == {"schedule:purge:2025-09-01T02:30Z": 1, "schedule:purge:2025-09-02T02:30Z": 1}
    requested = await runtime_db.fetch("SELECT DISTINCT requested_by_kind FROM jobs")
    assert [row[0] for row in requested] == ["scheduler"]


async def test_even_two_ticking_schedulers_enqueue_a_slot_once(
    runtime_db: asyncpg.Connection, settings: WorkerSettings
) -> None:
    clock = Clock("2025-09-01T05:00:00+00:00")
    schedulers = [Scheduler(settings, schedule=[purge_daily()], clock=clock) for _ in range(3)]

    outcomes = await asyncio.gather(*(s.tick() for s in schedulers))  # no leadership check

    assert sorted(f.new for fired in outcomes for f in fired) == [False, False, True]
    assert len({f.job_id for fired in outcomes for f in fired}) == 1
    assert await runtime_db.fetchval("SELECT count(*) FROM outbox") == 1


async def test_missed_slots_are_enqueued_once_not_once_each(
    runtime_db: asyncpg.Connection, settings: WorkerSettings
) -> None:
    # Given no scheduler ran for three days
    scheduler = Scheduler(
        settings, schedule=[purge_daily()], clock=Clock("2025-09-04T12:00:00+00:00")
    )
    try:
        [fired] = await scheduler.run_once()
    finally:
        await scheduler.close()

    assert fired.idempotency_key == "schedule:purge:2025-09-04T02:30Z"
    assert await runtime_db.fetchval("SELECT count(*) FROM jobs") == 1


async def test_an_interval_entry_waits_its_interval_and_coalesces_with_a_queued_run(
    runtime_db: asyncpg.Connection, settings: WorkerSettings
) -> None:
    last_run = (
        "SELECT max(started_at) FROM jobs WHERE actor_name = 'purge_expired_tokens'"
        " AND status = 'succeeded'"
    )
    entry = IntervalEntry(
        name="purge_every_18h",
        actor_name="purge_expired_tokens",
        last_started_sql=last_run,
        interval=lambda s: dt.timedelta(hours=18),
        message=lambda slot: PurgeExpiredTokens(),
    )
    clock = Clock("2025-09-01T10:00:30+00:00")
    scheduler = Scheduler(settings, schedule=[entry], clock=clock)
    try:
        # Never run: due at the first tick
        [first] = await scheduler.run_once()
        assert first.idempotency_key == "schedule:purge_every_18h:2025-09-01T10:00Z"
        # Queued, not started: a later tick coalesces with it
        clock.now = at("2025-09-02T10:00:00+00:00")
        assert await scheduler.run_once() == []
        # Ran at 10:00; 17 h later not due, 18 h later due (key = the due time)
        await runtime_db.execute(
            "UPDATE jobs SET status = 'succeeded', started_at = '2025-09-01T10:00:00Z'"
        )
        clock.now = at("2025-09-02T03:00:00+00:00")
        assert await scheduler.run_once() == []
        clock.now = at("2025-09-02T04:00:10+00:00")
        [second] = await scheduler.run_once()
    finally:
        await scheduler.close()
    assert second.idempotency_key == "schedule:purge_every_18h:2025-09-02T04:00Z"


def test_the_schedule_follows_the_spec(settings: WorkerSettings) -> None:
    table = {entry.name: entry for entry in entries(settings)}

    matching = table["waitlist_matching"]
    assert isinstance(matching, IntervalEntry)
    assert matching.interval(settings) == dt.timedelta(hours=18)
    slot = at("2025-09-01T12:00:00+00:00")
    assert matching.idempotency_key(slot) == "matching:schedule:2025-09-01T12:00Z"
    message = matching.message(slot)
    if message is not None:  # once the matching capability added RunMatching
        assert message.actor_name == "run_matching"
        assert message.to_kwargs().get("trigger_source", "schedule") == "schedule"

    payouts = table["monthly_payouts"]
    assert isinstance(payouts, CronEntry)
    # 1st of the month 02:00 Lagos = 01:00 UTC
    assert payouts.latest_slot(at("2025-10-15T00:00:00+00:00")) == at("2025-10-01T01:00:00+00:00")
    assert payouts.idempotency_key(at("2025-10-01T01:00:00+00:00")) == "payouts:monthly:2025-10"

    off = replace(settings, schedule_matching_enabled=False, schedule_monthly_payouts_enabled=False)
    names = {entry.name for entry in entries(off)}
    assert "purge_expired_tokens" in names
    assert not names & {"waitlist_matching", "monthly_payouts"}


async def test_purge_expired_tokens_deletes_only_expired_rows(
    runtime_db: asyncpg.Connection,
) -> None:
    from models.auth import TokenRevocation
    from models.base import utc_now, utc_now_aware
    from models.tokens import AdminResetToken
    from models.users import Admins

    admin = await Admins.create(full_name="Root", email="root@example.com", password_hash="x")
    hour = dt.timedelta(hours=1)
    await AdminResetToken.create(admin=admin, token="old", expires_at=utc_now() - hour)
    await AdminResetToken.create(admin=admin, token="new", expires_at=utc_now() + hour)
    await TokenRevocation.create(jti="old", expires_at=utc_now_aware() - hour)
    await TokenRevocation.create(jti="new", expires_at=utc_now_aware() + hour)

    deleted = await purge_expired_tokens()

    assert deleted["AdminResetToken"] == 1
    assert deleted["token_revocations"] == 1
    assert [t.token for t in await AdminResetToken.all()] == ["new"]
    assert [t.jti for t in await TokenRevocation.all()] == ["new"]
