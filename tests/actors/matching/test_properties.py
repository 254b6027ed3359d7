"""Property tests of spec/matching.md §15 over random snapshots: money, overdraw, limits, FCFS."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.matching.algorithm import decide, plan
from actors.matching.config import MatchingConfig
from actors.matching.decisions import Allocation, Decisions, Expiry, SkipReason
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
from actors.matching.outcomes import COMMITTED, CampaignChanged, EntryChanged, Failed
from actors.matching.selection import ACTIVE_ALLOCATION_LIMIT

from .builders import T0, check_invariants, is_candidate, passes_targeting

# Modest budgets keep the file well under 15 s; no example database is written to the tree.
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PRICES = [0, 1, 99, 1_000_000, 999_999, 1_500_000, 1_200_050]
STATES = ["Lagos State", "lagos state ", "Kano State", "Ogun State"]
LGAS = ["Ikeja", "IKEJA", "Surulere", "Nasarawa"]
DAYS = [T0 - timedelta(days=d, hours=h) for d in (1, 5, 29, 31, 45) for h in (0, 3)]


@st.composite
def snapshots(draw: st.DrawFn) -> MatchingInputs:
    n_types = draw(st.integers(1, 4))
    types = [
        ScreeningType(f"S{i}", f"Screening {i}", draw(st.sampled_from(PRICES[1:] if i else PRICES)))
        for i in range(n_types)
    ]
    type_ids = [t.id for t in types]
    n_patients = draw(st.integers(1, 8))
    patients = [
        Patient(
            id=f"P{i}",
            gender=draw(st.sampled_from(["MALE", "FEMALE", None])),
            date_of_birth=draw(st.dates(date(1930, 1, 1), date(2025, 9, 1))),
            state=draw(st.sampled_from([*STATES, None])),
            lga=draw(st.sampled_from([*LGAS, None])),
        )
        for i in range(n_patients)
        if draw(st.integers(0, 9)) > 0  # now and then a patient without a profile
    ]
    campaigns = []
    for i in range(draw(st.integers(0, 6))):
        available = draw(st.integers(0, 10_000_000))
        low = draw(st.integers(0, 70))
        campaigns.append(
            Campaign(
                id=f"C{i}",
                donor_id=f"D{i}",
                title=f"Campaign {i}",
                status=draw(
                    st.sampled_from(["ACTIVE", "ACTIVE", "ACTIVE", "DELETED", "COMPLETED"])
                ),
                available_kobo=available,
                total_kobo=available + draw(st.integers(0, 1_000_000)),
                screening_type_ids=frozenset(draw(st.sets(st.sampled_from(type_ids)))),
                created_at=draw(st.sampled_from([datetime(2025, 1, 1), datetime(2025, 2, 1)])),
                target_gender=draw(st.sampled_from([None, None, "MALE", "FEMALE"])),
                target_age_range=draw(st.sampled_from([None, None, f"{low}-{low + 20}", "x-40"])),
                target_states=tuple(draw(st.lists(st.sampled_from(STATES), max_size=2))),
                target_lgas=tuple(draw(st.lists(st.sampled_from(LGAS), max_size=2))),
                expiry_date=draw(
                    st.sampled_from([None, None, T0 - timedelta(1), T0 + timedelta(1)])
                ),
            )
        )
    pool_amount = draw(st.integers(0, 3_000_000))
    campaigns.append(
        Campaign(
            id=GENERAL_POOL_ID,
            donor_id="general-public",
            title="General donation public pool",
            status=draw(st.sampled_from(["ACTIVE", "ACTIVE", "SUSPENDED"])),
            available_kobo=pool_amount,
            total_kobo=pool_amount,
            screening_type_ids=frozenset(draw(st.sets(st.sampled_from(type_ids)))),
            created_at=datetime(2024, 1, 1),
        )
    )
    campaign_ids = [c.id for c in campaigns]
    patient_ids = [f"P{i}" for i in range(n_patients)]
    pending = [
        WaitingEntry(
            f"W{i}",
            draw(st.sampled_from(["P0", *patient_ids])),
            draw(st.sampled_from(type_ids)),
            draw(st.sampled_from(DAYS)),
        )
        for i in range(draw(st.integers(0, 25)))
    ]
    held = []
    for i in range(draw(st.integers(0, 12))):
        allocation = None
        if draw(st.booleans()):
            claimed = draw(st.integers(0, 4)) == 0
            allocation = ExistingAllocation(
                id=f"A{i}",
                campaign_id=draw(st.sampled_from(campaign_ids)),
                amount_allocated_kobo=draw(st.sampled_from([None, 1_000_000, 1_500_000, 777])),
                execution_started_at=draw(st.sampled_from([None, *DAYS])),
                claimed_at=T0 - timedelta(days=1) if claimed else None,
                appointment_id="appt" if claimed else None,
            )
        held.append(
            HeldEntry(
                id=f"H{i}",
                # Skewed to the first patients so that some reach the active limit.
                patient_id=draw(st.sampled_from([*patient_ids[:2] * 3, *patient_ids])),
                screening_type_id=draw(st.sampled_from(type_ids)),
                status=draw(st.sampled_from(["MATCHED", "MATCHED", "CLAIMED", "EXPIRED"])),
                joined_at=draw(st.sampled_from(DAYS)),
                allocation=allocation,
            )
        )
    if draw(st.booleans()):
        # P0 at the active limit (or one expiry away from it), through a type nobody waits for.
        types.append(ScreeningType("S-HELD", "Held screening", 1_000_000))
        for j in range(ACTIVE_ALLOCATION_LIMIT):
            matched = draw(st.sampled_from([T0 - timedelta(days=1), T0 - timedelta(days=45)]))
            allocation = ExistingAllocation(
                f"AL{j}", draw(st.sampled_from(campaign_ids)), 1_000_000, matched if j == 0 else T0
            )
            held.append(HeldEntry(f"HL{j}", "P0", "S-HELD", "MATCHED", DAYS[-1], allocation))
    return MatchingInputs(types, campaigns, patients, pending, held)


configs = st.builds(
    MatchingConfig,
    patients_per_screening_type=st.integers(1, 6),
    max_total_patients=st.integers(1, 20),
    enable_demographic_targeting=st.booleans(),
    enable_geographic_targeting=st.booleans(),
    allocation_expiry_days=st.integers(1, 40),
)


@PROPERTY
@given(snapshot=snapshots(), config=configs)
def test_money_is_conserved_never_overdrawn_and_limits_hold(
    snapshot: MatchingInputs, config: MatchingConfig
) -> None:
    decisions = decide(snapshot, config, T0)
    # I1, I2, I3, I5, I6, I7, I8, I11 (see builders.check_invariants).
    check_invariants(snapshot, decisions, config, T0)
    assert decide(snapshot, config, T0) == decisions


@PROPERTY
@given(snapshot=snapshots(), config=configs)
def test_first_come_first_served(snapshot: MatchingInputs, config: MatchingConfig) -> None:
    """I9: an earlier unfunded candidate could not have used a later candidate's campaign."""
    decisions = decide(snapshot, config, T0)
    order = {e.id: (e.joined_at, e.id) for e in snapshot.pending}
    patients = {p.id: p for p in snapshot.patients}
    campaigns = {c.id: c for c in snapshot.campaigns}
    unfunded = [s for s in decisions.skips if s.reason is SkipReason.NO_FUNDING]
    for skip in unfunded:
        for allocation in decisions.allocations:
            if allocation.screening_type_id != skip.screening_type_id:
                continue
            if order[allocation.waitlist_id] < order[skip.waitlist_id]:
                continue
            assert not allocation.is_general_pool
            funder = campaigns[allocation.campaign_id]
            assert not passes_targeting(funder, patients.get(skip.patient_id), config)


def apply(snapshot: MatchingInputs, decisions: Decisions) -> MatchingInputs:
    """The snapshot a store would load after committing `decisions` at T0."""
    after = {m.campaign_id: m for m in decisions.fund_movements}
    campaigns = [
        replace(
            c,
            available_kobo=after[c.id].available_after_kobo,
            total_kobo=after[c.id].total_after_kobo,
        )
        if c.id in after
        else c
        for c in snapshot.campaigns
    ]
    matched = {a.waitlist_id: a for a in decisions.allocations}
    expired = {x.waitlist_id for x in decisions.expiries}
    held = [replace(h, status="EXPIRED") if h.id in expired else h for h in snapshot.held]
    for entry in snapshot.pending:
        if entry.id in matched:
            a = matched[entry.id]
            allocation = ExistingAllocation(a.id, a.campaign_id, a.amount_kobo, T0)
            held.append(
                HeldEntry(
                    entry.id,
                    entry.patient_id,
                    entry.screening_type_id,
                    "MATCHED",
                    entry.joined_at,
                    allocation,
                )
            )
    pending = [e for e in snapshot.pending if e.id not in matched]
    return replace(snapshot, campaigns=campaigns, pending=pending, held=held)


@PROPERTY
@given(snapshot=snapshots(), config=configs)
def test_a_second_run_with_nothing_changed_moves_nothing(
    snapshot: MatchingInputs, config: MatchingConfig
) -> None:
    """I13, when the first run examined every entry (no batch or run-wide cap cut it short)."""
    first = decide(snapshot, config, T0)
    capped = any(w.get("type") == "MAX_TOTAL_REACHED" for w in first.warnings) or any(
        r.patients_selected >= config.patients_per_screening_type for r in first.screening_types
    )
    second = decide(apply(snapshot, first), config, T0)
    assert second.expiries == ()
    if not capped:
        assert second.allocations == ()
        assert second.fund_movements == ()


outcomes = st.one_of(
    st.just(COMMITTED),
    st.just(COMMITTED),
    st.just(EntryChanged()),
    st.builds(Failed, st.just("boom")),
    st.builds(
        CampaignChanged,
        st.sampled_from(["ACTIVE", "ACTIVE", "COMPLETED"]),
        st.integers(0, 3_000_000),
    ),
)


@PROPERTY
@given(snapshot=snapshots(), config=configs, data=st.data())
def test_plan_with_conflicts_keeps_the_books(
    snapshot: MatchingInputs, config: MatchingConfig, data: st.DataObject
) -> None:
    """Whatever a store reports, only committed proposals count and no campaign goes negative."""
    committed: list[Allocation | Expiry] = []
    steps = plan(snapshot, config, T0)
    try:
        proposal = next(steps)
        while True:
            outcome = data.draw(outcomes)
            if isinstance(proposal, Expiry) and isinstance(outcome, CampaignChanged):
                outcome = COMMITTED
            if outcome is COMMITTED:
                committed.append(proposal)
            proposal = steps.send(outcome)
    except StopIteration as done:
        decisions: Decisions = done.value

    assert list(decisions.expiries) + list(decisions.allocations) == committed
    for m in decisions.fund_movements:
        assert m.available_after_kobo == (
            m.available_before_kobo - m.allocated_kobo + m.returned_kobo + m.adjusted_kobo
        )
        assert m.available_after_kobo >= 0
    active: Counter[str] = Counter()
    expired = {x.waitlist_id for x in decisions.expiries}
    for h in snapshot.held:
        if (
            h.status == "MATCHED"
            and h.id not in expired
            and h.allocation
            and h.allocation.unclaimed
        ):
            active[h.patient_id] += 1
    for patient_id, count in Counter(a.patient_id for a in decisions.allocations).items():
        assert active[patient_id] + count <= ACTIVE_ALLOCATION_LIMIT
    campaigns = {c.id: c for c in snapshot.campaigns}
    for a in decisions.allocations:
        assert a.is_general_pool or is_candidate(campaigns[a.campaign_id], a.screening_type_id, T0)
    assert decisions.metrics.successful_matches == len(decisions.allocations)
