"""The optional scheduled jobs of spec/scheduled-jobs.md §4.5-§4.6, both off by default.

- Appointment reminders (`APPOINTMENT_REMINDERS_ENABLED=true`): hourly at minute 5, every
  `SCHEDULED` appointment whose `appointmentDateTime` lies in (slot + 23 h, slot + 24 h] gets one
  `APPOINTMENT_REMINDER` notification and an e-mail job, once per (appointment, date-time): the
  e-mail job's idempotency key `reminder:{appointmentId}:{appointmentDateTime}` marks it sent,
  so a repeated sweep or a rescheduled appointment behaves (a new time, a new reminder).
- Purge of soft-deleted result files (`RESULT_FILE_PURGE_DAYS`, an integer >= 30; unset = off):
  daily at 03:00 Africa/Lagos, the bytes (original and image derivatives) of files this system
  stored (`cloudinaryId` `local:...`) deleted more than that many days ago are removed, with their
  `stored_files` row; the `ScreeningResultFile` rows stay as audit history (downloads answer 404).

Message classes `SendAppointmentReminders` and `PurgeResultFiles` are in
`actors.contracts.messages`; the schedule entries in `actors.schedule` (`entries`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from actors.contracts.messages import PurgeResultFiles, SendAppointmentReminders, SendEmail
from actors.contracts.notifications import EMAIL_TEMPLATE, notify
from actors.contracts.outbox import Requester, enqueue
from actors.errors import InvalidMessageError
from actors.policy import ActorPolicy, RateLimit, register
from actors.settings import current as current_settings

log = logging.getLogger(__name__)

#: Shortest purge age the spec allows (days).
MIN_PURGE_DAYS: Final = 30
REMINDER_TYPE: Final = "APPOINTMENT_REMINDER"
REMINDER_TITLE: Final = "Appointment Reminder"
#: The reminder's wall clock ("(WAT)" in the message).
REMINDER_TIMEZONE: Final = "Africa/Lagos"
#: Derivatives the image actor writes beside an original (`actors.images`).
IMAGE_VARIANTS: Final = ("web", "thumbnail")


class OptionalJobsError(ValueError):
    """An optional job's variable is malformed (the scheduler does not start)."""


@dataclass(frozen=True)
class OptionalJobs:
    """Which optional jobs the scheduler runs, from the environment."""

    appointment_reminders: bool = False
    result_file_purge_days: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OptionalJobs:
        env = os.environ if environ is None else environ
        raw_flag = env.get("APPOINTMENT_REMINDERS_ENABLED", "").strip().lower()
        if raw_flag not in ("", "true", "false", "1", "0", "yes", "no", "on", "off"):
            raise OptionalJobsError(
                f"APPOINTMENT_REMINDERS_ENABLED must be true or false, not {raw_flag!r}"
            )
        raw_days = env.get("RESULT_FILE_PURGE_DAYS", "").strip()
        days: int | None = None
        if raw_days:
            if not raw_days.isdigit() or int(raw_days) < MIN_PURGE_DAYS:
                raise OptionalJobsError(
                    f"RESULT_FILE_PURGE_DAYS must be an integer of at least {MIN_PURGE_DAYS}, "
                    f"not {raw_days!r}"
                )
            days = int(raw_days)
        return cls(
            appointment_reminders=raw_flag in ("true", "1", "yes", "on"),
            result_file_purge_days=days,
        )


def reminder_message(slot: dt.datetime) -> SendAppointmentReminders:
    return SendAppointmentReminders(slot=slot.astimezone(dt.UTC).isoformat())


def purge_message(slot: dt.datetime, environ: Mapping[str, str] | None = None) -> PurgeResultFiles:
    days = OptionalJobs.from_env(environ).result_file_purge_days
    return PurgeResultFiles(older_than_days=days or 90)


# --- appointment reminders (§4.5) -------------------------------------------------------------

REMINDER_POLICY = ActorPolicy(
    max_retries=3,
    min_backoff_ms=60_000,
    max_backoff_ms=600_000,
    time_limit_ms=300_000,
    rate_limit=RateLimit("concurrent", 1, ttl_ms=360_000, retry_delay_ms=10_000),
    notes="hourly, optional; one reminder per appointment and date-time (idempotency key)",
)

_DUE_APPOINTMENTS_SQL = """
SELECT a.id, a."patientId", a."appointmentDateTime", s.name AS screening_type_name,
       c."centerName" AS center_name, u.email
FROM "Appointment" a
JOIN "ScreeningType" s ON s.id = a."screeningTypeId"
JOIN "ServiceCenter" c ON c.id = a."centerId"
JOIN "User" u ON u.id = a."patientId"
WHERE a.status = 'SCHEDULED' AND a."appointmentDateTime" > $1 AND a."appointmentDateTime" <= $2
ORDER BY a."appointmentDateTime", a.id
"""


def reminder_text(screening_type_name: str, center_name: str, when: dt.datetime) -> str:
    """`Reminder: your {type} appointment at {centre} is on {D MMMM YYYY, HH:mm} (WAT).`"""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    local = aware.astimezone(ZoneInfo(REMINDER_TIMEZONE))
    # calendar.month_name follows LC_TIME; no process here calls locale.setlocale, so it is English.
    stamp = f"{local.day} {calendar.month_name[local.month]} {local.year}, {local:%H:%M}"
    return f"Reminder: your {screening_type_name} appointment at {center_name} is on {stamp} (WAT)."


def _slot_time(slot: str) -> dt.datetime:
    if not slot:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        moment = dt.datetime.fromisoformat(slot.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidMessageError(f"slot must be an ISO date-time, not {slot!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


@register(SendAppointmentReminders, REMINDER_POLICY)
async def send_appointment_reminders(slot: str = "") -> dict[str, int]:
    """Reminds patients of appointments 23-24 h after ``slot``; returns sent/skipped counts."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    start = _slot_time(slot)
    window = (start + dt.timedelta(hours=23), start + dt.timedelta(hours=24))
    rows = await connections.get("default").execute_query_dict(_DUE_APPOINTMENTS_SQL, list(window))
    sent = skipped = 0
    for row in rows:
        when: dt.datetime = row["appointmentDateTime"]
        key = f"reminder:{row['id']}:{when.isoformat(timespec='milliseconds')}"
        message = reminder_text(row["screening_type_name"], row["center_name"], when)
        async with in_transaction() as conn:
            await conn.execute_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [key])
            done = await conn.execute_query_dict(
                "SELECT 1 FROM jobs WHERE idempotency_key = $1", [key]
            )
            if done:
                skipped += 1
                continue
            await notify(
                using_db=conn,
                type=REMINDER_TYPE,
                title=REMINDER_TITLE,
                message=message,
                recipient_ids=[row["patientId"]],
                data={"appointmentId": row["id"]},
            )
            await enqueue(
                SendEmail(
                    template=EMAIL_TEMPLATE,
                    to=row["email"],
                    context={"type": REMINDER_TYPE, "title": REMINDER_TITLE, "message": message},
                ),
                using_db=conn,
                requested_by=Requester("scheduler"),
                idempotency_key=key,
            )
            sent += 1
    log.info("appointment reminders: %d sent, %d already sent", sent, skipped)
    return {"sent": sent, "alreadySent": skipped}


# --- purge of soft-deleted result files (§4.6) ------------------------------------------------

PURGE_FILES_POLICY = ActorPolicy(
    max_retries=3,
    min_backoff_ms=60_000,
    max_backoff_ms=900_000,
    time_limit_ms=1_800_000,
    rate_limit=RateLimit("concurrent", 1, ttl_ms=1_900_000, retry_delay_ms=10_000),
    notes="daily, optional; deleting bytes already gone is a no-op",
)

_PURGEABLE_SQL = """
SELECT f.id, s.storage_key
FROM "ScreeningResultFile" f
JOIN stored_files s ON s.id::text = f.id
WHERE f."isDeleted" AND f."deletedAt" < $1 AND f."cloudinaryId" LIKE 'local:%'
ORDER BY f."deletedAt", f.id
"""


def _variant_key(key: str, variant: str) -> str:
    """As `actors.images.variant_key`: `results/a/f.png` -> `results/a/f.{variant}.jpg`."""
    stem, dot, _ = key.rpartition(".")
    return f"{stem if dot else key}.{variant}.jpg"


def _inside(root: Path, key: str) -> Path | None:
    path = (root / key).resolve()
    return path if path.is_relative_to(root) else None


def _delete_bytes(root: Path, key: str) -> int:
    removed = 0
    for candidate in (key, *(_variant_key(key, v) for v in IMAGE_VARIANTS)):
        path = _inside(root, candidate)
        if path is None:
            log.warning("storage key %r leaves STORAGE_DIR; not deleted", candidate)
            continue
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


@register(PurgeResultFiles, PURGE_FILES_POLICY)
async def purge_result_files(older_than_days: int = 90) -> dict[str, Any]:
    """Deletes the bytes of local result files soft-deleted over ``older_than_days`` ago."""
    import asyncio

    from tortoise import connections

    from models.base import utc_now

    if older_than_days < MIN_PURGE_DAYS:
        raise InvalidMessageError(
            f"older_than_days must be at least {MIN_PURGE_DAYS}, got {older_than_days}"
        )
    cutoff = utc_now() - dt.timedelta(days=older_than_days)
    root = current_settings().storage_dir.resolve()
    db = connections.get("default")
    rows = await db.execute_query_dict(_PURGEABLE_SQL, [cutoff])
    files = removed = 0
    for row in rows:
        removed += await asyncio.to_thread(_delete_bytes, root, row["storage_key"])
        await db.execute_query("DELETE FROM stored_files WHERE id = $1::uuid", [row["id"]])
        files += 1
    log.info("purged %d deleted result file(s) (%d stored object(s))", files, removed)
    return {"files": files, "objectsRemoved": removed, "olderThanDays": older_than_days}
