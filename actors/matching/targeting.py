"""Targeting values (spec/matching.md §7.2): patient age, campaign age ranges, place names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from actors.matching.inputs import Patient
from actors.matching.units import utc_date


def age_on(born: date, today: date) -> int:
    """Whole years between two UTC calendar dates (§7.2); 0 is a real age."""
    born, today = utc_date(born), utc_date(today)
    years = today.year - born.year
    if (today.month, today.day) < (born.month, born.day):
        years -= 1
    return years


_LEADING_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def _read_number(text: str) -> float | None:
    found = _LEADING_NUMBER.match(text.strip())
    return float(found.group()) if found else None


def parse_age_range(text: str) -> tuple[float, float]:
    """`"min-max"` -> inclusive bounds (§7.2): split on `-`, first two parts, trimmed, read as
    decimal numbers (a leading number, as JavaScript's parseFloat reads); a missing or
    unreadable min is 0, max 999. 0 is a real bound (D-MAT-17)."""
    parts = text.split("-")
    low = _read_number(parts[0])
    high = _read_number(parts[1]) if len(parts) > 1 else None
    return (0.0 if low is None else low, 999.0 if high is None else high)


def norm(text: str | None) -> str | None:
    """State, LGA and gender compare trimmed and case-insensitively (§7.2); blank is unknown."""
    if text is None:
        return None
    return text.strip().casefold() or None


def norm_set(values: Sequence[str]) -> frozenset[str]:
    return frozenset(n for n in map(norm, values) if n is not None)


class Person:
    """Targeting values of a patient at T0 (§7.2)."""

    __slots__ = ("age", "gender", "lga", "state")

    def __init__(self, patient: Patient | None, today: date) -> None:
        if patient is None:
            self.age: int | None = None
            self.gender: str | None = None
            self.state: str | None = None
            self.lga: str | None = None
            return
        born = patient.date_of_birth
        self.age = None if born is None else age_on(born, today)
        self.gender = norm(patient.gender)
        self.state = norm(patient.state)
        self.lga = norm(patient.lga)
