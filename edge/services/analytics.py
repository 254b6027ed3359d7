"""Analytics for the edge: answer from the latest snapshot, refresh it through the analytics actor.

The actor (`refresh_analytics_snapshot`) computes reports and stores them in
`analytics_snapshots` under a kind and a scope (`actors/analytics/snapshots.py` lists them).
A request is answered from the stored snapshot while it is younger than
`ANALYTICS_MAX_AGE_SECONDS`. An older (or missing) snapshot is refreshed: the edge enqueues a
refresh through the outbox, with one idempotency key per kind, scope and minute so that a burst
of requests shares one job, and waits for it up to `ANALYTICS_WAIT_SECONDS` (the contract's
2 s). Then:

- the refresh succeeded: the new snapshot, fresh;
- workers are unavailable (the job waiter's circuit breaker is open), the wait passed its
  deadline, or the refresh failed: the old snapshot marked stale (`stale: true` and
  `generatedAt` beside `data`, spec/analytics.md §1);
- no snapshot exists: `AnalyticsUnavailableError` (503 with Retry-After), or
  `AnalyticsFailedError` (500) when the refresh itself failed.

Never a hang: every path ends by the deadline.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

from tortoise import connections
from tortoise.transactions import in_transaction

from actors.contracts import Requester, enqueue
from actors.contracts.messages import RefreshAnalyticsSnapshot, RenderAnalyticsReport
from edge.services.errors import DomainError

log = logging.getLogger("zerocancer.edge.analytics")

#: Snapshots younger than this are answered without a refresh (`ANALYTICS_MAX_AGE_SECONDS`).
DEFAULT_MAX_AGE_SECONDS = 300
#: Longest a request waits for a refresh (`ANALYTICS_WAIT_SECONDS`): the analytics SLO.
DEFAULT_WAIT_SECONDS = 2.0
#: Retry-After of a 503 when workers are unavailable (`ANALYTICS_RETRY_AFTER_SECONDS`).
DEFAULT_RETRY_AFTER_SECONDS = 30
#: Retry-After of a 503 while a first computation is still running.
COMPUTING_RETRY_AFTER_SECONDS = 5

PERIODS = ("daily", "weekly", "monthly", "yearly")
DEFAULT_PERIOD = "monthly"
REPORT_FORMATS = ("csv", "pdf")


@dataclass(frozen=True, slots=True)
class AnalyticsSettings:
    max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AnalyticsSettings:
        def number(name: str, default: float) -> float:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number, not {raw!r}") from None
            if value < 0:
                raise ValueError(f"{name} must not be negative")
            return value

        return cls(
            max_age_seconds=int(number("ANALYTICS_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS)),
            wait_seconds=number("ANALYTICS_WAIT_SECONDS", DEFAULT_WAIT_SECONDS),
            retry_after_seconds=max(
                1, int(number("ANALYTICS_RETRY_AFTER_SECONDS", DEFAULT_RETRY_AFTER_SECONDS))
            ),
        )


_settings: AnalyticsSettings | None = None


def settings() -> AnalyticsSettings:
    """The process's analytics settings, read from the environment once."""
    global _settings  # one settings object per process, read lazily
    if _settings is None:
        _settings = AnalyticsSettings.from_env(os.environ)
    return _settings


class AnalyticsUnavailableError(DomainError):
    """No snapshot to answer with and no refresh finished in time (503)."""

    default_message = "Analytics are temporarily unavailable"

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AnalyticsFailedError(DomainError):
    """No snapshot to answer with and the refresh failed (500 with the route's message)."""


@dataclass(frozen=True, slots=True)
class Admission:
    """May a refresh be enqueued and waited for; if not, when to come back."""

    allowed: bool
    retry_after: int = 0


class Waiter(Protocol):
    """What the answer needs from the edge's job runtime (`edge.jobs`, adapted by the route)."""

    async def admit(self) -> Admission:
        """Whether workers can take a refresh now (the circuit breaker's decision)."""
        ...

    async def wait(self, job_id: str, seconds: float) -> str | None:
        """The job's final status (`succeeded`, `dead`), or None when `seconds` pass first."""
        ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A stored report: its JSON text (sent as it is) and when it was computed."""

    data_json: str
    computed_at: datetime

    def data(self) -> Any:
        return json.loads(self.data_json)


@dataclass(frozen=True, slots=True)
class Answer:
    snapshot: Snapshot
    stale: bool


_READ_SQL = (
    "SELECT data::text AS data, computed_at FROM analytics_snapshots WHERE kind = $1 AND scope = $2"
)


async def read_snapshot(kind: str, scope: str = "") -> Snapshot | None:
    """The stored snapshot of (kind, scope), or None."""
    rows = await connections.get("default").execute_query_dict(_READ_SQL, [kind, scope])
    if not rows:
        return None
    computed_at: datetime = rows[0]["computed_at"]
    return Snapshot(data_json=rows[0]["data"], computed_at=computed_at.astimezone(UTC))


def refresh_key(kind: str, scope: str, now: datetime, seen: datetime | None = None) -> str:
    """One refresh job per kind, scope, minute and snapshot seen: a burst of requests waits on
    the same job. With the snapshot in the key, a request never joins a refresh that finished
    before that snapshot was stored (it would answer the old snapshot as if refreshed)."""
    version = f"{seen.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}" if seen is not None else "none"
    return f"analytics:refresh:{kind}:{scope}:{now.astimezone(UTC):%Y-%m-%dT%H:%MZ}:{version}"


async def request_refresh(
    kind: str,
    scope: str,
    *,
    requester: Requester,
    seen: datetime | None = None,
    now: datetime | None = None,
) -> str:
    """Enqueues (or joins) the refresh of (kind, scope) for the snapshot `seen` (its
    `computed_at`, None when there is none); returns the job id."""
    moment = now or datetime.now(UTC)
    async with in_transaction() as conn:
        job = await enqueue(
            RefreshAnalyticsSnapshot(kind=kind, scope=scope),
            using_db=conn,
            requested_by=requester,
            idempotency_key=refresh_key(kind, scope, moment, seen),
        )
    return str(job.id)


async def answer(
    kind: str,
    scope: str = "",
    *,
    requester: Requester,
    waiter: Waiter | None,
    config: AnalyticsSettings | None = None,
    now: datetime | None = None,
) -> Answer:
    """The report (kind, scope): fresh, refreshed within the deadline, or stale (module doc).

    Raises `AnalyticsUnavailableError` or `AnalyticsFailedError` when there is nothing to send.
    """
    config = config or settings()
    moment = now or datetime.now(UTC)
    snapshot = await read_snapshot(kind, scope)
    if snapshot is not None and moment - snapshot.computed_at <= timedelta(
        seconds=config.max_age_seconds
    ):
        return Answer(snapshot, stale=False)
    admission = await waiter.admit() if waiter is not None else Admission(False)
    if waiter is None or not admission.allowed:
        if snapshot is not None:
            return Answer(snapshot, stale=True)
        raise AnalyticsUnavailableError(
            retry_after=admission.retry_after or config.retry_after_seconds
        )
    try:
        seen = snapshot.computed_at if snapshot is not None else None
        job_id = await request_refresh(kind, scope, requester=requester, seen=seen, now=moment)
        status = await waiter.wait(job_id, config.wait_seconds)
    except Exception:
        # The refresh is an improvement, not a requirement: whatever broke while asking for it
        # (e.g. a lost connection), the stored snapshot is still an answer.
        log.exception("analytics refresh of %s %r could not be awaited", kind, scope)
        status = None
    if status == "succeeded":
        refreshed = await read_snapshot(kind, scope)
        if refreshed is not None:
            return Answer(refreshed, stale=False)
    if snapshot is not None:
        return Answer(snapshot, stale=True)
    if status == "dead":
        raise AnalyticsFailedError()
    raise AnalyticsUnavailableError(
        "Analytics are being computed; try again shortly",
        retry_after=COMPUTING_RETRY_AFTER_SECONDS,
    )


@dataclass(frozen=True, slots=True)
class ReportFile:
    path: Path
    content_type: str
    file_name: str


#: Storage keys of analytics report files (`actors/analytics/files.py` writes them).
REPORTS_PREFIX = "reports/analytics/"


async def report_file(file_id: str) -> ReportFile | None:
    """A stored analytics report by file id, or None (other stored files are not served)."""
    from edge.storage import StorageError, default_storage
    from models.files import StoredFile

    stored = await StoredFile.get_or_none(id=file_id)
    if stored is None or not stored.storage_key.startswith(REPORTS_PREFIX):
        return None
    storage = default_storage()
    if not await storage.exists(stored.storage_key):
        return None
    try:
        path = storage.local_path(stored.storage_key)
    except StorageError:
        return None
    name = stored.original_name or Path(stored.storage_key).name
    return ReportFile(path=path, content_type=stored.content_type, file_name=name)


async def request_report(file_format: str, *, requester: Requester) -> tuple[str, str]:
    """Enqueues a dashboard download (`csv` or `pdf`); returns (job id, job status)."""
    async with in_transaction() as conn:
        job = await enqueue(
            RenderAnalyticsReport(file_format=file_format), using_db=conn, requested_by=requester
        )
    return str(job.id), str(job.status)


# -- time report query (spec §3) -------------------------------------------------------------------

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class TimeQuery:
    period: str
    start: datetime | None
    end: datetime | None

    def scope(self) -> str:
        """The snapshot scope (`actors.analytics.windows.time_scope` writes the same)."""
        parts = [f"period={self.period}"]
        if self.start is not None:
            parts.append(f"from={_iso(self.start)}")
        if self.end is not None:
            parts.append(f"to={_iso(self.end)}")
        return "&".join(parts)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds") + "Z"


def parse_instant(text: str, *, end_of_day: bool) -> datetime | None:
    """Naive UTC instant (ms precision) of an ISO date-time with `Z` or an offset, or of a date
    (its first millisecond, or its last with `end_of_day`); None when it is neither."""
    text = text.strip()
    if _DATE_ONLY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        clock = time(23, 59, 59, 999_000) if end_of_day else time(0, 0)
        return datetime.combine(day, clock)
    if not _DATETIME.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def parse_time_query(args: Mapping[str, str], *, now: datetime | None = None) -> TimeQuery:
    """`period`, `from`, `to` of `GET /analytics/reports/time`; raises `QueryIssue` lists."""
    issues: list[dict[str, Any]] = []
    period = args.get("period", DEFAULT_PERIOD)
    if period not in PERIODS:
        options = " | ".join(f"'{p}'" for p in PERIODS)
        issues.append(
            {
                "code": "invalid_enum_value",
                "options": list(PERIODS),
                "received": period,
                "path": ["period"],
                "message": f"Invalid enum value. Expected {options}, received '{period}'",
            }
        )
    bounds: dict[str, datetime | None] = {}
    for name, end_of_day in (("from", False), ("to", True)):
        raw = args.get(name)
        bounds[name] = None
        if raw is None or raw == "":
            continue
        parsed = parse_instant(raw, end_of_day=end_of_day)
        if parsed is None:
            issues.append(
                {
                    "code": "invalid_string",
                    "validation": "datetime",
                    "path": [name],
                    "message": "Invalid datetime",
                }
            )
        bounds[name] = parsed
    start, end = bounds["from"], bounds["to"]
    if not issues and start is not None:
        effective_end = end or (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        if start > effective_end:
            issues.append(
                {"code": "custom", "path": ["from"], "message": "from must not be after to"}
            )
    if issues:
        raise QueryIssues(issues)
    return TimeQuery(period=period, start=start, end=end)


class QueryIssues(ValueError):  # noqa: N818 - carries the issues to the route's 400
    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(i["message"]) for i in issues))
        self.issues = issues
