"""Date filters of list endpoints: ISO dates or date-times, inclusive bounds (D-ADM-8, D-PAY-12).

A date-only upper bound (`2025-07-31`) covers that whole UTC day; a value that does not parse
is a 400 naming the query parameter.
"""

from __future__ import annotations

import datetime as dt
import re

from edge.errors import ValidationFailed

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_bound(value: str | None, field: str, *, end: bool = False) -> dt.datetime | None:
    """Naive UTC bound for a `TIMESTAMP(3)` column, or None when not given."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if _DATE_ONLY.match(text):
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day, dt.time())
            return start + dt.timedelta(days=1, milliseconds=-1) if end else start
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed.issue([field], "Invalid date", "invalid_date") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment
