"""The units every matching module computes in: integer kobo and naive-UTC datetimes.

Money is integer kobo (naira x 100) in every matching dataclass; the fields end in `_kobo`. The
database stores naira as double precision: `to_kobo` reads a stored float through its shortest
decimal form, rounded half away from zero to 2 places, and `kobo_to_float` gives the nearest
double back for writing. Integer sums are exact, which is matching.md §1's 2-decimal arithmetic
(D-MAT-20) without Decimal's cost: conservation holds to the kobo.

Datetimes are naive UTC (as `models.base.utc_now` gives) or aware; `now`, campaign dates and
matched-at times are normalised to naive UTC.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal


def to_kobo(naira: float | int | Decimal | str) -> int:
    """Naira -> whole kobo, rounded half away from zero (a float is read as its shortest repr)."""
    if isinstance(naira, bool):
        raise TypeError("an amount cannot be a bool")
    if isinstance(naira, float):
        if not math.isfinite(naira):
            raise ValueError(f"amount must be finite, got {naira!r}")
        exact = Decimal(repr(naira))
    else:
        exact = Decimal(naira)
        if not exact.is_finite():
            raise ValueError(f"amount must be finite, got {naira!r}")
    return int((exact * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def kobo_to_naira(kobo: int) -> Decimal:
    """Exact naira with 2 decimal places."""
    return Decimal(kobo).scaleb(-2)


def kobo_to_float(kobo: int) -> float:
    """The double closest to the exact naira amount (what the double precision columns hold)."""
    return kobo / 100


def naira_text(kobo: int) -> str:
    return f"{kobo_to_naira(kobo):.2f}"


def utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def utc_date(day: date) -> date:
    if isinstance(day, datetime):
        return utc_naive(day).date()
    return day


def iso(moment: datetime) -> str:
    """ISO 8601 as JavaScript's toISOString writes it: 2025-09-01T12:00:00.000Z."""
    return utc_naive(moment).isoformat(timespec="milliseconds") + "Z"
