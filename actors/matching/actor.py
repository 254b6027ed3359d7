"""The waitlist matching actor: `run_matching` (queue `matching`, one run at a time).

One run (spec/matching.md §3.2, scheduled-jobs.md §4.1):

1. take the session advisory lock `zerocancer:waitlist-matching` on the run's connection,
   without waiting; when another run holds it the message goes back to the queue for 30 s
   (`MatchingBusyError`: no retry is used up, the jobs row is `queued` again);
2. a message whose job already completed an execution (a redelivery, a repeated send) does
   nothing and answers that execution's result;
3. configuration: the request's overrides > the stored overrides (`matching_config_overrides`)
   > the WAITLIST_* environment > defaults (spec README decision 3);
4. abandoned RUNNING executions become FAILED, our execution row is inserted (T0 = its
   `startedAt`);
5. load (`store.load_inputs`), decide (`algorithm.decide`), save (`store.save_decisions`, one
   transaction). On a conflict with concurrent requests nothing is written and the run goes
   again on a fresh snapshot, one expiry or match per transaction (`store.save_planned`);
6. a fatal error marks the execution FAILED and fails the job (retried twice, 60 s apart).

Money safety never rests on the lock alone: every write is guarded (see `actors.matching.store`)
and the database holds at most one RUNNING execution and one allocation per entry.

`MATCHING_RUN_DURATION` is observed once per attempt that ran (labels trigger, attempt
first/retry, outcome succeeded/failed); `MATCHING_TRIGGER_TO_COMPLETION` on success, from the
job's creation (spec README decision 6).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import dramatiq

from actors.contracts.messages import RunMatching
from actors.errors import InvalidMessageError, PermanentError, RateLimitedError
from actors.matching import store
from actors.matching.algorithm import decide
from actors.matching.config import MatchingConfig, MatchingConfigError, MatchingSchedule
from actors.middleware.jobs import current_job
from actors.policy import ActorPolicy, RateLimit, register
from models.base import new_id, utc_now
from monitoring.metrics import MATCHING_RUN_DURATION, MATCHING_TRIGGER_TO_COMPLETION

log = logging.getLogger(__name__)

#: How long a run that found the lock taken waits before it is tried again (§3.2 1).
BUSY_DELAY_MS: Final = 30_000
#: Trigger sources a run may record (`batchConfig.trigger.source`).
TRIGGER_SOURCES: Final = frozenset({"schedule", "cron", "admin", "event"})

MATCHING_POLICY = ActorPolicy(
    max_retries=2,
    min_backoff_ms=60_000,
    max_backoff_ms=60_000,
    time_limit_ms=600_000,
    rate_limit=RateLimit("concurrent", 1, ttl_ms=660_000, retry_delay_ms=5_000),
    notes=(
        "one run at a time (advisory lock; a busy run waits 30 s in the queue); "
        "safe to retry: every write is guarded"
    ),
)


class MatchingBusyError(RateLimitedError):
    """Another run holds the matching lock: enqueued again in 30 s, no retry used up."""

    def __init__(self) -> None:
        dramatiq.Retry.__init__(
            self, "another waitlist matching run holds the lock", delay=BUSY_DELAY_MS
        )
        self.key = store.LOCK_NAME


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Validate the WAITLIST_* variables (D-MAT-21): a worker with a bad value does not start."""
    MatchingConfig.from_env(environ)
    MatchingSchedule.from_env(environ)


@dataclass(frozen=True)
class RunOutcome:
    """The job result plus the timings of the run (for logs and the benchmark)."""

    result: dict[str, Any]
    replayed: bool = False


def _resolve(
    environ: Mapping[str, str], stored: Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> MatchingConfig:
    try:
        return MatchingConfig.resolve(environ, stored=stored, request=overrides or None)
    except MatchingConfigError as error:  # retrying cannot fix a configuration
        raise InvalidMessageError(f"matching configuration: {error}") from None


async def run(
    connection: asyncpg.Connection,
    *,
    trigger_source: str = "schedule",
    admin_id: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    job_id: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunOutcome:
    """One matching run on `connection` (which holds the run lock for its duration).

    Raises `MatchingBusyError` when another run holds the lock, `InvalidMessageError` for a
    bad configuration, and re-raises a fatal error after marking the execution FAILED.
    """
    if trigger_source not in TRIGGER_SOURCES:
        raise InvalidMessageError(f"unknown trigger source {trigger_source!r}")
    if not await store.try_lock(connection):
        raise MatchingBusyError()
    try:
        return await _run_locked(
            store.Db(connection),
            trigger_source=trigger_source,
            admin_id=admin_id,
            overrides=dict(overrides or {}),
            job_id=job_id,
            environ=os.environ if environ is None else environ,
        )
    finally:
        if not connection.is_closed():
            try:
                await store.unlock(connection)
            except Exception:  # the session ends with the connection anyway
                log.warning("could not release the matching lock", exc_info=True)


async def _run_locked(
    db: store.Db,
    *,
    trigger_source: str,
    admin_id: str | None,
    overrides: dict[str, Any],
    job_id: str | None,
    environ: Mapping[str, str],
) -> RunOutcome:
    if job_id is not None:
        done = await store.finished_execution_for_job(db, job_id)
        if done is not None:
            log.info("job %s already completed execution %s: nothing to do", job_id, done["id"])
            return RunOutcome(await store.result_for(db, done, replayed=True), replayed=True)
    config = _resolve(environ, await store.stored_overrides(db), overrides)
    batch = {
        **config.batch_config(),
        "trigger": {"source": trigger_source, "adminId": admin_id, "jobId": job_id},
    }
    execution = await store.start_execution(db, batch)
    if execution.abandoned:
        log.warning("marked %d abandoned matching execution(s) FAILED", execution.abandoned)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    try:
        inputs = await store.load_inputs(db)
        timings["load"] = time.perf_counter() - clock
        decided_at = utc_now()
        clock = time.perf_counter()
        decisions = decide(inputs, config, execution.started_at, new_id=new_id)
        timings["decide"] = time.perf_counter() - clock
        clock = time.perf_counter()
        try:
            report = await store.save_decisions(db, execution, decisions, decided_at=decided_at)
        except store.SaveConflictError as conflict:
            log.warning("matching save conflicted (%s): going again one match at a time", conflict)
            timings["conflicted_save"] = time.perf_counter() - clock
            inputs = await store.load_inputs(db)
            decisions, report = await store.save_planned(db, execution, inputs, config)
        timings["save"] = time.perf_counter() - clock
    except Exception as error:
        log.exception("matching execution %s failed", execution.id)
        try:
            await store.fail_execution(db, execution, str(error) or type(error).__name__)
        except Exception:
            log.exception("could not mark execution %s FAILED", execution.id)
        raise
    metrics = decisions.metrics.as_dict()
    metrics.update(
        notificationsSent=report.notifications,
        emailJobs=report.email_jobs,
        dbQueriesCount=db.queries,
    )
    timings_ms = {key: round(value * 1000, 1) for key, value in timings.items()}
    result = {
        "success": True,
        "executionId": execution.id,
        "executionReference": execution.reference,
        "status": decisions.status,
        "metrics": metrics,
        "savePath": report.path,
        "timingsMs": timings_ms,
    }
    log.info(
        "matching %s %s: %d matched, %d expired (%s)",
        execution.reference,
        decisions.status,
        decisions.metrics.successful_matches,
        decisions.metrics.expired_allocations,
        ", ".join(f"{k} {v} ms" for k, v in timings_ms.items()),
    )
    return RunOutcome(result)


async def _job_created_at(connection: asyncpg.Connection, job_id: str) -> dt.datetime | None:
    try:
        value = await connection.fetchval("SELECT created_at FROM jobs WHERE id = $1::uuid", job_id)
    except Exception:
        return None
    return value if isinstance(value, dt.datetime) else None


@register(RunMatching, MATCHING_POLICY)
async def run_matching(
    trigger_source: str = "schedule",
    admin_id: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One waitlist matching run; returns `{success, executionId, executionReference, status,
    metrics}` (§3.2 5)."""
    from tortoise import connections

    job = current_job()
    job_id = job.job_id if job is not None else None
    attempt = "retry" if job is not None and job.attempt > 1 else "first"
    client: Any = connections.get("default")
    async with client.acquire_connection() as connection:
        started = time.perf_counter()
        try:
            outcome = await run(
                connection,
                trigger_source=trigger_source,
                admin_id=admin_id,
                overrides=overrides,
                job_id=job_id,
            )
        except (MatchingBusyError, PermanentError):
            raise
        except Exception:
            MATCHING_RUN_DURATION.labels(trigger_source, attempt, "failed").observe(
                time.perf_counter() - started
            )
            raise
        if outcome.replayed:
            return outcome.result
        MATCHING_RUN_DURATION.labels(trigger_source, attempt, "succeeded").observe(
            time.perf_counter() - started
        )
        if job_id is not None:
            created = await _job_created_at(connection, job_id)
            if created is not None:
                waited = (dt.datetime.now(dt.UTC) - created).total_seconds()
                MATCHING_TRIGGER_TO_COMPLETION.labels(trigger_source).observe(max(0.0, waited))
    return outcome.result


check_environment()
