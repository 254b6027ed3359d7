"""Matching's schedule entry and the optional scheduled jobs (spec/scheduled-jobs.md §4)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from actors import scheduled_optional as optional
from actors.schedule import CronEntry, IntervalEntry, entries
from actors.scheduler import Scheduler
from actors.settings import WorkerSettings, use
from models.appointments import Appointment
from models.enums import AppointmentStatus
from models.results import ScreeningResult, ScreeningResultFile
from tests.factories import make_center, make_patient, make_screening_type

OPTIONAL_VARS = ("APPOINTMENT_REMINDERS_ENABLED", "RESULT_FILE_PURGE_DAYS")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class Clock:
    def __init__(self, now: str) -> None:
        self.now = at(now)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def no_optional_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OPTIONAL_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def settings(database_url: str, no_optional_jobs: None) -> WorkerSettings:
    return WorkerSettings(database_url=database_url, frontend_url="http://frontend.test")


async def test_matching_is_due_interval_hours_after_the_last_execution_started(
    db: asyncpg.Connection, settings: WorkerSettings
) -> None:
    [matching] = [e for e in entries(settings) if e.name == "waitlist_matching"]
    assert isinstance(matching, IntervalEntry)
    clock = Clock("2025-09-01T10:00:30+00:00")
    scheduler = Scheduler(settings, schedule=[matching], clock=clock)
    try:
        # No execution yet: due at the first tick, as a RunMatching with source "schedule".
        [first] = await scheduler.run_once()
        assert first.idempotency_key == "matching:schedule:2025-09-01T10:00Z"
        job = await db.fetchrow("SELECT * FROM jobs WHERE id = $1::uuid", first.job_id)
        assert (job["actor_name"], job["queue_name"]) == ("run_matching", "matching")
        assert json.loads(job["args"])["trigger_source"] == "schedule"
        assert job["requested_by_kind"] == "scheduler"
        await db.execute("UPDATE jobs SET status = 'succeeded'")

        # An admin run started at 11:00 pushes the next scheduled one to 05:00 the next day.
        await db.execute(
            'INSERT INTO matching_executions (id, "executionReference", "startedAt", status) '
            "VALUES ('E1', 'EXEC_1', '2025-09-01T11:00:00', 'COMPLETED')"
        )
        clock.now = at("2025-09-02T04:59:30+00:00")
        assert await scheduler.run_once() == []
        clock.now = at("2025-09-02T05:00:10+00:00")
        [second] = await scheduler.run_once()
        assert second.idempotency_key == "matching:schedule:2025-09-02T05:00Z"
        # Queued and not started: a later tick coalesces with it.
        clock.now = at("2025-09-02T07:00:00+00:00")
        assert await scheduler.run_once() == []
    finally:
        await scheduler.close()


def test_the_interval_follows_waitlist_matching_interval_hours(
    no_optional_jobs: None,
) -> None:
    settings = WorkerSettings.from_env(
        {"WAITLIST_MATCHING_INTERVAL_HOURS": "6", "FRONTEND_URL": "http://x"}
    )
    [matching] = [e for e in entries(settings) if e.name == "waitlist_matching"]
    assert isinstance(matching, IntervalEntry)
    last = at("2025-09-01T00:00:00+00:00")
    assert matching.due_slot(at("2025-09-01T05:59:00+00:00"), last, settings) is None
    assert matching.due_slot(at("2025-09-01T06:00:20+00:00"), last, settings) == at(
        "2025-09-01T06:00:00+00:00"
    )
    assert WorkerSettings().waitlist_matching_interval_hours == 18


def test_optional_jobs_are_off_by_default(settings: WorkerSettings) -> None:
    names = {entry.name for entry in entries(settings)}
    assert "appointment_reminders" not in names
    assert "purge_result_files" not in names


def test_optional_jobs_follow_their_variables(
    settings: WorkerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPOINTMENT_REMINDERS_ENABLED", "true")
    monkeypatch.setenv("RESULT_FILE_PURGE_DAYS", "45")
    table = {entry.name: entry for entry in entries(settings)}

    reminders = table["appointment_reminders"]
    assert isinstance(reminders, CronEntry)
    slot = reminders.latest_slot(at("2025-09-01T11:30:00+00:00"))
    assert slot == at("2025-09-01T11:05:00+00:00")  # hourly at minute 5
    assert reminders.idempotency_key(slot) == "reminders:2025-09-01T11:00Z"
    message = reminders.message(slot)
    assert isinstance(message, optional.SendAppointmentReminders)
    assert message.slot == "2025-09-01T11:05:00+00:00"

    purge = table["purge_result_files"]
    assert isinstance(purge, CronEntry)
    slot = purge.latest_slot(at("2025-09-01T12:00:00+00:00"))
    assert slot == at("2025-09-01T02:00:00+00:00")  # 03:00 Africa/Lagos
    assert purge.idempotency_key(slot) == "purge-result-files:2025-09-01"
    assert purge.message(slot) == optional.PurgeResultFiles(older_than_days=45)

    monkeypatch.setenv("RESULT_FILE_PURGE_DAYS", "7")
    with pytest.raises(optional.OptionalJobsError, match="RESULT_FILE_PURGE_DAYS"):
        entries(settings)


def test_the_reminder_text_uses_lagos_time() -> None:
    text = optional.reminder_text("Breast Screening", "Lifeline", at("2025-09-02T11:30:00"))
    assert text == (
        "Reminder: your Breast Screening appointment at Lifeline is on "
        "2 September 2025, 12:30 (WAT)."
    )


async def test_reminders_go_out_once_per_appointment_time(db: asyncpg.Connection) -> None:
    screening = await make_screening_type(name="Breast Screening")
    center = await make_center(center_name="Lifeline", services=[screening])
    patient = await make_patient()
    slot = at("2025-09-01T11:05:00")

    async def appointment(hours: float, status: AppointmentStatus) -> Appointment:
        return await Appointment.create(
            patient_id=patient.id,
            center_id=center.id,
            screening_type_id=screening.id,
            appointment_date_time=slot + dt.timedelta(hours=hours),
            status=status,
        )

    due = await appointment(23.5, AppointmentStatus.SCHEDULED)
    await appointment(24.5, AppointmentStatus.SCHEDULED)  # next hour's sweep
    await appointment(23.5, AppointmentStatus.CANCELLED)

    first = await optional.send_appointment_reminders(slot="2025-09-01T11:05:00+00:00")
    again = await optional.send_appointment_reminders(slot="2025-09-01T11:05:00+00:00")

    assert first == {"sent": 1, "alreadySent": 0}
    assert again == {"sent": 0, "alreadySent": 1}
    [note] = await db.fetch(
        'SELECT n.type, n.title, n.message, n.data, r."userId" FROM "Notification" n '
        'JOIN "NotificationRecipient" r ON r."notificationId" = n.id'
    )
    assert (note["type"], note["title"], note["userId"]) == (
        "APPOINTMENT_REMINDER",
        "Appointment Reminder",
        patient.id,
    )
    assert note["message"].endswith("is on 2 September 2025, 11:35 (WAT).")
    assert json.loads(note["data"]) == {"appointmentId": due.id}
    [job] = await db.fetch("SELECT idempotency_key, args FROM jobs")
    assert job["idempotency_key"] == f"reminder:{due.id}:2025-09-02T10:35:00.000"
    assert json.loads(job["args"])["to"] == patient.email


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Path]:
    use(WorkerSettings(storage_dir=tmp_path))
    yield tmp_path
    use(WorkerSettings())


async def test_the_purge_deletes_old_local_bytes_and_keeps_the_rows(
    db: asyncpg.Connection, storage: Path
) -> None:
    screening = await make_screening_type()
    center = await make_center(services=[screening])
    patient = await make_patient()
    visit = await Appointment.create(
        patient_id=patient.id,
        center_id=center.id,
        screening_type_id=screening.id,
        appointment_date_time=at("2025-01-10T09:00:00"),
        status=AppointmentStatus.COMPLETED,
    )
    result = await ScreeningResult.create(appointment_id=visit.id)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    async def stored(name: str, *, deleted_days: int | None, local: bool = True) -> Path:
        row = await ScreeningResultFile.create(
            result_id=result.id,
            file_name=f"{name}.png",
            file_path=f"{name}.png",
            file_type="image/png",
            file_size=3,
            cloudinary_url="https://files.test/x",
            cloudinary_id="",
            is_deleted=deleted_days is not None,
            deleted_at=None if deleted_days is None else now - dt.timedelta(days=deleted_days),
        )
        key = f"results/{visit.id}/{row.id}.png"
        row.cloudinary_id = f"local:{row.id}" if local else f"zerocancer/{row.id}"
        await row.save()
        await db.execute(
            "INSERT INTO stored_files (id, storage_key, content_type, size_bytes, sha256) "
            "VALUES ($1::uuid, $2, 'image/png', 3, 'x')",
            row.id,
            key,
        )
        for path in (key, key[: -len(".png")] + ".web.jpg", key[: -len(".png")] + ".thumbnail.jpg"):
            (storage / path).parent.mkdir(parents=True, exist_ok=True)
            (storage / path).write_bytes(b"abc")
        return storage / key

    old = await stored("old", deleted_days=40)
    recent = await stored("recent", deleted_days=10)
    kept = await stored("kept", deleted_days=None)
    external = await stored("external", deleted_days=40, local=False)

    report = await optional.purge_result_files(older_than_days=30)

    assert report == {"files": 1, "objectsRemoved": 3, "olderThanDays": 30}
    assert not old.exists()
    assert not old.with_suffix(".web.jpg").exists()
    assert recent.exists()
    assert kept.exists()
    assert external.exists()
    assert await db.fetchval("SELECT count(*) FROM stored_files") == 3
    assert await db.fetchval('SELECT count(*) FROM "ScreeningResultFile"') == 4
    assert await optional.purge_result_files(older_than_days=30) == {
        "files": 0,
        "objectsRemoved": 0,
        "olderThanDays": 30,
    }
