"""Time-report windows and snapshot scopes (spec/analytics.md §3): pure functions, UTC only.

A time report's snapshot scope is its canonical query, `period=<p>[&from=<ISO>][&to=<ISO>]`,
with instants as `YYYY-MM-DDTHH:MM:SS.mmmZ`. The edge writes it from the request (after parsing
date-only and offset forms); a missing `from`/`to` stays missing, so the defaults (`to` = now,
`from` = `to` minus the period's span) are taken when the snapshot is computed.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from actors.analytics.queries import Window

PERIODS = ("daily", "weekly", "monthly", "yearly")
DEFAULT_PERIOD = "monthly"

#: Scopes of the time report kept fresh by the scheduled refresh: each period's default window.
DEFAULT_TIME_SCOPES = tuple(f"period={period}" for period in PERIODS)


class ScopeError(ValueError):
    """A snapshot scope that no request could have produced."""


def iso(moment: datetime) -> str:
    """Naive UTC (or aware) -> `2025-07-29T16:38:17.123Z`."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def time_scope(period: str, start: datetime | None = None, end: datetime | None = None) -> str:
    """The canonical scope of a time report request."""
    parts = [f"period={period}"]
    if start is not None:
        parts.append(f"from={iso(start)}")
    if end is not None:
        parts.append(f"to={iso(end)}")
    return "&".join(parts)


def parse_time_scope(scope: str) -> tuple[str, datetime | None, datetime | None]:
    """`(period, from, to)` of a scope written by `time_scope` (naive UTC instants)."""
    try:
        fields = dict(parse_qsl(scope, strict_parsing=True))
    except ValueError:
        raise ScopeError(f"malformed time report scope {scope!r}") from None
    period = fields.pop("period", DEFAULT_PERIOD)
    start, end = fields.pop("from", None), fields.pop("to", None)
    if period not in PERIODS or fields:
        raise ScopeError(f"unknown time report scope {scope!r}")
    return period, _instant(start), _instant(end)


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ScopeError(f"malformed instant {text!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def minus_months(moment: datetime, months: int) -> datetime:
    """Calendar months back, the day clamped to the target month's length (31 Mar -> 28 Feb)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def default_start(period: str, end: datetime) -> datetime:
    """`to` minus 30 days (daily), 84 days (weekly), 12 months (monthly) or 5 years (yearly)."""
    if period == "daily":
        return end - timedelta(days=30)
    if period == "weekly":
        return end - timedelta(days=84)
    if period == "monthly":
        return minus_months(end, 12)
    return minus_months(end, 60)


def resolve(scope: str, now: datetime) -> Window:
    """The effective window of a time scope at `now` (naive UTC)."""
    period, start, end = parse_time_scope(scope)
    end = end if end is not None else now
    start = start if start is not None else default_start(period, end)
    return Window(period=period, start=start, end=end)
