"""Analytics snapshots: compute reports and upsert them into `analytics_snapshots`.

A refresh runs in one transaction: the session settings the report SQL needs, the update of
the analytics rollups (`rollups.bring_up_to_date`: only the keys changed since the last
refresh, or a full rebuild), one statement computing every requested report from them
(`queries.statement`), and one upsert of all its snapshots with the same
`computed_at` (the instant the data describes) and `duration_ms` (how long the computation
took). A refresh never replaces a snapshot with an older one, so a slow refresh that
finishes after a faster, later one leaves the newer data in place.

Kinds and scopes (the edge reads them back by the same names):

| kind | scope | data |
|---|---|---|
| `dashboard` | `""` | `TDashboardMetrics` (§2) |
| `time` | `period=<p>[&from=..][&to=..]` (`windows.time_scope`) | `TTimeBasedReport` (§3) |
| `geographic` | `""` | `TGeographicReport` (§4) |
| `centers` | `""` | every centre's `TCenterPerformanceReport` (§5); the edge filters by id |
| `campaigns` | `""` | every campaign's `TCampaignAnalytics` (§6) |
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from actors.analytics import queries, rollups, windows
from actors.analytics.queries import KINDS

#: Session settings of a refresh transaction. A rollup rebuild hash-joins and groups whole
#: tables: enough memory keeps those in RAM; JIT compilation costs more than it saves on
#: queries that run once; custom plans let the planner see the window bounds (asyncpg prepares
#: statements).
REFRESH_SETTINGS = (
    "SET LOCAL work_mem = '64MB'",
    "SET LOCAL jit = off",
    "SET LOCAL plan_cache_mode = force_custom_plan",
    "SET LOCAL statement_timeout = '120s'",
)

_UPSERT_SQL = """
INSERT INTO analytics_snapshots AS s (kind, scope, data, computed_at, duration_ms)
SELECT t.kind, t.scope, t.data::jsonb, $4::timestamptz, $5::int
FROM unnest($1::text[], $2::text[], $3::text[]) AS t(kind, scope, data)
ON CONFLICT (kind, scope) DO UPDATE
SET data = EXCLUDED.data, computed_at = EXCLUDED.computed_at, duration_ms = EXCLUDED.duration_ms
WHERE s.computed_at <= EXCLUDED.computed_at
"""


#: Time reports of custom windows are computed on request; one not refreshed for this long is
#: dropped by the next full refresh, so that arbitrary windows do not pile up.
CUSTOM_SCOPE_RETENTION = timedelta(days=1)

_PRUNE_SQL = """
DELETE FROM analytics_snapshots
WHERE kind = 'time' AND scope <> ALL($1::text[]) AND computed_at < $2::timestamptz
"""


class UnknownKindError(ValueError):
    """A refresh was asked for a report kind or scope that does not exist."""


@dataclass(frozen=True, slots=True)
class Refreshed:
    """What one refresh stored: the (kind, scope) pairs, their data, when and how fast."""

    snapshots: tuple[tuple[str, str], ...]
    computed_at: datetime
    duration_ms: int
    data: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    #: `"updated"` (only changed rollup keys recomputed) or `"rebuilt"` (`rollups.py`).
    rollup_update: str = "updated"

    def summary(self) -> dict[str, Any]:
        """The job result: JSON-ready."""
        return {
            "snapshots": [{"kind": kind, "scope": scope} for kind, scope in self.snapshots],
            "computedAt": windows.iso(self.computed_at),
            "durationMs": self.duration_ms,
        }


def targets(kind: str | None, scope: str = "") -> list[tuple[str, str]]:
    """The (kind, scope) pairs a refresh computes: every kind with the default time scopes when
    `kind` is None; the default time scopes for `time` without a scope."""
    if kind is None:
        return [
            (k, s) for k in KINDS for s in (windows.DEFAULT_TIME_SCOPES if k == "time" else ("",))
        ]
    if kind not in KINDS:
        raise UnknownKindError(f"unknown analytics kind {kind!r}")
    if kind == "time":
        if not scope:
            return [(kind, s) for s in windows.DEFAULT_TIME_SCOPES]
        try:
            windows.parse_time_scope(scope)
        except windows.ScopeError as error:
            raise UnknownKindError(str(error)) from None
        return [(kind, scope)]
    if scope:
        raise UnknownKindError(f"analytics kind {kind!r} has no scope {scope!r}")
    return [(kind, "")]


async def refresh(
    kind: str | None = None,
    scope: str = "",
    *,
    now: datetime | None = None,
    rebuild: bool = False,
) -> Refreshed:
    """Computes and stores the snapshots of `targets(kind, scope)` in one transaction.

    `now` (aware or naive UTC; default: the current time) is the instant the reports describe
    and the snapshots' `computed_at`. A full refresh (`kind` None) then drops the time reports
    of custom windows nobody asked for within `CUSTOM_SCOPE_RETENTION`. Raises
    `UnknownKindError` for an unknown kind or scope. `rebuild` rebuilds the analytics rollups
    from the base tables instead of recomputing only what changed (`rollups.py`).
    """
    return await refresh_targets(targets(kind, scope), now=now, prune=kind is None, rebuild=rebuild)


async def refresh_targets(
    pairs: list[tuple[str, str]],
    *,
    now: datetime | None = None,
    prune: bool = False,
    rebuild: bool = False,
) -> Refreshed:
    """Computes and stores the snapshots of (kind, scope) `pairs` (see `targets`); with
    `prune`, also drops the custom-window time reports older than `CUSTOM_SCOPE_RETENTION`;
    with `rebuild`, rebuilds the rollups first."""
    moment = now or datetime.now(UTC)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    naive_now = moment.replace(tzinfo=None)
    kinds = list(dict.fromkeys(k for k, _ in pairs))
    spans = [windows.resolve(s, naive_now) for k, s in pairs if k == "time"]
    async with in_transaction() as conn:
        for setting in REFRESH_SETTINGS:
            await conn.execute_script(setting)
        started = time.perf_counter()
        rollup_update = await rollups.bring_up_to_date(conn, rebuild=rebuild)
        reports = await queries.compute(
            conn, kinds, now=naive_now, windows=spans, rollups_current=True
        )
        duration_ms = round((time.perf_counter() - started) * 1000)
        data = _snapshot_data(pairs, reports, spans)
        await conn.execute_query(
            _UPSERT_SQL,
            [
                [k for k, _ in pairs],
                [s for _, s in pairs],
                [json.dumps(d, separators=(",", ":")) for d in data],
                moment,
                duration_ms,
            ],
        )
        if prune:
            await conn.execute_query(
                _PRUNE_SQL, [list(windows.DEFAULT_TIME_SCOPES), moment - CUSTOM_SCOPE_RETENTION]
            )
    return Refreshed(
        snapshots=tuple(pairs),
        computed_at=moment,
        duration_ms=duration_ms,
        data=dict(zip(pairs, data, strict=True)),
        rollup_update=rollup_update,
    )


def _snapshot_data(
    pairs: list[tuple[str, str]], reports: dict[str, Any], spans: list[queries.Window]
) -> list[Any]:
    """Each pair's data; time reports get the `period` and `dateRange` echo (spec §3)."""
    data: list[Any] = []
    time_reports = iter(zip(reports.get("time", []), spans, strict=True))
    for kind, _ in pairs:
        if kind != "time":
            data.append(reports[kind])
            continue
        report, span = next(time_reports)
        data.append(
            {
                "period": span.period,
                "dateRange": {"from": windows.iso(span.start), "to": windows.iso(span.end)},
                **report,
            }
        )
    return data
