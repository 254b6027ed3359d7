"""Matching configuration: the seven `batchConfig` knobs, their WAITLIST_* variables and overrides.

A run's configuration is resolved key by key (spec/README.md decision 3, matching.md §2):
the trigger request's overrides, else the stored overrides (`PUT /admin/config/matching`), else
the environment, else the defaults. `MatchingConfig.resolve` applies exactly that order.

Environment values are parsed strictly (D-MAT-21): integers are base-10 digits, booleans are
`true`/`false` (any case); an empty variable counts as unset. Anything else, or a value out of
bounds, raises `MatchingConfigError` naming the variable, so the worker stops at start-up instead
of silently disabling matching as the reference did with `NaN` or `0`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final

__all__ = [
    "KNOBS",
    "Knob",
    "MatchingConfig",
    "MatchingConfigError",
    "MatchingSchedule",
]

logger = logging.getLogger(__name__)

#: The deprecated spelling of WAITLIST_DEMOGRAPHIC_TARGETING (D-MAT-9), read only when the
#: new name is unset.
DEPRECATED_DEMOGRAPHICS_ENV: Final = "WAITLIST_DEMOGRAPHICS"


class MatchingConfigError(ValueError):
    """One or more configuration values are malformed or out of bounds.

    `problems` lists one sentence per bad value, each naming the variable or key.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems: tuple[str, ...] = tuple(problems)


@dataclass(frozen=True, slots=True)
class Knob:
    """One configuration knob: its `batchConfig`/API key, attribute, variable and bounds."""

    key: str
    attr: str
    env: str
    default: int | bool
    low: int | None = None
    high: int | None = None

    @property
    def is_bool(self) -> bool:
        return isinstance(self.default, bool)

    def describe(self) -> str:
        if self.is_bool:
            return "a boolean (true or false)"
        return f"an integer between {self.low} and {self.high}"


#: Every knob of matching.md §2, in `batchConfig` order.
KNOBS: Final[tuple[Knob, ...]] = (
    Knob(
        "patientsPerScreeningType", "patients_per_screening_type", "WAITLIST_BATCH_SIZE", 50, 1, 100
    ),
    Knob("maxTotalPatients", "max_total_patients", "WAITLIST_MAX_TOTAL", 500, 1, 1000),
    Knob("enableParallelProcessing", "enable_parallel_processing", "WAITLIST_PARALLEL", False),
    Knob(
        "maxConcurrentScreeningTypes",
        "max_concurrent_screening_types",
        "WAITLIST_CONCURRENT",
        5,
        1,
        10,
    ),
    Knob(
        "enableDemographicTargeting",
        "enable_demographic_targeting",
        "WAITLIST_DEMOGRAPHIC_TARGETING",
        True,
    ),
    Knob(
        "enableGeographicTargeting",
        "enable_geographic_targeting",
        "WAITLIST_GEOGRAPHIC_TARGETING",
        True,
    ),
    Knob("allocationExpiryDays", "allocation_expiry_days", "WAITLIST_EXPIRY_DAYS", 30, 1, 365),
)

_BY_KEY: Final = {knob.key: knob for knob in KNOBS}


def _check_value(knob: Knob, value: object) -> str | None:
    """Return a problem sentence (without the name) when `value` does not fit `knob`."""
    if knob.is_bool:
        return None if isinstance(value, bool) else f"must be {knob.describe()}, got {value!r}"
    # bool is an int subclass: `True` is not a batch size.
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be {knob.describe()}, got {value!r}"
    if knob.low is None or knob.high is None or not knob.low <= value <= knob.high:
        return f"must be {knob.describe()}, got {value}"
    return None


def _parse_env(knob: Knob, raw: str) -> int | bool:
    text = raw.strip()
    if knob.is_bool:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError(f"{knob.env} must be {knob.describe()}, got {raw!r}")
    digits = text[1:] if text[:1] == "+" else text
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"{knob.env} must be {knob.describe()}, got {raw!r}")
    value = int(digits)
    problem = _check_value(knob, value)
    if problem is not None:
        raise ValueError(f"{knob.env} {problem}")
    return value


def _coerce_override(knob: Knob, value: object) -> int | bool:
    """JSON numbers may arrive as 50.0; accept integral floats for integer knobs."""
    if not knob.is_bool and isinstance(value, float) and value.is_integer():
        value = int(value)
    problem = _check_value(knob, value)
    if problem is not None:
        raise ValueError(f"{knob.key} {problem}")
    assert isinstance(value, int)  # bool is an int too
    return value


@dataclass(frozen=True, slots=True)
class MatchingConfig:
    """The effective configuration of one matching run (what `batchConfig` records).

    `enable_parallel_processing` and `max_concurrent_screening_types` are validated and recorded
    but never change a decision (matching.md §9). The per-patient limit of 3 active allocations
    is a constant of the algorithm, not a knob.
    """

    patients_per_screening_type: int = 50
    max_total_patients: int = 500
    enable_parallel_processing: bool = False
    max_concurrent_screening_types: int = 5
    enable_demographic_targeting: bool = True
    enable_geographic_targeting: bool = True
    allocation_expiry_days: int = 30

    def __post_init__(self) -> None:
        problems = []
        for knob in KNOBS:
            problem = _check_value(knob, getattr(self, knob.attr))
            if problem is not None:
                problems.append(f"{knob.key} {problem}")
        if problems:
            raise MatchingConfigError(problems)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MatchingConfig:
        """Environment over defaults; raises `MatchingConfigError` naming every bad variable."""
        env = os.environ if environ is None else environ
        values: dict[str, int | bool] = {}
        problems: list[str] = []
        for knob in KNOBS:
            raw = env.get(knob.env)
            name = knob.env
            if knob.env == "WAITLIST_DEMOGRAPHIC_TARGETING" and not (raw or "").strip():
                legacy = env.get(DEPRECATED_DEMOGRAPHICS_ENV)
                if legacy is not None and legacy.strip():
                    logger.warning(
                        "%s is deprecated; set %s instead",
                        DEPRECATED_DEMOGRAPHICS_ENV,
                        knob.env,
                    )
                    raw, name = legacy, DEPRECATED_DEMOGRAPHICS_ENV
            if raw is None or not raw.strip():
                continue
            try:
                values[knob.attr] = _parse_env(knob, raw)
            except ValueError as exc:
                message = str(exc)
                if name != knob.env:
                    message = message.replace(knob.env, name, 1)
                problems.append(message)
        if problems:
            raise MatchingConfigError(problems)
        return cls(**values)  # type: ignore[arg-type]

    def with_overrides(
        self, overrides: Mapping[str, object] | None, *, source: str = "override"
    ) -> MatchingConfig:
        """Lay `overrides` (camelCase `batchConfig` keys) over this configuration.

        A key whose value is None is not overridden. Unknown keys, wrong types and values out
        of bounds raise `MatchingConfigError` with sentences prefixed by `source`.
        """
        if not overrides:
            return self
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        problems = []
        for key, value in overrides.items():
            knob = _BY_KEY.get(key)
            if knob is None:
                problems.append(f"{source}: unknown key {key!r}")
                continue
            if value is None:
                continue
            try:
                values[knob.attr] = _coerce_override(knob, value)
            except ValueError as exc:
                problems.append(f"{source}: {exc}")
        if problems:
            raise MatchingConfigError(problems)
        return MatchingConfig(**values)

    @classmethod
    def resolve(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        stored: Mapping[str, object] | None = None,
        request: Mapping[str, object] | None = None,
    ) -> MatchingConfig:
        """request > stored > environment > defaults, key by key (spec/README.md decision 3)."""
        return (
            cls.from_env(environ)
            .with_overrides(stored, source="stored override")
            .with_overrides(request, source="request")
        )

    def batch_config(self) -> dict[str, int | bool]:
        """The seven effective keys as `MatchingExecution.batchConfig` stores them."""
        return {knob.key: getattr(self, knob.attr) for knob in KNOBS}


#: WAITLIST_MATCHING_INTERVAL_HOURS (scheduled-jobs.md §4.1): scheduling, not part of
#: `batchConfig` and not overridable.
INTERVAL_KNOB: Final = Knob(
    "intervalHours", "interval_hours", "WAITLIST_MATCHING_INTERVAL_HOURS", 18, 1, 168
)


@dataclass(frozen=True, slots=True)
class MatchingSchedule:
    """How often the scheduler starts a run when nothing else has (default every 18 h)."""

    interval_hours: int = 18

    def __post_init__(self) -> None:
        problem = _check_value(INTERVAL_KNOB, self.interval_hours)
        if problem is not None:
            raise MatchingConfigError([f"{INTERVAL_KNOB.key} {problem}"])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MatchingSchedule:
        env = os.environ if environ is None else environ
        raw = env.get(INTERVAL_KNOB.env)
        if raw is None or not raw.strip():
            return cls()
        try:
            hours = _parse_env(INTERVAL_KNOB, raw)
        except ValueError as exc:
            raise MatchingConfigError([str(exc)]) from None
        assert isinstance(hours, int)
        return cls(interval_hours=hours)
