"""Appointment times (appointments.md §1): Africa/Lagos days, the bookable window, WAT text.

"Day" rules use Africa/Lagos (UTC+01:00, no daylight saving); times are stored naive UTC.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta

from models.base import utc_now

#: Offset of Africa/Lagos from UTC (fixed: West Africa Time has no daylight saving).
LAGOS_OFFSET = timedelta(hours=1)
#: Furthest ahead a booking or reschedule may be placed.
MAX_BOOKING_AHEAD = timedelta(days=365)


def lagos_date(moment: datetime) -> date:
    """The Africa/Lagos calendar date of a naive-UTC moment."""
    return (moment + LAGOS_OFFSET).date()


def end_of_lagos_day(moment: datetime) -> datetime:
    """Last millisecond of the moment's Lagos day, in naive UTC (`D 22:59:59.999Z`)."""
    return datetime.combine(lagos_date(moment), time(23, 59, 59, 999000)) - LAGOS_OFFSET


def wat_text(moment: datetime) -> str:
    """`D MMMM YYYY, HH:mm` in Lagos time (notification copy)."""
    local = moment + LAGOS_OFFSET
    # calendar.month_name follows LC_TIME; the edge never calls locale.setlocale: English.
    return f"{local.day} {calendar.month_name[local.month]} {local.year}, {local:%H:%M}"


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def parse_date_time(text: str) -> datetime | None:
    """An ISO-8601 date-time as naive UTC (ms); no offset means UTC. None when not one."""
    text = text.strip()
    if not _DATE_TIME.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def bookable_time(text: str, now: datetime | None = None) -> datetime | None:
    """A valid appointment time: ISO date-time, not in the past, at most 365 days ahead."""
    moment = parse_date_time(text)
    if moment is None:
        return None
    now = now or utc_now()
    if moment < now or moment > now + MAX_BOOKING_AHEAD:
        return None
    return moment
