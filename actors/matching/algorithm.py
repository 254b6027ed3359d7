"""Waitlist matching decisions (spec/matching.md §4-§10) on plain frozen dataclasses.

Pure: no ORM, no I/O, no clock (the run time T0 is the `now` parameter) and no randomness
(allocation ids come from the `new_id` parameter).

Money is integer kobo (naira x 100) in every dataclass here; the fields end in `_kobo`. The
database stores naira as double precision: `to_kobo` reads a stored float through its shortest
decimal form, rounded half away from zero to 2 places, and `kobo_to_float` gives the nearest
double back for writing. Integer sums are exact, which is matching.md §1's 2-decimal arithmetic
(D-MAT-20) without Decimal's cost: conservation holds to the kobo.

Datetimes are naive UTC (as `models.base.utc_now` gives) or aware; `now`, campaign dates and
matched-at times are normalised to naive UTC. Pending entries' `joined_at` are only compared with
each other, so they must all be naive or all aware.

Two ways in:
- `decide(inputs, config, now)`: every proposed expiry and match is taken as committed.
- `plan(inputs, config, now)`: the same decisions as a generator, for a store that commits one
  expiry or match per transaction (§4.2, §8.3). It yields each `Expiry` / `Allocation`, must be
  sent an `Outcome` for it (`COMMITTED`, `EntryChanged()`, `CampaignChanged(status, kobo)`,
  `Failed(message)`), and returns the `Decisions` as `StopIteration.value`. The run's remaining
  amounts and active counts change only on `COMMITTED`; after `CampaignChanged` the campaign is
  refreshed and the same candidate is decided again (at most 3 attempts, then no funding).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Final

from actors.matching.config import MatchingConfig

__all__ = [
    "ACTIVE_ALLOCATION_LIMIT",
    "COMMITTED",
    "GENERAL_POOL_ID",
    "Allocation",
    "Campaign",
    "CampaignChanged",
    "Committed",
    "Decisions",
    "EntryChanged",
    "ExecutionMetrics",
    "ExistingAllocation",
    "Expiry",
    "Failed",
    "FundMovement",
    "HeldEntry",
    "LogLine",
    "MatchingInputs",
    "Outcome",
    "Patient",
    "Proposal",
    "ScreeningType",
    "ScreeningTypeResult",
    "Skip",
    "SkipReason",
    "WaitingEntry",
    "age_on",
    "decide",
    "kobo_to_float",
    "kobo_to_naira",
    "parse_age_range",
    "plan",
    "to_kobo",
]

#: The general pool's fixed campaign id (domain-model.md §6.1).
GENERAL_POOL_ID: Final = "general-donor-pool"
#: A run never raises a patient's active allocations above this (a constant, not a knob: §2).
ACTIVE_ALLOCATION_LIMIT: Final = 3
#: Guarded-decrement conflicts tolerated for one candidate before it counts as unfunded (§8.3).
MAX_CAMPAIGN_ATTEMPTS: Final = 3

ACTIVE: Final = "ACTIVE"
DELETED: Final = "DELETED"
MATCHED: Final = "MATCHED"
INFO: Final = "INFO"
WARNING: Final = "WARNING"
ERROR: Final = "ERROR"

#: Targeting score weights (§7.3); the maximum is 70.
AGE_SCORE: Final = 10
GENDER_SCORE: Final = 15
STATE_SCORE: Final = 20
LGA_SCORE: Final = 25

NO_POSITIVE_PRICE: Final = "Screening type has no positive agreedPrice"
NO_FUNDING_REASON: Final = "No suitable campaigns with available funding"
EXPIRY_REASON: Final = "Allocation expired due to inactivity"


# ---------------------------------------------------------------------------------------------
# Money and small value helpers


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


def _naira_text(kobo: int) -> str:
    return f"{kobo_to_naira(kobo):.2f}"


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _utc_date(day: date) -> date:
    if isinstance(day, datetime):
        return _utc_naive(day).date()
    return day


def _iso(moment: datetime) -> str:
    """ISO 8601 as JavaScript's toISOString writes it: 2025-09-01T12:00:00.000Z."""
    return _utc_naive(moment).isoformat(timespec="milliseconds") + "Z"


def age_on(born: date, today: date) -> int:
    """Whole years between two UTC calendar dates (§7.2); 0 is a real age."""
    born, today = _utc_date(born), _utc_date(today)
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


def _norm(text: str | None) -> str | None:
    """State, LGA and gender compare trimmed and case-insensitively (§7.2); blank is unknown."""
    if text is None:
        return None
    return text.strip().casefold() or None


def _norm_set(values: Sequence[str]) -> frozenset[str]:
    return frozenset(n for n in map(_norm, values) if n is not None)


# ---------------------------------------------------------------------------------------------
# Inputs: the snapshot a store loads (§5.2)


@dataclass(frozen=True, slots=True)
class ScreeningType:
    """`ScreeningType.id`, `name` and `agreedPrice` (the amount one match reserves)."""

    id: str
    name: str
    price_kobo: int


@dataclass(frozen=True, slots=True)
class Patient:
    """A patient's `PatientProfile` fields; a patient without a profile may be left out."""

    id: str
    gender: str | None = None
    date_of_birth: date | None = None
    state: str | None = None
    #: `PatientProfile.city`, where registration stores the LGA.
    lga: str | None = None


@dataclass(frozen=True, slots=True)
class Campaign:
    """A `DonationCampaign` row, the general pool included (id `general-donor-pool`).

    Pass every campaign that may fund a match (the filters of §5.2/§7.1 are applied here, so
    an ACTIVE campaign with 0 available must not be dropped: an expiry may refund it) and every
    campaign an expiring allocation points at, whatever its status.
    """

    id: str
    donor_id: str
    title: str
    status: str
    available_kobo: int
    total_kobo: int
    screening_type_ids: frozenset[str]
    created_at: datetime
    target_gender: str | None = None
    target_age_range: str | None = None
    target_states: tuple[str, ...] = ()
    target_lgas: tuple[str, ...] = ()
    expiry_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class WaitingEntry:
    """A `PENDING` waitlist entry."""

    id: str
    patient_id: str
    screening_type_id: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class ExistingAllocation:
    """The `DonationAllocation` of a held entry."""

    id: str
    campaign_id: str
    #: None for legacy rows: an expiry then refunds the type's current price (§4.2).
    amount_allocated_kobo: int | None
    #: `startedAt` of its `matchingExecutionId`; None falls back to the entry's `joinedAt`.
    execution_started_at: datetime | None = None
    claimed_at: datetime | None = None
    appointment_id: str | None = None

    @property
    def unclaimed(self) -> bool:
        return self.claimed_at is None and self.appointment_id is None


@dataclass(frozen=True, slots=True)
class HeldEntry:
    """A non-pending waitlist entry of a patient: only `MATCHED` ones matter (others are ignored).

    `MATCHED` entries give the per-patient active count (those with an unclaimed allocation),
    the existing-match check (§6.2) and the expiry candidates (§4.2).
    """

    id: str
    patient_id: str
    screening_type_id: str
    status: str
    joined_at: datetime
    allocation: ExistingAllocation | None = None


@dataclass(frozen=True, slots=True)
class MatchingInputs:
    """Everything one run decides on. Every screening type a pending or `MATCHED` entry names,
    and the campaign of every expiring allocation, must be present (`ValueError` otherwise)."""

    screening_types: Sequence[ScreeningType]
    campaigns: Sequence[Campaign]
    patients: Sequence[Patient]
    pending: Sequence[WaitingEntry]
    held: Sequence[HeldEntry] = ()


# ---------------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True, slots=True)
class LogLine:
    """A `matching_execution_logs` row without its execution id and timestamp."""

    level: str
    message: str
    context: Mapping[str, object]
    patient_id: str | None = None
    campaign_id: str | None = None
    waitlist_id: str | None = None
    screening_type_id: str | None = None
    allocation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Expiry:
    """Expire one unclaimed match: entry -> `EXPIRED`, refund `amount_kobo` (§4.2).

    `refund_campaign_id` is the allocation's campaign, or the general pool when that campaign
    is `DELETED` (then the pool's `totalAmount` grows too). `log` is the INFO line the store
    writes in the expiry's transaction; it also appears in `Decisions.logs`.
    """

    waitlist_id: str
    allocation_id: str
    patient_id: str
    screening_type_id: str
    screening_type_name: str
    campaign_id: str
    campaign_title: str
    refund_campaign_id: str
    amount_kobo: int
    matched_at: datetime
    allocation_age_days: int
    log: LogLine

    @property
    def refunded_to_pool(self) -> bool:
        return self.refund_campaign_id != self.campaign_id


@dataclass(frozen=True, slots=True)
class Allocation:
    """Match one pending entry to a campaign or the pool for `amount_kobo` (§8.1).

    `log` is the success line written in the match's transaction (also in `Decisions.logs`).
    `campaign_owner_id` is the `PATIENT_MATCHED` recipient; for the pool it is the system user,
    whom notifications.md (D-NOT-4) says not to notify.
    """

    id: str
    waitlist_id: str
    patient_id: str
    screening_type_id: str
    screening_type_name: str
    campaign_id: str
    campaign_title: str
    campaign_owner_id: str
    amount_kobo: int
    is_general_pool: bool
    targeting_score: int
    log: LogLine


class SkipReason(StrEnum):
    ACTIVE_LIMIT = "ACTIVE_LIMIT"
    EXISTING_MATCH = "EXISTING_MATCH"
    NO_FUNDING = "NO_FUNDING"
    ENTRY_CHANGED = "ENTRY_CHANGED"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class Skip:
    """An examined pending entry that stays `PENDING`, and why."""

    waitlist_id: str
    patient_id: str
    screening_type_id: str
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class FundMovement:
    """One campaign's amounts before and after the run, for every campaign the run touched.

    available_after = available_before - allocated + returned + adjusted, where `adjusted` is
    money moved by others and seen through `CampaignChanged` (always 0 under `decide`).
    """

    campaign_id: str
    available_before_kobo: int
    available_after_kobo: int
    total_before_kobo: int
    total_after_kobo: int
    allocated_kobo: int
    returned_kobo: int
    adjusted_kobo: int = 0


@dataclass(frozen=True, slots=True)
class ScreeningTypeResult:
    """One `matching_screening_type_results` row (§10.2), without timings."""

    screening_type_id: str
    screening_type_name: str
    patients_found: int
    patients_selected: int
    patients_processed: int
    matches_created: int
    funds_allocated_kobo: int
    campaigns_used: tuple[str, ...]
    skipped_due_to_limits: int
    skipped_due_to_no_funding: int
    skipped_due_to_existing: int
    general_pool_used: bool
    general_pool_amount_kobo: int
    targeting_matches: int
    targeting_mismatches: int
    error: str | None = None

    def as_columns(self) -> dict[str, object]:
        return {
            "screeningTypeId": self.screening_type_id,
            "screeningTypeName": self.screening_type_name,
            "patientsFound": self.patients_found,
            "patientsProcessed": self.patients_processed,
            "matchesCreated": self.matches_created,
            "fundsAllocated": kobo_to_float(self.funds_allocated_kobo),
            "campaignsUsed": list(self.campaigns_used),
            "skippedDueToLimits": self.skipped_due_to_limits,
            "skippedDueToNoFunding": self.skipped_due_to_no_funding,
            "skippedDueToExisting": self.skipped_due_to_existing,
            "generalPoolUsed": self.general_pool_used,
            "generalPoolAmount": kobo_to_float(self.general_pool_amount_kobo),
            "targetingMatches": self.targeting_matches,
            "targetingMismatches": self.targeting_mismatches,
        }


@dataclass(frozen=True, slots=True)
class ExecutionMetrics:
    """The execution's decision counters (§10.1) plus the expiry phase's totals (§3.2)."""

    screening_types_processed: int
    patients_evaluated: int
    successful_matches: int
    total_funds_allocated_kobo: int
    general_pool_funds_used_kobo: int
    skipped_due_to_limits: int
    skipped_due_to_no_funding: int
    skipped_due_to_existing_match: int
    campaigns_used_count: int
    expired_allocations: int
    funds_returned_from_expiry_kobo: int

    def as_dict(self) -> dict[str, int | float]:
        return {
            "screeningTypesProcessed": self.screening_types_processed,
            "patientsEvaluated": self.patients_evaluated,
            "successfulMatches": self.successful_matches,
            "totalFundsAllocated": kobo_to_float(self.total_funds_allocated_kobo),
            "generalPoolFundsUsed": kobo_to_float(self.general_pool_funds_used_kobo),
            "skippedDueToLimits": self.skipped_due_to_limits,
            "skippedDueToNoFunding": self.skipped_due_to_no_funding,
            "skippedDueToExistingMatch": self.skipped_due_to_existing_match,
            "campaignsUsedCount": self.campaigns_used_count,
            "expiredAllocations": self.expired_allocations,
            "fundsReturnedFromExpiry": kobo_to_float(self.funds_returned_from_expiry_kobo),
        }


@dataclass(frozen=True, slots=True)
class Decisions:
    """What one run decided, in order: expiries first, then allocations (§3.2 step 4)."""

    expiries: tuple[Expiry, ...]
    allocations: tuple[Allocation, ...]
    skips: tuple[Skip, ...]
    screening_types: tuple[ScreeningTypeResult, ...]
    fund_movements: tuple[FundMovement, ...]
    logs: tuple[LogLine, ...]
    #: JSON-ready objects for `MatchingExecution.warnings` / `errors`.
    warnings: tuple[Mapping[str, object], ...]
    errors: tuple[Mapping[str, object], ...]
    metrics: ExecutionMetrics

    @property
    def status(self) -> str:
        """The execution status these decisions alone imply (§10.1)."""
        return "PARTIALLY_COMPLETED" if self.errors else "COMPLETED"


# ---------------------------------------------------------------------------------------------
# Outcomes a store reports for a proposal (plan only)


@dataclass(frozen=True, slots=True)
class Committed:
    """The proposal's transaction committed."""


@dataclass(frozen=True, slots=True)
class EntryChanged:
    """The guarded entry update changed 0 rows (or the allocation insert hit the unique key)."""


@dataclass(frozen=True, slots=True)
class CampaignChanged:
    """A match's guarded campaign decrement changed 0 rows; the campaign as reloaded."""

    status: str
    available_kobo: int


@dataclass(frozen=True, slots=True)
class Failed:
    """Any other error; the transaction was rolled back."""

    message: str


Outcome = Committed | EntryChanged | CampaignChanged | Failed
Proposal = Expiry | Allocation
COMMITTED: Final = Committed()


# ---------------------------------------------------------------------------------------------
# Run state


class _Fund:
    """A campaign's running amounts and its compiled targeting."""

    __slots__ = (
        "adjusted",
        "age_max",
        "age_min",
        "allocated",
        "available_before",
        "campaign",
        "created_at",
        "gender",
        "has_age",
        "id",
        "lgas",
        "n_types",
        "remaining",
        "returned",
        "states",
        "status",
        "total",
        "total_before",
    )

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.id = campaign.id
        self.status = campaign.status
        self.remaining = campaign.available_kobo
        self.available_before = campaign.available_kobo
        self.total = campaign.total_kobo
        self.total_before = campaign.total_kobo
        self.allocated = 0
        self.returned = 0
        self.adjusted = 0
        self.n_types = len(campaign.screening_type_ids)
        self.created_at = _utc_naive(campaign.created_at)
        age_text = (campaign.target_age_range or "").strip()
        self.has_age = bool(age_text)
        self.age_min, self.age_max = parse_age_range(age_text) if age_text else (0.0, 999.0)
        self.gender = _norm(campaign.target_gender)
        self.states = _norm_set(campaign.target_states)
        self.lgas = _norm_set(campaign.target_lgas)

    def touched(self) -> bool:
        return bool(self.allocated or self.returned or self.adjusted)

    def movement(self) -> FundMovement:
        return FundMovement(
            campaign_id=self.id,
            available_before_kobo=self.available_before,
            available_after_kobo=self.remaining,
            total_before_kobo=self.total_before,
            total_after_kobo=self.total,
            allocated_kobo=self.allocated,
            returned_kobo=self.returned,
            adjusted_kobo=self.adjusted,
        )


class _Person:
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
        self.gender = _norm(patient.gender)
        self.state = _norm(patient.state)
        self.lga = _norm(patient.lga)


class _Tally:
    """A screening type's result row while its group runs."""

    __slots__ = (
        "campaigns_used",
        "error",
        "existing",
        "found",
        "funds",
        "limits",
        "matches",
        "mismatches",
        "no_funding",
        "pool_amount",
        "pool_used",
        "selected",
        "targeted",
        "type",
    )

    def __init__(self, screening_type: ScreeningType, found: int) -> None:
        self.type = screening_type
        self.found = found
        self.selected = 0
        self.matches = 0
        self.funds = 0
        self.campaigns_used: dict[str, None] = {}
        self.limits = 0
        self.no_funding = 0
        self.existing = 0
        self.pool_used = False
        self.pool_amount = 0
        self.targeted = 0
        self.mismatches = 0
        self.error: str | None = None

    def result(self) -> ScreeningTypeResult:
        return ScreeningTypeResult(
            screening_type_id=self.type.id,
            screening_type_name=self.type.name,
            patients_found=self.found,
            patients_selected=self.selected,
            patients_processed=self.selected - self.no_funding,
            matches_created=self.matches,
            funds_allocated_kobo=self.funds,
            campaigns_used=tuple(self.campaigns_used),
            skipped_due_to_limits=self.limits,
            skipped_due_to_no_funding=self.no_funding,
            skipped_due_to_existing=self.existing,
            general_pool_used=self.pool_used,
            general_pool_amount_kobo=self.pool_amount,
            targeting_matches=self.targeted,
            targeting_mismatches=self.mismatches,
            error=self.error,
        )


_ENTRY_ORDER = attrgetter("joined_at", "id")


def _expect_outcome(value: object) -> Outcome:
    if isinstance(value, Committed | EntryChanged | CampaignChanged | Failed):
        return value
    raise TypeError(f"send an Outcome for each proposal, got {value!r}")


def _sequential_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"allocation-{next(counter)}"


class _Run:
    def __init__(
        self,
        inputs: MatchingInputs,
        config: MatchingConfig,
        now: datetime,
        new_id: Callable[[], str],
    ) -> None:
        self.config = config
        self.now = _utc_naive(now)
        self.today = self.now.date()
        self.stamp = _iso(self.now)
        self.new_id = new_id
        self.inputs = inputs

        self.types: dict[str, ScreeningType] = {}
        for screening_type in inputs.screening_types:
            if screening_type.id in self.types:
                raise ValueError(f"screening type {screening_type.id!r} given twice")
            self.types[screening_type.id] = screening_type
        self.funds: dict[str, _Fund] = {}
        for campaign in inputs.campaigns:
            if campaign.id in self.funds:
                raise ValueError(f"campaign {campaign.id!r} given twice")
            self.funds[campaign.id] = _Fund(campaign)
        self.pool = self.funds.get(GENERAL_POOL_ID)
        self.patients = {patient.id: patient for patient in inputs.patients}
        self.people: dict[str, _Person] = {}

        # Candidate campaigns per screening type (§5.2, §7.1): status, expiry and pool
        # exclusion are fixed for the run, so they are applied once here.
        self.by_type: dict[str, list[_Fund]] = {}
        for fund in self.funds.values():
            campaign = fund.campaign
            if fund.id == GENERAL_POOL_ID or campaign.status != ACTIVE:
                continue
            if campaign.expiry_date is not None and _utc_naive(campaign.expiry_date) <= self.now:
                continue
            for type_id in campaign.screening_type_ids:
                self.by_type.setdefault(type_id, []).append(fund)

        # Per patient: active allocations and MATCHED entries per screening type (§5.2).
        self.active: dict[str, int] = {}
        self.matched: dict[str, dict[str, int]] = {}
        for held in inputs.held:
            if held.status != MATCHED:
                continue
            per_type = self.matched.setdefault(held.patient_id, {})
            per_type[held.screening_type_id] = per_type.get(held.screening_type_id, 0) + 1
            if held.allocation is not None and held.allocation.unclaimed:
                self.active[held.patient_id] = self.active.get(held.patient_id, 0) + 1

        self.due = self._due_expiries()
        self._check_pending()

        self.expiries: list[Expiry] = []
        self.allocations: list[Allocation] = []
        self.skips: list[Skip] = []
        self.tallies: list[_Tally] = []
        self.logs: list[LogLine] = []
        self.warnings: list[Mapping[str, object]] = []
        self.errors: list[Mapping[str, object]] = []
        self.campaigns_used: dict[str, None] = {}
        self.evaluated = 0
        self.types_processed = 0
        self.matches = 0
        self.allocated = 0
        self.pool_allocated = 0
        self.limits = 0
        self.no_funding = 0
        self.existing = 0
        self.expired = 0
        self.returned = 0
        self.max_total_warned = False

    # -- input checks -------------------------------------------------------------------------

    def _due_expiries(self) -> list[tuple[datetime, HeldEntry, ExistingAllocation]]:
        """Unclaimed matches older than the expiry period, by matched-at then entry id (§4.2)."""
        cutoff = self.now - timedelta(days=self.config.allocation_expiry_days)
        due = []
        problems = []
        for held in self.inputs.held:
            allocation = held.allocation
            if held.status != MATCHED or allocation is None or not allocation.unclaimed:
                continue
            matched_at = _utc_naive(allocation.execution_started_at or held.joined_at)
            if matched_at >= cutoff:
                continue
            if held.screening_type_id not in self.types:
                problems.append(f"screening type {held.screening_type_id!r} of entry {held.id!r}")
            fund = self.funds.get(allocation.campaign_id)
            if fund is None:
                problems.append(f"campaign {allocation.campaign_id!r} of entry {held.id!r}")
            elif fund.status == DELETED and self.pool is None:
                problems.append(f"the general pool (refund of entry {held.id!r})")
            due.append((matched_at, held, allocation))
        if problems:
            raise ValueError("inputs lack " + "; ".join(problems))
        due.sort(key=lambda item: (item[0], item[1].id))
        return due

    def _check_pending(self) -> None:
        pending = self.inputs.pending
        if len({entry.id for entry in pending}) != len(pending):
            seen: set[str] = set()
            for entry in pending:
                if entry.id in seen:
                    raise ValueError(f"pending entry {entry.id!r} given twice")
                seen.add(entry.id)
        missing = {entry.screening_type_id for entry in pending} - self.types.keys()
        if missing:
            raise ValueError(f"inputs lack screening types {sorted(missing)!r} of pending entries")

    # -- shared helpers -----------------------------------------------------------------------

    def _log(
        self,
        level: str,
        message: str,
        context: dict[str, object],
        *,
        allocation_id: str | None = None,
        record: bool = True,
    ) -> LogLine:
        def column(key: str) -> str | None:
            value = context.get(key)
            return value if isinstance(value, str) else None

        line = LogLine(
            level=level,
            message=message,
            context=context,
            patient_id=column("patientId"),
            campaign_id=column("campaignId"),
            waitlist_id=column("waitlistId"),
            screening_type_id=column("screeningTypeId"),
            allocation_id=allocation_id,
        )
        if record:
            self.logs.append(line)
        return line

    def _person(self, patient_id: str) -> _Person:
        person = self.people.get(patient_id)
        if person is None:
            person = _Person(self.patients.get(patient_id), self.today)
            self.people[patient_id] = person
        return person

    # -- phase 1: expiry (§4.2) ---------------------------------------------------------------

    def expire(self) -> Generator[Proposal, Outcome, None]:
        for matched_at, held, allocation in self.due:
            screening_type = self.types[held.screening_type_id]
            fund = self.funds[allocation.campaign_id]
            target = fund
            if fund.status == DELETED:
                assert self.pool is not None
                target = self.pool
            amount = allocation.amount_allocated_kobo
            if amount is None:
                amount = screening_type.price_kobo
            age_days = (self.now - matched_at).days
            context: dict[str, object] = {
                "patientId": held.patient_id,
                "campaignId": fund.id,
                "waitlistId": held.id,
                "screeningTypeId": held.screening_type_id,
                "amountReturned": kobo_to_float(amount),
                "allocationAge": age_days,
                "reason": EXPIRY_REASON,
            }
            if target is not fund:
                context["refundedToCampaignId"] = target.id
            expiry = Expiry(
                waitlist_id=held.id,
                allocation_id=allocation.id,
                patient_id=held.patient_id,
                screening_type_id=held.screening_type_id,
                screening_type_name=screening_type.name,
                campaign_id=fund.id,
                campaign_title=fund.campaign.title,
                refund_campaign_id=target.id,
                amount_kobo=amount,
                matched_at=matched_at,
                allocation_age_days=age_days,
                log=self._log(
                    INFO,
                    f"Expired allocation for patient {held.patient_id}",
                    context,
                    allocation_id=allocation.id,
                    record=False,
                ),
            )
            outcome = _expect_outcome((yield expiry))
            if isinstance(outcome, Committed):
                target.remaining += amount
                target.returned += amount
                if target is not fund:
                    target.total += amount
                self.active[held.patient_id] -= 1
                self.matched[held.patient_id][held.screening_type_id] -= 1
                self.expired += 1
                self.returned += amount
                self.expiries.append(expiry)
                self.logs.append(expiry.log)
            elif isinstance(outcome, Failed):
                self.warnings.append(
                    {
                        "waitlistId": held.id,
                        "patientId": held.patient_id,
                        "error": outcome.message,
                        "timestamp": self.stamp,
                    }
                )
                self._log(
                    ERROR,
                    f"Failed to expire waitlist {held.id}: {outcome.message}",
                    {"waitlistId": held.id, "patientId": held.patient_id, "error": outcome.message},
                )
            elif isinstance(outcome, CampaignChanged):
                raise TypeError(
                    "CampaignChanged does not apply to an expiry (its refund is unguarded)"
                )
            # EntryChanged: claimed, left or expired elsewhere meanwhile; nothing to do.
        self._log(
            INFO,
            f"Expiry phase: {self.expired} allocations expired, "
            f"₦{_naira_text(self.returned)} returned",
            {"expiredAllocations": self.expired, "fundsReturned": kobo_to_float(self.returned)},
        )

    # -- phases 2-3: selection and matching (§6-§8) -------------------------------------------

    def match(self) -> Generator[Proposal, Outcome, None]:
        groups: dict[str, list[WaitingEntry]] = {}
        for entry in self.inputs.pending:
            group = groups.get(entry.screening_type_id)
            if group is None:
                groups[entry.screening_type_id] = [entry]
            else:
                group.append(entry)
        for group in groups.values():
            group.sort(key=_ENTRY_ORDER)
        # The type whose oldest pending entry is oldest goes first (§6.1).
        order = sorted(groups, key=lambda type_id: _ENTRY_ORDER(groups[type_id][0]))

        batch = self.config.patients_per_screening_type
        max_total = self.config.max_total_patients
        for type_id in order:
            entries = groups[type_id]
            screening_type = self.types[type_id]
            tally = _Tally(screening_type, len(entries))
            self.tallies.append(tally)
            if screening_type.price_kobo <= 0:
                tally.error = NO_POSITIVE_PRICE
                self.errors.append(
                    {
                        "screeningTypeId": type_id,
                        "error": NO_POSITIVE_PRICE,
                        "timestamp": self.stamp,
                    }
                )
                self._log(ERROR, NO_POSITIVE_PRICE, {"screeningTypeId": type_id})
                continue
            cap = min(batch, max_total - self.evaluated)
            if cap <= 0:
                self._max_total_reached()
                continue
            selected = self._select(entries, type_id, cap, tally)
            if not selected:
                continue
            self.types_processed += 1
            for entry in selected:
                yield from self._evaluate(entry, screening_type, tally)

    def _select(
        self, entries: list[WaitingEntry], type_id: str, cap: int, tally: _Tally
    ) -> list[WaitingEntry]:
        """Candidates in (joinedAt, id) order up to `cap`; skipped entries do not count (§6.2)."""
        selected: list[WaitingEntry] = []
        examined: set[str] = set()
        stopped = False
        for entry in entries:
            if len(selected) >= cap:
                stopped = True
                break
            patient_id = entry.patient_id
            if patient_id in examined:
                continue
            examined.add(patient_id)
            active = self.active.get(patient_id, 0)
            if active >= ACTIVE_ALLOCATION_LIMIT:
                self.limits += 1
                tally.limits += 1
                self.skips.append(Skip(entry.id, patient_id, type_id, SkipReason.ACTIVE_LIMIT))
                self._log(
                    WARNING,
                    f"Skipping patient {patient_id} - active allocation limit reached",
                    {
                        "patientId": patient_id,
                        "waitlistId": entry.id,
                        "screeningTypeId": type_id,
                        "activeAllocations": active,
                    },
                )
                continue
            if self.matched.get(patient_id, {}).get(type_id, 0) > 0:
                self.existing += 1
                tally.existing += 1
                self.skips.append(Skip(entry.id, patient_id, type_id, SkipReason.EXISTING_MATCH))
                self._log(
                    WARNING,
                    f"Skipping patient {patient_id} - already matched for this screening type",
                    {"patientId": patient_id, "waitlistId": entry.id, "screeningTypeId": type_id},
                )
                continue
            selected.append(entry)
        tally.selected = len(selected)
        self.evaluated += len(selected)
        if stopped and self.evaluated >= self.config.max_total_patients:
            self._max_total_reached()
        return selected

    def _max_total_reached(self) -> None:
        if self.max_total_warned:
            return
        self.max_total_warned = True
        limit = self.config.max_total_patients
        self.warnings.append(
            {"type": "MAX_TOTAL_REACHED", "maxTotalPatients": limit, "timestamp": self.stamp}
        )
        self._log(
            WARNING,
            "maxTotalPatients reached; remaining entries not evaluated",
            {"maxTotalPatients": limit},
        )

    def _choose(self, type_id: str, person: _Person, price: int) -> tuple[_Fund, int] | None:
        """The eligible campaign that sorts first (§7.4), else the pool, else None."""
        demographic = self.config.enable_demographic_targeting
        geographic = self.config.enable_geographic_targeting
        age, gender, state, lga = person.age, person.gender, person.state, person.lga
        best: _Fund | None = None
        best_key: tuple[int, int, int, datetime, str] | None = None
        for fund in self.by_type.get(type_id, ()):
            if fund.remaining < price or fund.status != ACTIVE:
                continue
            score = 0
            if fund.has_age and age is not None:
                if fund.age_min <= age <= fund.age_max:
                    score += AGE_SCORE
                elif demographic:
                    continue
            if fund.gender is not None:
                if gender == fund.gender:
                    score += GENDER_SCORE
                elif demographic:
                    continue
            if fund.states:
                if state in fund.states:
                    score += STATE_SCORE
                elif geographic:
                    continue
            if fund.lgas:
                if lga in fund.lgas:
                    score += LGA_SCORE
                elif geographic:
                    continue
            key = (-score, fund.n_types, -fund.remaining, fund.created_at, fund.id)
            if best_key is None or key < best_key:
                best, best_key = fund, key
        if best is not None and best_key is not None:
            return best, -best_key[0]
        pool = self.pool
        if pool is not None and pool.status == ACTIVE and pool.remaining >= price:
            return pool, 0
        return None

    def _evaluate(
        self, entry: WaitingEntry, screening_type: ScreeningType, tally: _Tally
    ) -> Generator[Proposal, Outcome, None]:
        patient_id = entry.patient_id
        type_id = screening_type.id
        price = screening_type.price_kobo
        self._log(
            INFO,
            f"Processing patient {patient_id}",
            {
                "patientId": patient_id,
                "waitlistId": entry.id,
                "screeningTypeId": type_id,
                "joinedAt": _iso(entry.joined_at),
            },
        )
        person = self._person(patient_id)
        allocation_id = self.new_id()
        for _attempt in range(MAX_CAMPAIGN_ATTEMPTS):
            choice = self._choose(type_id, person, price)
            if choice is None:
                break
            fund, score = choice
            is_pool = fund is self.pool
            proposal = Allocation(
                id=allocation_id,
                waitlist_id=entry.id,
                patient_id=patient_id,
                screening_type_id=type_id,
                screening_type_name=screening_type.name,
                campaign_id=fund.id,
                campaign_title=fund.campaign.title,
                campaign_owner_id=fund.campaign.donor_id,
                amount_kobo=price,
                is_general_pool=is_pool,
                targeting_score=score,
                log=self._log(
                    INFO,
                    f"Successfully matched patient {patient_id}",
                    {
                        "patientId": patient_id,
                        "campaignId": fund.id,
                        "campaignTitle": fund.campaign.title,
                        "amountToAllocate": kobo_to_float(price),
                        "isGeneralPool": is_pool,
                        "screeningTypeId": type_id,
                        "waitlistId": entry.id,
                    },
                    allocation_id=allocation_id,
                    record=False,
                ),
            )
            outcome = _expect_outcome((yield proposal))
            if isinstance(outcome, Committed):
                self._commit(proposal, fund, tally)
                return
            if isinstance(outcome, CampaignChanged):
                fund.adjusted += outcome.available_kobo - fund.remaining
                fund.remaining = outcome.available_kobo
                fund.status = outcome.status
                continue
            if isinstance(outcome, EntryChanged):
                self.skips.append(Skip(entry.id, patient_id, type_id, SkipReason.ENTRY_CHANGED))
                self.warnings.append(
                    {
                        "type": "ENTRY_CHANGED",
                        "waitlistId": entry.id,
                        "patientId": patient_id,
                        "screeningTypeId": type_id,
                        "timestamp": self.stamp,
                    }
                )
                self._log(
                    WARNING,
                    f"Waitlist entry {entry.id} changed during matching",
                    {"patientId": patient_id, "waitlistId": entry.id, "screeningTypeId": type_id},
                )
                return
            self.skips.append(Skip(entry.id, patient_id, type_id, SkipReason.ERROR))
            self.errors.append(
                {
                    "patientId": patient_id,
                    "screeningTypeId": type_id,
                    "waitlistId": entry.id,
                    "error": outcome.message,
                    "timestamp": self.stamp,
                }
            )
            self._log(
                ERROR,
                f"Error processing patient {patient_id}: {outcome.message}",
                {"patientId": patient_id, "screeningTypeId": type_id, "error": outcome.message},
            )
            return
        self.no_funding += 1
        tally.no_funding += 1
        self.skips.append(Skip(entry.id, patient_id, type_id, SkipReason.NO_FUNDING))
        self._log(
            WARNING,
            f"No funding available for patient {patient_id}",
            {"patientId": patient_id, "screeningTypeId": type_id, "reason": NO_FUNDING_REASON},
        )

    def _commit(self, allocation: Allocation, fund: _Fund, tally: _Tally) -> None:
        amount = allocation.amount_kobo
        fund.remaining -= amount
        fund.allocated += amount
        patient_id = allocation.patient_id
        self.active[patient_id] = self.active.get(patient_id, 0) + 1
        per_type = self.matched.setdefault(patient_id, {})
        per_type[allocation.screening_type_id] = per_type.get(allocation.screening_type_id, 0) + 1
        self.matches += 1
        self.allocated += amount
        self.campaigns_used[fund.id] = None
        tally.matches += 1
        tally.funds += amount
        tally.campaigns_used[fund.id] = None
        if allocation.is_general_pool:
            self.pool_allocated += amount
            tally.pool_used = True
            tally.pool_amount += amount
        if allocation.targeting_score > 0:
            tally.targeted += 1
        else:
            tally.mismatches += 1
        self.allocations.append(allocation)
        self.logs.append(allocation.log)

    # -- result -------------------------------------------------------------------------------

    def decisions(self) -> Decisions:
        return Decisions(
            expiries=tuple(self.expiries),
            allocations=tuple(self.allocations),
            skips=tuple(self.skips),
            screening_types=tuple(tally.result() for tally in self.tallies),
            fund_movements=tuple(f.movement() for f in self.funds.values() if f.touched()),
            logs=tuple(self.logs),
            warnings=tuple(self.warnings),
            errors=tuple(self.errors),
            metrics=ExecutionMetrics(
                screening_types_processed=self.types_processed,
                patients_evaluated=self.evaluated,
                successful_matches=self.matches,
                total_funds_allocated_kobo=self.allocated,
                general_pool_funds_used_kobo=self.pool_allocated,
                skipped_due_to_limits=self.limits,
                skipped_due_to_no_funding=self.no_funding,
                skipped_due_to_existing_match=self.existing,
                campaigns_used_count=len(self.campaigns_used),
                expired_allocations=self.expired,
                funds_returned_from_expiry_kobo=self.returned,
            ),
        )


# ---------------------------------------------------------------------------------------------
# Entry points


def plan(
    inputs: MatchingInputs,
    config: MatchingConfig,
    now: datetime,
    *,
    new_id: Callable[[], str] | None = None,
) -> Generator[Proposal, Outcome, Decisions]:
    """Expiry then matching, one proposal at a time (see the module docstring).

    Input problems (a duplicate id, a missing screening type or campaign) raise `ValueError`
    before the first proposal, so nothing is half-applied because of them.
    """
    run = _Run(inputs, config, now, new_id or _sequential_ids())
    yield from run.expire()
    yield from run.match()
    return run.decisions()


def decide(
    inputs: MatchingInputs,
    config: MatchingConfig,
    now: datetime,
    *,
    new_id: Callable[[], str] | None = None,
) -> Decisions:
    """Decide a whole run at T0 = `now`, taking every expiry and match as committed.

    Guarantees: money is conserved to the kobo (for every campaign, after = before - allocated
    + returned); no campaign or pool goes below zero through a match; no patient's active
    allocations rise above 3; at most one allocation per entry; deterministic for equal inputs
    (allocation ids come from `new_id`, by default `allocation-1`, `allocation-2`, ...).
    """
    steps = plan(inputs, config, now, new_id=new_id)
    try:
        next(steps)
        while True:
            steps.send(COMMITTED)
    except StopIteration as done:
        result: Decisions = done.value
        return result
