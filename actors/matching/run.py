"""The state of one matching run: indexes over the inputs, running counters and outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from actors.matching.config import MatchingConfig
from actors.matching.decisions import (
    Allocation,
    Decisions,
    ExecutionMetrics,
    Expiry,
    LogLine,
    ScreeningTypeResult,
    Skip,
)
from actors.matching.funds import Fund
from actors.matching.inputs import ACTIVE, GENERAL_POOL_ID, MATCHED, MatchingInputs, ScreeningType
from actors.matching.targeting import Person
from actors.matching.units import iso, utc_naive


class Tally:
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


class Run:
    """One run's indexes, running amounts, counters and outputs, shared by its phases.

    Building it checks the inputs for duplicate screening types and campaigns; the phases
    (`expiry`, `selection`, `allocation`) read and update it, and `decisions()` reads it out.
    """

    def __init__(
        self,
        inputs: MatchingInputs,
        config: MatchingConfig,
        now: datetime,
        new_id: Callable[[], str],
    ) -> None:
        self.config = config
        self.now = utc_naive(now)
        self.today = self.now.date()
        self.stamp = iso(self.now)
        self.new_id = new_id
        self.inputs = inputs

        self.types: dict[str, ScreeningType] = {}
        for screening_type in inputs.screening_types:
            if screening_type.id in self.types:
                raise ValueError(f"screening type {screening_type.id!r} given twice")
            self.types[screening_type.id] = screening_type
        self.funds: dict[str, Fund] = {}
        for campaign in inputs.campaigns:
            if campaign.id in self.funds:
                raise ValueError(f"campaign {campaign.id!r} given twice")
            self.funds[campaign.id] = Fund(campaign)
        self.pool = self.funds.get(GENERAL_POOL_ID)
        self.patients = {patient.id: patient for patient in inputs.patients}
        self.people: dict[str, Person] = {}

        # Candidate campaigns per screening type (§5.2, §7.1): status, expiry and pool
        # exclusion are fixed for the run, so they are applied once here.
        self.by_type: dict[str, list[Fund]] = {}
        for fund in self.funds.values():
            campaign = fund.campaign
            if fund.id == GENERAL_POOL_ID or campaign.status != ACTIVE:
                continue
            if campaign.expiry_date is not None and utc_naive(campaign.expiry_date) <= self.now:
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

        self.expiries: list[Expiry] = []
        self.allocations: list[Allocation] = []
        self.skips: list[Skip] = []
        self.tallies: list[Tally] = []
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

    def check_pending(self) -> None:
        """Refuses duplicate pending entries and pending entries of an unknown screening type."""
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

    def log(
        self,
        level: str,
        message: str,
        context: dict[str, object],
        *,
        allocation_id: str | None = None,
        record: bool = True,
    ) -> LogLine:
        """A log line; `record=False` leaves it to the caller to record once committed."""

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

    def person(self, patient_id: str) -> Person:
        person = self.people.get(patient_id)
        if person is None:
            person = Person(self.patients.get(patient_id), self.today)
            self.people[patient_id] = person
        return person

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
