"""What a matching run decided (spec/matching.md §10): proposals, skips, logs and counters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from actors.matching.units import kobo_to_float

#: `matching_execution_logs.level` values.
INFO: Final = "INFO"
WARNING: Final = "WARNING"
ERROR: Final = "ERROR"


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
