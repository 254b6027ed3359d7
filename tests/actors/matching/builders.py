"""Fixture F of spec/matching.md §14 as plain data, and the invariant checks of §15."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from actors.matching.algorithm import decide
from actors.matching.config import MatchingConfig
from actors.matching.decisions import Decisions
from actors.matching.inputs import (
    GENERAL_POOL_ID,
    Campaign,
    ExistingAllocation,
    HeldEntry,
    MatchingInputs,
    Patient,
    ScreeningType,
    WaitingEntry,
)
from actors.matching.selection import ACTIVE_ALLOCATION_LIMIT
from actors.matching.targeting import age_on, parse_age_range
from actors.matching.units import to_kobo

T0 = datetime(2025, 9, 1, 12, 0, 0)
CREATED = datetime(2025, 6, 1, 0, 0, 0)

TYPES = {
    "STA": ScreeningType("STA", "Cervical Cancer Screening", to_kobo(10000)),
    "STB": ScreeningType("STB", "Breast Cancer Screening", to_kobo(15000)),
    "STC": ScreeningType("STC", "Prostate Cancer Screening", to_kobo(12000)),
    "STD": ScreeningType("STD", "Other screening D", to_kobo(10000)),
    "STE": ScreeningType("STE", "Other screening E", to_kobo(10000)),
}

PATIENTS = {
    "U1": Patient("U1", "FEMALE", date(1990, 5, 10), "Lagos State", "Ikeja"),
    "U2": Patient("U2", "MALE", date(1970, 1, 20), "Kano State", "Nasarawa"),
    "U3": Patient("U3", "FEMALE", date(2001, 12, 31), "Lagos State", "Surulere"),
    "U4": Patient("U4", "FEMALE", date(1960, 9, 1), "Ogun State", "Abeokuta South"),
    "U5": Patient("U5", None, date(1985, 3, 3), None, None),
}


def day(month_day: str, hour: int = 9) -> datetime:
    """'08-01' -> 2025-08-01T09:00:00 (naive UTC), as the fixture reads it."""
    month, dom = (int(part) for part in month_day.split("-"))
    return datetime(2025, month, dom, hour, 0, 0)


def wait(n: int | str, type_id: str, month_day: str, *, suffix: str = "") -> WaitingEntry:
    """Pending entry W<n><suffix> of patient U<n>."""
    return WaitingEntry(f"W{n}{suffix}", f"U{n}", type_id, day(month_day))


def campaign(
    campaign_id: str,
    naira: float | str,
    types: Iterable[str],
    *,
    status: str = "ACTIVE",
    created: datetime = CREATED,
    gender: str | None = None,
    ages: str | None = None,
    states: Sequence[str] = (),
    lgas: Sequence[str] = (),
    expires: datetime | None = None,
    total: float | str | None = None,
) -> Campaign:
    return Campaign(
        id=campaign_id,
        donor_id=f"donor-{campaign_id}",
        title=f"{campaign_id} title",
        status=status,
        available_kobo=to_kobo(naira),
        total_kobo=to_kobo(naira if total is None else total),
        screening_type_ids=frozenset(types),
        created_at=created,
        target_gender=gender,
        target_age_range=ages,
        target_states=tuple(states),
        target_lgas=tuple(lgas),
        expiry_date=expires,
    )


def pool(naira: float | str = 0, types: Iterable[str] = (), status: str = "ACTIVE") -> Campaign:
    return Campaign(
        id=GENERAL_POOL_ID,
        donor_id="general-public",
        title="General donation public pool",
        status=status,
        available_kobo=to_kobo(naira),
        total_kobo=to_kobo(naira),
        screening_type_ids=frozenset(types),
        created_at=datetime(2024, 1, 1),
    )


def held(
    entry_id: str,
    patient_id: str,
    type_id: str,
    *,
    status: str = "MATCHED",
    joined: datetime = datetime(2025, 7, 1),
    campaign_id: str = "C-HISTORIC",
    naira: float | None = 10000,
    matched: datetime | None = datetime(2025, 8, 25, 12, 0),
    claimed: bool = False,
    allocation: bool = True,
) -> HeldEntry:
    return HeldEntry(
        id=entry_id,
        patient_id=patient_id,
        screening_type_id=type_id,
        status=status,
        joined_at=joined,
        allocation=ExistingAllocation(
            id=f"A-{entry_id}",
            campaign_id=campaign_id,
            amount_allocated_kobo=None if naira is None else to_kobo(naira),
            execution_started_at=matched,
            claimed_at=datetime(2025, 8, 26) if claimed else None,
            appointment_id=f"appt-{entry_id}" if claimed else None,
        )
        if allocation
        else None,
    )


def inputs(
    pending: Sequence[WaitingEntry] = (),
    campaigns: Sequence[Campaign] = (),
    held_entries: Sequence[HeldEntry] = (),
    *,
    types: Sequence[ScreeningType] | None = None,
    patients: Sequence[Patient] | None = None,
) -> MatchingInputs:
    """Fixture F around the given rows; the pool (amount 0) is added unless given."""
    rows = list(campaigns)
    if not any(c.id == GENERAL_POOL_ID for c in rows):
        rows.append(pool())
    return MatchingInputs(
        screening_types=list(TYPES.values()) if types is None else list(types),
        campaigns=rows,
        patients=list(PATIENTS.values()) if patients is None else list(patients),
        pending=list(pending),
        held=list(held_entries),
    )


def run(snapshot: MatchingInputs, config: MatchingConfig | None = None) -> Decisions:
    decisions = decide(snapshot, config or MatchingConfig(), T0)
    check_invariants(snapshot, decisions, config or MatchingConfig(), T0)
    return decisions


def matches(decisions: Decisions) -> dict[str, str]:
    return {a.waitlist_id: a.campaign_id for a in decisions.allocations}


def balances(snapshot: MatchingInputs, decisions: Decisions) -> dict[str, int]:
    """availableAmount (kobo) of every campaign after the run."""
    after = {c.id: c.available_kobo for c in snapshot.campaigns}
    for movement in decisions.fund_movements:
        after[movement.campaign_id] = movement.available_after_kobo
    return after


def totals(snapshot: MatchingInputs, decisions: Decisions) -> dict[str, int]:
    after = {c.id: c.total_kobo for c in snapshot.campaigns}
    for movement in decisions.fund_movements:
        after[movement.campaign_id] = movement.total_after_kobo
    return after


# -- independent oracles (written from the spec, not from the implementation) -----------------


def norm(text: str | None) -> str | None:
    return None if text is None or not text.strip() else text.strip().lower()


def passes_targeting(c: Campaign, patient: Patient | None, config: MatchingConfig) -> bool:
    """§7.2 with the new system's switches."""
    age = None
    if patient is not None and patient.date_of_birth is not None:
        age = age_on(patient.date_of_birth, T0.date())
    gender = norm(patient.gender) if patient else None
    state = norm(patient.state) if patient else None
    lga = norm(patient.lga) if patient else None
    if config.enable_demographic_targeting:
        if c.target_age_range and c.target_age_range.strip() and age is not None:
            low, high = parse_age_range(c.target_age_range)
            if not low <= age <= high:
                return False
        if c.target_gender is not None and gender != norm(c.target_gender):
            return False
    if config.enable_geographic_targeting:
        wanted_states = {norm(s) for s in c.target_states} - {None}
        if wanted_states and state not in wanted_states:
            return False
        wanted_lgas = {norm(s) for s in c.target_lgas} - {None}
        if wanted_lgas and lga not in wanted_lgas:
            return False
    return True


def is_candidate(c: Campaign, type_id: str, now: datetime) -> bool:
    return (
        c.id != GENERAL_POOL_ID
        and c.status == "ACTIVE"
        and type_id in c.screening_type_ids
        and (c.expiry_date is None or c.expiry_date > now)
    )


def check_invariants(
    snapshot: MatchingInputs, decisions: Decisions, config: MatchingConfig, now: datetime
) -> None:
    """§15 I1, I2, I3, I5, I6, I7, I8, I11 on one decide() result."""
    campaigns = {c.id: c for c in snapshot.campaigns}
    types = {t.id: t for t in snapshot.screening_types}
    patients = {p.id: p for p in snapshot.patients}
    pending = {e.id: e for e in snapshot.pending}
    after = balances(snapshot, decisions)

    # I2: conservation, globally and per campaign.
    allocated = sum(a.amount_kobo for a in decisions.allocations)
    returned = sum(x.amount_kobo for x in decisions.expiries)
    before_sum = sum(c.available_kobo for c in snapshot.campaigns)
    assert before_sum == sum(after.values()) + allocated - returned
    for m in decisions.fund_movements:
        assert m.available_after_kobo == (
            m.available_before_kobo - m.allocated_kobo + m.returned_kobo + m.adjusted_kobo
        )
        assert m.adjusted_kobo == 0
        by_campaign = sum(
            a.amount_kobo for a in decisions.allocations if a.campaign_id == m.campaign_id
        )
        assert m.allocated_kobo == by_campaign
    # Matching never changes a totalAmount; only pool refunds for deleted campaigns do.
    total_after = totals(snapshot, decisions)
    to_pool = sum(x.amount_kobo for x in decisions.expiries if x.refunded_to_pool)
    for cid, c in campaigns.items():
        grown = to_pool if cid == GENERAL_POOL_ID else 0
        assert total_after[cid] == c.total_kobo + grown

    # I1: a campaign that was not negative does not become negative.
    for cid, c in campaigns.items():
        if c.available_kobo >= 0:
            assert after[cid] >= 0, cid

    # I3: one allocation per entry, only for pending entries.
    assert len({a.waitlist_id for a in decisions.allocations}) == len(decisions.allocations)
    for a in decisions.allocations:
        entry = pending[a.waitlist_id]
        # I7: same patient, price at match time, a campaign that may fund it.
        assert a.patient_id == entry.patient_id
        assert a.screening_type_id == entry.screening_type_id
        assert a.amount_kobo == types[entry.screening_type_id].price_kobo > 0
        c = campaigns[a.campaign_id]
        if a.is_general_pool:
            assert c.id == GENERAL_POOL_ID
            assert c.status == "ACTIVE"
        else:
            assert is_candidate(c, entry.screening_type_id, now)
            # I8: targeting honoured.
            assert passes_targeting(c, patients.get(a.patient_id), config)

    # I5 and I6 per patient.
    expired = {x.waitlist_id for x in decisions.expiries}
    active: Counter[str] = Counter()
    matched_types: Counter[tuple[str, str]] = Counter()
    for h in snapshot.held:
        if h.status != "MATCHED" or h.id in expired:
            continue
        matched_types[(h.patient_id, h.screening_type_id)] += 1
        if h.allocation is not None and h.allocation.unclaimed:
            active[h.patient_id] += 1
    new: Counter[str] = Counter(a.patient_id for a in decisions.allocations)
    for patient_id, count in new.items():
        assert active[patient_id] + count <= ACTIVE_ALLOCATION_LIMIT, patient_id
    for a in decisions.allocations:
        assert matched_types[(a.patient_id, a.screening_type_id)] == 0
    assert len({(a.patient_id, a.screening_type_id) for a in decisions.allocations}) == len(
        decisions.allocations
    )

    # I11: counters agree with the allocations.
    metrics = decisions.metrics
    assert metrics.successful_matches == len(decisions.allocations)
    assert metrics.total_funds_allocated_kobo == allocated
    assert metrics.general_pool_funds_used_kobo == sum(
        a.amount_kobo for a in decisions.allocations if a.is_general_pool
    )
    assert metrics.campaigns_used_count == len({a.campaign_id for a in decisions.allocations})
    assert metrics.expired_allocations == len(decisions.expiries)
    assert metrics.funds_returned_from_expiry_kobo == returned
    assert metrics.patients_evaluated <= config.max_total_patients
    for result in decisions.screening_types:
        mine = [a for a in decisions.allocations if a.screening_type_id == result.screening_type_id]
        assert result.matches_created == len(mine)
        assert result.funds_allocated_kobo == sum(a.amount_kobo for a in mine)
        assert result.patients_selected <= config.patients_per_screening_type
        assert result.targeting_matches + result.targeting_mismatches == len(mine)
    assert sum(r.matches_created for r in decisions.screening_types) == len(decisions.allocations)
    assert sum(r.patients_selected for r in decisions.screening_types) == metrics.patients_evaluated
