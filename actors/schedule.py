"""The schedule as data: what the scheduler enqueues, when, under which idempotency key.

Two kinds of entry:

- ``CronEntry``: calendar slots of a cron expression in a time zone. The scheduler enqueues the
  latest slot not in the future; a slot missed while no scheduler ran is enqueued once when one
  comes back, never once per missed slot (spec/scheduled-jobs.md section 3).
- ``IntervalEntry``: due when nothing started within an interval (waitlist matching: measured
  from the last run's start, whoever triggered it; section 4.1), and not while a run of the same
  actor is queued or running.

Entries whose message class does not exist yet (another capability adds it) are skipped, with
one log line. Idempotency keys are those of the spec where it names one, else
``schedule:<name>:<slot, ISO UTC>``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from actors.contracts.messages import Message, PurgeExpiredTokens, message_class
from actors.settings import WorkerSettings

Factory = Callable[[dt.datetime], Message | None]


def default_key(name: str, slot: dt.datetime) -> str:
    return f"schedule:{name}:{_iso_minute(slot)}"


@dataclass(frozen=True)
class CronEntry:
    name: str
    cron: str
    timezone: str
    message: Factory
    key: Callable[[dt.datetime], str] | None = None
    enabled: Callable[[WorkerSettings], bool] = lambda settings: True

    def latest_slot(self, now: dt.datetime) -> dt.datetime:
        """The latest slot at or before ``now`` (aware, UTC)."""
        local = now.astimezone(ZoneInfo(self.timezone)) + dt.timedelta(seconds=1)
        slot: dt.datetime = croniter(self.cron, local).get_prev(dt.datetime)
        return slot.astimezone(dt.UTC)

    def idempotency_key(self, slot: dt.datetime) -> str:
        return self.key(slot) if self.key else default_key(self.name, slot)


@dataclass(frozen=True)
class IntervalEntry:
    name: str
    actor_name: str
    #: SQL returning the start (naive UTC or aware) of the latest run, NULL when none.
    last_started_sql: str
    interval: Callable[[WorkerSettings], dt.timedelta]
    message: Factory
    key: Callable[[dt.datetime], str] | None = None
    enabled: Callable[[WorkerSettings], bool] = lambda settings: True

    def due_slot(
        self, now: dt.datetime, last_started: dt.datetime | None, settings: WorkerSettings
    ) -> dt.datetime | None:
        """When the entry became due (minute precision), or None while it is not due."""
        if last_started is None:
            return _floor_minute(now)
        if last_started.tzinfo is None:
            last_started = last_started.replace(tzinfo=dt.UTC)
        due = last_started + self.interval(settings)
        return _floor_minute(due) if due <= now else None

    def idempotency_key(self, slot: dt.datetime) -> str:
        return self.key(slot) if self.key else default_key(self.name, slot)


Entry = CronEntry | IntervalEntry


def lazy_message(actor_name: str, **candidates: Any) -> Factory:
    """A factory for a message class that another capability may not have added yet.

    Builds the class with the ``candidates`` that are among its fields (e.g. ``trigger``);
    returns None when no message class for ``actor_name`` exists.
    """

    def build(slot: dt.datetime) -> Message | None:
        cls = message_class(actor_name)
        if cls is None:
            return None
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in candidates.items() if k in names})

    return build


def _iso_minute(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def _local_month(moment: dt.datetime, timezone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(timezone)):%Y-%m}"


def _floor_minute(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


#: Matching's actor name (message class ``RunMatching``, added by the matching capability).
MATCHING_ACTOR = "run_matching"
#: Monthly payouts' actor name (message class ``RunMonthlyPayouts``, added by payouts).
MONTHLY_PAYOUTS_ACTOR = "run_monthly_payouts"


def entries(settings: WorkerSettings) -> list[Entry]:
    """The schedule for ``settings`` (switched-off entries left out)."""
    table: list[Entry] = [
        IntervalEntry(
            name="waitlist_matching",
            actor_name=MATCHING_ACTOR,
            last_started_sql='SELECT max("startedAt") FROM matching_executions',
            interval=lambda s: dt.timedelta(hours=s.waitlist_matching_interval_hours),
            message=lazy_message(MATCHING_ACTOR, trigger="schedule", trigger_source="schedule"),
            key=lambda slot: f"matching:schedule:{_iso_minute(slot)}",
            enabled=lambda s: s.schedule_matching_enabled,
        ),
        CronEntry(
            name="monthly_payouts",
            cron="0 2 1 * *",
            timezone=settings.app_timezone,
            message=lazy_message(MONTHLY_PAYOUTS_ACTOR, trigger="schedule"),
            key=lambda slot: f"payouts:monthly:{_local_month(slot, settings.app_timezone)}",
            enabled=lambda s: s.schedule_monthly_payouts_enabled,
        ),
        CronEntry(
            name="purge_expired_tokens",
            cron="30 3 * * *",
            timezone=settings.app_timezone,
            message=lambda slot: PurgeExpiredTokens(),
            enabled=lambda s: s.schedule_token_purge_enabled,
        ),
        # analytics: every report recomputed every 5 minutes (UTC), so the edge answers from a
        # snapshot younger than its ANALYTICS_MAX_AGE_SECONDS default (300) most of the time.
        CronEntry(
            name="analytics_refresh",
            cron="*/5 * * * *",
            timezone="UTC",
            message=lazy_message(ANALYTICS_REFRESH_ACTOR),
        ),
        # optional jobs (spec/scheduled-jobs.md 4.5, 4.6), off unless their variables switch
        # them on; actors and variables in actors.scheduled_optional (imported only if on).
        *_optional_entries(settings),
    ]
    return [entry for entry in table if entry.enabled(settings)]


def _optional_entries(settings: WorkerSettings) -> list[Entry]:
    """Appointment reminders (hourly at minute 5) and the result-file purge (daily 03:00)."""
    from actors import scheduled_optional as optional

    wanted = optional.OptionalJobs.from_env()
    table: list[Entry] = []
    if wanted.appointment_reminders:
        table.append(
            CronEntry(
                name="appointment_reminders",
                cron="5 * * * *",
                timezone=settings.app_timezone,
                message=optional.reminder_message,
                key=lambda slot: f"reminders:{slot.astimezone(dt.UTC):%Y-%m-%dT%H}:00Z",
            )
        )
    if wanted.result_file_purge_days is not None:
        table.append(
            CronEntry(
                name="purge_result_files",
                cron="0 3 * * *",
                timezone=settings.app_timezone,
                message=optional.purge_message,
                key=lambda slot: (
                    f"purge-result-files:{slot.astimezone(ZoneInfo(settings.app_timezone)):%Y-%m-%d}"
                ),
            )
        )
    return table


#: Analytics refresh's actor name (message class ``RefreshAnalyticsSnapshot``).
ANALYTICS_REFRESH_ACTOR = "refresh_analytics_snapshot"
