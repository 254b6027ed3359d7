"""spec/matching.md §14 worked examples and §4-§8 rules, table-driven, on plain data."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from actors.matching.algorithm import decide, plan
from actors.matching.config import MatchingConfig
from actors.matching.decisions import Allocation, Decisions, Expiry, SkipReason
from actors.matching.inputs import (
    GENERAL_POOL_ID,
    Campaign,
    HeldEntry,
    MatchingInputs,
    Patient,
    ScreeningType,
    WaitingEntry,
)
from actors.matching.outcomes import (
    COMMITTED,
    CampaignChanged,
    EntryChanged,
    Failed,
    Outcome,
    Proposal,
)
from actors.matching.targeting import age_on, parse_age_range
from actors.matching.units import kobo_to_float, kobo_to_naira, to_kobo

from .builders import (
    PATIENTS,
    T0,
    TYPES,
    balances,
    campaign,
    day,
    held,
    inputs,
    matches,
    pool,
    run,
    totals,
    wait,
)

# -- §14 worked examples, one table ---------------------------------------------------------


@dataclass
class Example:
    name: str
    pending: list[WaitingEntry]
    campaigns: list[Campaign]
    matched: dict[str, str]
    balances: dict[str, float] = field(default_factory=dict)
    held: list[HeldEntry] = field(default_factory=list)
    config: MatchingConfig = field(default_factory=MatchingConfig)
    metrics: dict[str, float] = field(default_factory=dict)
    results: dict[str, dict[str, object]] = field(default_factory=dict)
    expired: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name


EXPIRY_15 = [
    held(
        "WX",
        "U3",
        "STA",
        joined=datetime(2025, 6, 1),
        campaign_id="C1",
        naira=10000,
        matched=datetime(2025, 7, 25, 12, 0),
    ),
    held(
        "WY",
        "U2",
        "STB",
        joined=datetime(2025, 5, 1),
        campaign_id="C2",
        naira=15000,
        matched=datetime(2025, 8, 25, 12, 0),
    ),
]
CFL = campaign("CFL", 10000, ["STA"], gender="FEMALE", states=["Lagos State"])

EXAMPLES = [
    Example(
        "1 single match",
        [wait(1, "STA", "08-01")],
        [campaign("C1", 10000, ["STA"])],
        {"W1": "C1"},
        {"C1": 0},
        metrics={
            "screeningTypesProcessed": 1,
            "patientsEvaluated": 1,
            "successfulMatches": 1,
            "totalFundsAllocated": 10000,
            "generalPoolFundsUsed": 0,
            "campaignsUsedCount": 1,
        },
        results={
            "STA": {
                "patientsFound": 1,
                "patientsProcessed": 1,
                "matchesCreated": 1,
                "fundsAllocated": 10000,
                "campaignsUsed": ["C1"],
                "generalPoolUsed": False,
                "targetingMatches": 0,
                "targetingMismatches": 1,
            }
        },
    ),
    Example(
        "2 cent boundary falls back to the pool",
        [wait(1, "STA", "08-01")],
        [campaign("C1", 9999.99, ["STA"]), pool(25000)],
        {"W1": GENERAL_POOL_ID},
        {GENERAL_POOL_ID: 15000, "C1": 9999.99},
        metrics={"generalPoolFundsUsed": 10000},
        results={"STA": {"generalPoolUsed": True, "generalPoolAmount": 10000}},
    ),
    Example(
        "2b exactly the price is enough",
        [wait(1, "STA", "08-01")],
        [campaign("C1", "10000.00", ["STA"]), pool(25000)],
        {"W1": "C1"},
        {"C1": 0, GENERAL_POOL_ID: 25000},
    ),
    Example(
        "3 no funding",
        [wait(1, "STA", "08-01")],
        [campaign("C1", 9000, ["STA"]), pool(5000)],
        {},
        {"C1": 9000, GENERAL_POOL_ID: 5000},
        metrics={"skippedDueToNoFunding": 1, "patientsEvaluated": 1, "successfulMatches": 0},
        results={"STA": {"patientsProcessed": 0, "skippedDueToNoFunding": 1}},
    ),
    Example(
        "4 first come first served, no overdraw",
        [wait(1, "STA", "08-01"), wait(3, "STA", "08-02"), wait(4, "STA", "08-03")],
        [campaign("C1", 20000, ["STA"])],
        {"W1": "C1", "W3": "C1"},
        {"C1": 0},
        metrics={"skippedDueToNoFunding": 1, "successfulMatches": 2},
    ),
    Example(
        "5 gender targeting",
        [wait(1, "STA", "08-01"), wait(2, "STA", "08-02")],
        [campaign("CF", 10000, ["STA"], gender="FEMALE"), campaign("CA", 50000, ["STA"])],
        {"W1": "CF", "W2": "CA"},
        {"CF": 0, "CA": 40000},
        results={"STA": {"targetingMatches": 1, "targetingMismatches": 1}},
    ),
    Example(
        "6 highest score wins",
        [wait(1, "STA", "08-01")],
        [
            campaign("CG", 10000, ["STA"], gender="FEMALE"),
            campaign("CS", 10000, ["STA"], states=["lagos state"]),
            campaign("CL", 10000, ["STA"], lgas=["Ikeja"]),
            campaign("CSG", 10000, ["STA"], gender="FEMALE", states=["Lagos State"], ages="30-40"),
        ],
        {"W1": "CSG"},
    ),
    Example(
        "7 specificity beats amount and campaign age",
        [wait(2, "STA", "08-01")],
        [
            campaign("CX", 10000, ["STA"], created=datetime(2025, 7, 1)),
            campaign("CY", 90000, ["STA", "STB"], created=datetime(2025, 1, 1)),
        ],
        {"W2": "CX"},
    ),
    Example(
        "8 remaining amount, then creation time",
        [wait(1, "STA", "08-01"), wait(3, "STA", "08-02")],
        [
            campaign("C-OLD", 30000, ["STA"], created=datetime(2024, 12, 1)),
            campaign("C-NEW", 30000, ["STA"], created=datetime(2025, 1, 1)),
        ],
        {"W1": "C-OLD", "W3": "C-NEW"},
        {"C-OLD": 20000, "C-NEW": 20000},
    ),
    Example(
        "8b same creation instant: smaller id first",
        [wait(1, "STA", "08-01")],
        [campaign("C-B", 30000, ["STA"]), campaign("C-A", 30000, ["STA"])],
        {"W1": "C-A"},
    ),
    Example(
        "9 age range (inclusive) and pool",
        [wait(4, "STB", "08-01"), wait(3, "STB", "08-02"), wait(5, "STB", "08-03")],
        [campaign("CAGE", 30000, ["STB"], ages="40-65"), pool(15000)],
        {"W4": "CAGE", "W3": GENERAL_POOL_ID, "W5": "CAGE"},
        {"CAGE": 0, GENERAL_POOL_ID: 0},
        metrics={"totalFundsAllocated": 45000, "generalPoolFundsUsed": 15000},
    ),
    Example(
        "10 unknown demographics",
        [wait(5, "STC", "08-01")],
        [
            campaign("CF", 50000, ["STC"], gender="FEMALE"),
            campaign("CS", 50000, ["STC"], states=["Kano State"]),
            campaign("CAGE2", 50000, ["STC"], ages="18-60"),
        ],
        {"W5": "CAGE2"},
        {"CAGE2": 38000, "CF": 50000, "CS": 50000},
        results={"STC": {"targetingMatches": 1}},
    ),
    Example(
        "11 per-patient limit inside one run",
        [
            wait(1, "STA", "08-01", suffix="a"),
            wait(1, "STB", "08-02", suffix="b"),
            wait(1, "STC", "08-03", suffix="c"),
        ],
        [
            campaign("CA", 100000, ["STA"]),
            campaign("CB", 100000, ["STB"]),
            campaign("CC", 100000, ["STC"]),
        ],
        {"W1a": "CA"},
        {"CA": 90000, "CB": 100000, "CC": 100000},
        held=[held("H-D", "U1", "STD"), held("H-E", "U1", "STE")],
        metrics={
            "successfulMatches": 1,
            "skippedDueToLimits": 2,
            "patientsEvaluated": 1,
            "screeningTypesProcessed": 1,
        },
        results={
            "STB": {"patientsFound": 1, "patientsProcessed": 0, "skippedDueToLimits": 1},
            "STC": {"patientsFound": 1, "patientsProcessed": 0, "skippedDueToLimits": 1},
        },
    ),
    Example(
        "12 what counts toward the limit",
        [wait(2, "STA", "08-01")],
        [campaign("C1", 10000, ["STA"])],
        {"W2": "C1"},
        held=[
            held("H-D", "U2", "STD", status="CLAIMED", claimed=True),
            held("H-E", "U2", "STE", status="EXPIRED"),
            held("H-B", "U2", "STB"),
        ],
    ),
    Example(
        "13 batch size",
        [
            wait(1, "STA", "08-01"),
            wait(3, "STA", "08-02"),
            wait(4, "STA", "08-03"),
            wait(2, "STA", "08-04"),
        ],
        [campaign("CA", 100000, ["STA"])],
        {"W1": "CA", "W3": "CA"},
        config=MatchingConfig(patients_per_screening_type=2),
        metrics={"patientsEvaluated": 2},
        results={"STA": {"patientsFound": 4, "matchesCreated": 2}},
    ),
    Example(
        "13b limit skips do not count toward the batch",
        [
            wait(1, "STA", "08-01"),
            wait(3, "STA", "08-02"),
            wait(4, "STA", "08-03"),
            wait(2, "STA", "08-04"),
        ],
        [campaign("CA", 100000, ["STA"])],
        {"W3": "CA", "W4": "CA"},
        held=[held("H-B", "U1", "STB"), held("H-C", "U1", "STC"), held("H-D", "U1", "STD")],
        config=MatchingConfig(patients_per_screening_type=2),
        metrics={"skippedDueToLimits": 1, "patientsEvaluated": 2},
    ),
    Example(
        "14 run-wide cap",
        [
            wait(1, "STA", "08-01"),
            wait(4, "STB", "08-02"),
            wait(3, "STA", "08-03"),
            wait(2, "STB", "08-04"),
        ],
        [campaign("CA", 100000, ["STA"]), campaign("CB", 100000, ["STB"])],
        {"W1": "CA", "W3": "CA", "W4": "CB"},
        config=MatchingConfig(max_total_patients=3),
        metrics={"patientsEvaluated": 3, "successfulMatches": 3},
        warnings=("MAX_TOTAL_REACHED",),
    ),
    Example(
        "15 expiry counts from the match",
        [],
        [campaign("C1", 0, ["STA"], total=10000), campaign("C2", 0, ["STB"], total=15000)],
        {},
        {"C1": 10000, "C2": 0},
        held=EXPIRY_15,
        expired=("WX",),
        metrics={"expiredAllocations": 1, "fundsReturnedFromExpiry": 10000},
    ),
    Example(
        "16 expired money is reused in the same run",
        [wait(1, "STA", "08-01")],
        [campaign("C1", 0, ["STA"], total=10000), campaign("C2", 0, ["STB"], total=15000)],
        {"W1": "C1"},
        {"C1": 0, "C2": 0},
        held=EXPIRY_15,
        expired=("WX",),
    ),
    Example(
        "17a both switches off",
        [wait(2, "STA", "08-01")],
        [CFL],
        {"W2": "CFL"},
        config=MatchingConfig(
            enable_demographic_targeting=False, enable_geographic_targeting=False
        ),
        results={"STA": {"targetingMatches": 0, "targetingMismatches": 1}},
    ),
    Example(
        "17b geographic on excludes on state",
        [wait(2, "STA", "08-01")],
        [CFL],
        {},
        config=MatchingConfig(enable_demographic_targeting=False, enable_geographic_targeting=True),
        metrics={"skippedDueToNoFunding": 1},
    ),
    Example(
        "17c demographic on excludes on gender",
        [wait(2, "STA", "08-01")],
        [CFL],
        {},
        config=MatchingConfig(enable_demographic_targeting=True, enable_geographic_targeting=False),
        metrics={"skippedDueToNoFunding": 1},
    ),
    Example(
        "17d both on",
        [wait(2, "STA", "08-01")],
        [CFL],
        {},
        metrics={"skippedDueToNoFunding": 1},
    ),
    Example(
        "18 LGA targeting reads the profile city",
        [wait(1, "STA", "08-01"), wait(3, "STA", "08-02")],
        [campaign("CL", 20000, ["STA"], lgas=["Ikeja"])],
        {"W1": "CL"},
        {"CL": 10000},
        metrics={"skippedDueToNoFunding": 1},
    ),
    Example(
        "19 campaign eligibility: status, expiry, pool only as fallback",
        [wait(1, "STA", "08-01")],
        [
            campaign("CS1", 50000, ["STA"], status="SUSPENDED"),
            campaign("CP", 50000, ["STA"], status="PENDING"),
            campaign("CD", 50000, ["STA"], status="DELETED"),
            campaign("CE", 50000, ["STA"], expires=datetime(2025, 8, 31)),
            pool(30000, types=["STA"]),
        ],
        {"W1": GENERAL_POOL_ID},
        {GENERAL_POOL_ID: 20000, "CS1": 50000, "CP": 50000, "CD": 50000, "CE": 50000},
    ),
    Example(
        "20 existing match for the type",
        [wait(3, "STA", "08-02")],
        [campaign("C1", 50000, ["STA"])],
        {},
        {"C1": 50000},
        held=[held("WZ", "U3", "STA")],
        metrics={"skippedDueToExistingMatch": 1, "patientsEvaluated": 0},
        results={"STA": {"skippedDueToExisting": 1}},
    ),
]


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_worked_example(example: Example) -> None:
    snapshot = inputs(example.pending, example.campaigns, example.held)
    decisions = run(snapshot, example.config)

    assert matches(decisions) == example.matched
    after = balances(snapshot, decisions)
    assert {cid: after[cid] for cid in example.balances} == {
        cid: to_kobo(naira) for cid, naira in example.balances.items()
    }
    metrics = decisions.metrics.as_dict()
    assert {key: metrics[key] for key in example.metrics} == example.metrics
    rows = {r.screening_type_id: r.as_columns() for r in decisions.screening_types}
    for type_id, expected in example.results.items():
        assert {key: rows[type_id][key] for key in expected} == expected
    assert tuple(x.waitlist_id for x in decisions.expiries) == example.expired
    assert tuple(w.get("type") for w in decisions.warnings) == example.warnings
    assert decisions.errors == ()
    assert decisions.status == "COMPLETED"
    # Every match reserves the price; totalAmount moves only for deleted-campaign refunds.
    assert all(
        a.amount_kobo == TYPES[a.screening_type_id].price_kobo for a in decisions.allocations
    )
    assert totals(snapshot, decisions) == {c.id: c.total_kobo for c in snapshot.campaigns}


# -- details of particular examples -------------------------------------------------------------


def test_example_1_logs_in_order() -> None:
    decisions = run(inputs([wait(1, "STA", "08-01")], [campaign("C1", 10000, ["STA"])]))
    assert [(line.level, line.message) for line in decisions.logs] == [
        ("INFO", "Expiry phase: 0 allocations expired, ₦0.00 returned"),
        ("INFO", "Processing patient U1"),
        ("INFO", "Successfully matched patient U1"),
    ]
    processing, success = decisions.logs[1:]
    assert processing.context == {
        "patientId": "U1",
        "waitlistId": "W1",
        "screeningTypeId": "STA",
        "joinedAt": "2025-08-01T09:00:00.000Z",
    }
    (allocation,) = decisions.allocations
    assert success is allocation.log
    assert success.allocation_id == allocation.id == "allocation-1"
    assert success.context == {
        "patientId": "U1",
        "campaignId": "C1",
        "campaignTitle": "C1 title",
        "amountToAllocate": 10000.0,
        "isGeneralPool": False,
        "screeningTypeId": "STA",
        "waitlistId": "W1",
    }
    assert (success.patient_id, success.campaign_id, success.screening_type_id) == (
        "U1",
        "C1",
        "STA",
    )
    assert allocation.campaign_owner_id == "donor-C1"
    assert allocation.screening_type_name == "Cervical Cancer Screening"


def test_example_2_pool_match_names_the_system_owner() -> None:
    snapshot = inputs([wait(1, "STA", "08-01")], [campaign("C1", 9999.99, ["STA"]), pool(25000)])
    (allocation,) = run(snapshot).allocations
    assert allocation.is_general_pool
    assert allocation.campaign_owner_id == "general-public"
    assert allocation.log.context["isGeneralPool"] is True


def test_example_3_rerun_gives_the_same_outcome() -> None:
    snapshot = inputs([wait(1, "STA", "08-01")], [campaign("C1", 9000, ["STA"]), pool(5000)])
    first, second = run(snapshot), run(snapshot)
    assert first == second
    assert first.allocations == ()
    assert first.logs[-1].level == "WARNING"
    assert first.logs[-1].message == "No funding available for patient U1"
    assert first.logs[-1].context == {
        "patientId": "U1",
        "screeningTypeId": "STA",
        "reason": "No suitable campaigns with available funding",
    }
    assert [s.reason for s in first.skips] == [SkipReason.NO_FUNDING]


def test_example_6_scores() -> None:
    campaigns = [
        campaign("CG", 10000, ["STA"], gender="FEMALE"),
        campaign("CS", 10000, ["STA"], states=["lagos state"]),
        campaign("CL", 10000, ["STA"], lgas=["Ikeja"]),
        campaign("CSG", 10000, ["STA"], gender="FEMALE", states=["Lagos State"], ages="30-40"),
    ]
    scores = {}
    for c in campaigns:
        (allocation,) = run(inputs([wait(1, "STA", "08-01")], [c])).allocations
        scores[c.id] = allocation.targeting_score
    assert scores == {"CG": 15, "CS": 20, "CL": 25, "CSG": 45}
    full = campaign(
        "ALL", 10000, ["STA"], gender="FEMALE", states=["Lagos State"], lgas=["Ikeja"], ages="30-40"
    )
    (allocation,) = run(inputs([wait(1, "STA", "08-01")], [full])).allocations
    assert allocation.targeting_score == 70


def test_example_11_limit_skip_is_logged() -> None:
    snapshot = inputs(
        [wait(1, "STA", "08-01", suffix="a"), wait(1, "STB", "08-02", suffix="b")],
        [campaign("CA", 100000, ["STA"]), campaign("CB", 100000, ["STB"])],
        [held("H-D", "U1", "STD"), held("H-E", "U1", "STE")],
    )
    decisions = run(snapshot)
    (skip_log,) = [line for line in decisions.logs if line.level == "WARNING"]
    assert skip_log.message == "Skipping patient U1 - active allocation limit reached"
    assert skip_log.context == {
        "patientId": "U1",
        "waitlistId": "W1b",
        "screeningTypeId": "STB",
        "activeAllocations": 3,
    }
    processed = [r.screening_type_id for r in decisions.screening_types]
    assert processed == ["STA", "STB"]


def test_example_13_unevaluated_entries_get_no_log_row() -> None:
    snapshot = inputs(
        [wait(1, "STA", "08-01"), wait(3, "STA", "08-02"), wait(4, "STA", "08-03")],
        [campaign("CA", 100000, ["STA"])],
    )
    decisions = run(snapshot, MatchingConfig(patients_per_screening_type=2))
    assert "W4" not in {line.waitlist_id for line in decisions.logs}
    assert decisions.warnings == ()  # the batch size, not maxTotalPatients, stopped it


def test_example_14_max_total_warning_once() -> None:
    snapshot = inputs(
        [
            wait(1, "STA", "08-01"),
            wait(4, "STB", "08-02"),
            wait(3, "STA", "08-03"),
            wait(2, "STB", "08-04"),
            wait(5, "STC", "08-05"),
        ],
        [
            campaign("CA", 100000, ["STA"]),
            campaign("CB", 100000, ["STB"]),
            campaign("CC", 100000, ["STC"]),
        ],
    )
    decisions = run(snapshot, MatchingConfig(max_total_patients=3))
    assert decisions.warnings == (
        {
            "type": "MAX_TOTAL_REACHED",
            "maxTotalPatients": 3,
            "timestamp": "2025-09-01T12:00:00.000Z",
        },
    )
    warned = [line for line in decisions.logs if line.level == "WARNING"]
    assert [line.message for line in warned] == [
        "maxTotalPatients reached; remaining entries not evaluated"
    ]
    stc = decisions.screening_types[-1]
    assert (stc.screening_type_id, stc.patients_found, stc.patients_selected) == ("STC", 1, 0)
    assert decisions.metrics.screening_types_processed == 2


def test_max_total_exhausted_exactly_at_the_end_gives_no_warning() -> None:
    snapshot = inputs(
        [wait(1, "STA", "08-01"), wait(3, "STA", "08-02")], [campaign("CA", 100000, ["STA"])]
    )
    decisions = run(snapshot, MatchingConfig(max_total_patients=2))
    assert len(decisions.allocations) == 2
    assert decisions.warnings == ()


def test_example_15_expiry_details() -> None:
    snapshot = inputs(
        [],
        [campaign("C1", 0, ["STA"], total=10000), campaign("C2", 0, ["STB"], total=15000)],
        EXPIRY_15,
    )
    decisions = run(snapshot)
    (expiry,) = decisions.expiries
    assert expiry == Expiry(
        waitlist_id="WX",
        allocation_id="A-WX",
        patient_id="U3",
        screening_type_id="STA",
        screening_type_name="Cervical Cancer Screening",
        campaign_id="C1",
        campaign_title="C1 title",
        refund_campaign_id="C1",
        amount_kobo=to_kobo(10000),
        matched_at=datetime(2025, 7, 25, 12, 0),
        allocation_age_days=38,
        log=expiry.log,
    )
    assert not expiry.refunded_to_pool
    assert expiry.log.message == "Expired allocation for patient U3"
    assert expiry.log.allocation_id == "A-WX"
    assert expiry.log.context == {
        "patientId": "U3",
        "campaignId": "C1",
        "waitlistId": "WX",
        "screeningTypeId": "STA",
        "amountReturned": 10000.0,
        "allocationAge": 38,
        "reason": "Allocation expired due to inactivity",
    }
    summary = decisions.logs[-1]
    assert summary.message == "Expiry phase: 1 allocations expired, ₦10000.00 returned"
    assert summary.context == {"expiredAllocations": 1, "fundsReturned": 10000.0}
    assert decisions.metrics.as_dict()["fundsReturnedFromExpiry"] == 10000.0


def test_example_15_refund_is_the_allocated_amount_not_the_current_price() -> None:
    types = [replace(TYPES["STA"], price_kobo=to_kobo(12000)), TYPES["STB"]]
    snapshot = inputs(
        [], [campaign("C1", 0, ["STA"]), campaign("C2", 0, ["STB"])], EXPIRY_15, types=types
    )
    (expiry,) = run(snapshot).expiries
    assert expiry.amount_kobo == to_kobo(10000)


def test_example_16_expiry_comes_before_the_match_in_the_decisions() -> None:
    snapshot = inputs(
        [wait(1, "STA", "08-01")],
        [campaign("C1", 0, ["STA"], total=10000), campaign("C2", 0, ["STB"])],
        EXPIRY_15,
    )
    steps = plan(snapshot, MatchingConfig(), T0)
    first = next(steps)
    second = steps.send(COMMITTED)
    assert isinstance(first, Expiry)
    assert isinstance(second, Allocation)
    assert second.campaign_id == "C1"


def test_example_18_lga_score() -> None:
    snapshot = inputs(
        [wait(1, "STA", "08-01"), wait(3, "STA", "08-02")],
        [campaign("CL", 20000, ["STA"], lgas=["Ikeja"])],
    )
    (allocation,) = run(snapshot).allocations
    assert allocation.targeting_score == 25


def test_example_20_existing_match_skip_is_logged() -> None:
    snapshot = inputs(
        [wait(3, "STA", "08-02")], [campaign("C1", 50000, ["STA"])], [held("WZ", "U3", "STA")]
    )
    decisions = run(snapshot)
    assert (
        decisions.logs[-1].message
        == "Skipping patient U3 - already matched for this screening type"
    )
    assert [s.reason for s in decisions.skips] == [SkipReason.EXISTING_MATCH]
    assert decisions.metrics.screening_types_processed == 0


# -- expiry rules (§4.2) -------------------------------------------------------------------------


EXPIRY_CASES = [
    # (name, held entry, expired?, refund campaign, refund kobo)
    (
        "matched 31 days ago",
        held("H", "U1", "STA", campaign_id="C1", matched=T0 - timedelta(days=31)),
        True,
        "C1",
        1_000_000,
    ),
    (
        "matched exactly 30 days ago is not older",
        held("H", "U1", "STA", campaign_id="C1", matched=T0 - timedelta(days=30)),
        False,
        None,
        0,
    ),
    (
        "no execution: joinedAt is the clock",
        held("H", "U1", "STA", campaign_id="C1", matched=None, joined=T0 - timedelta(days=40)),
        True,
        "C1",
        1_000_000,
    ),
    (
        "null amount refunds the current price",
        held("H", "U2", "STB", campaign_id="C1", naira=None, matched=T0 - timedelta(days=45)),
        True,
        "C1",
        1_500_000,
    ),
    (
        "claimed allocations do not expire",
        held("H", "U1", "STA", campaign_id="C1", claimed=True, matched=T0 - timedelta(days=90)),
        False,
        None,
        0,
    ),
    (
        "CLAIMED entries do not expire",
        held("H", "U1", "STA", status="CLAIMED", campaign_id="C1", matched=T0 - timedelta(days=90)),
        False,
        None,
        0,
    ),
    ("entry without allocation", held("H", "U1", "STA", allocation=False), False, None, 0),
    (
        "deleted campaign refunds the pool",
        held("H", "U1", "STA", campaign_id="CDEL", matched=T0 - timedelta(days=31)),
        True,
        GENERAL_POOL_ID,
        1_000_000,
    ),
    (
        "suspended campaign still gets its money",
        held("H", "U1", "STA", campaign_id="CSUS", matched=T0 - timedelta(days=31)),
        True,
        "CSUS",
        1_000_000,
    ),
]


@pytest.mark.parametrize(
    ("name", "entry", "expires", "refund_to", "kobo"),
    EXPIRY_CASES,
    ids=[case[0] for case in EXPIRY_CASES],
)
def test_expiry_rule(
    name: str, entry: HeldEntry, expires: bool, refund_to: str | None, kobo: int
) -> None:
    snapshot = inputs(
        [],
        [
            campaign("C1", 0, ["STA"], total=10000),
            campaign("CDEL", 0, ["STA"], status="DELETED"),
            campaign("CSUS", 0, ["STA"], status="SUSPENDED", total=10000),
            pool(500),
        ],
        [entry],
    )
    decisions = run(snapshot)
    assert [x.waitlist_id for x in decisions.expiries] == (["H"] if expires else [])
    if expires:
        (expiry,) = decisions.expiries
        assert (expiry.refund_campaign_id, expiry.amount_kobo) == (refund_to, kobo)
        assert refund_to is not None
        before = {c.id: c.available_kobo for c in snapshot.campaigns}[refund_to]
        assert balances(snapshot, decisions)[refund_to] == before + kobo


def test_refund_of_a_deleted_campaign_grows_the_pool_total() -> None:
    snapshot = inputs(
        [],
        [campaign("CDEL", 0, ["STA"], status="DELETED"), pool(500)],
        [held("H", "U1", "STA", campaign_id="CDEL", matched=T0 - timedelta(days=31))],
    )
    decisions = run(snapshot)
    assert totals(snapshot, decisions)[GENERAL_POOL_ID] == to_kobo(10500)
    assert totals(snapshot, decisions)["CDEL"] == 0
    assert decisions.expiries[0].log.context["refundedToCampaignId"] == GENERAL_POOL_ID


def test_expiries_run_in_matched_at_then_id_order() -> None:
    old = T0 - timedelta(days=50)
    snapshot = inputs(
        [],
        [campaign("C1", 0, ["STA"])],
        [
            held("H3", "U3", "STA", campaign_id="C1", matched=old + timedelta(days=1)),
            held("H2", "U2", "STA", campaign_id="C1", matched=old),
            held("H1", "U1", "STA", campaign_id="C1", matched=old),
        ],
    )
    assert [x.waitlist_id for x in run(snapshot).expiries] == ["H1", "H2", "H3"]


def test_expiry_frees_a_limit_slot_and_the_screening_type() -> None:
    # U1 holds 3 active allocations, one of them old: it expires first, then U1 may match again
    # for that very type.
    snapshot = inputs(
        [wait(1, "STA", "08-20")],
        [campaign("C1", 10000, ["STA"])],
        [
            held("H-A", "U1", "STA", campaign_id="C1", matched=T0 - timedelta(days=31)),
            held("H-B", "U1", "STB"),
            held("H-C", "U1", "STC"),
        ],
    )
    decisions = run(snapshot)
    assert [x.waitlist_id for x in decisions.expiries] == ["H-A"]
    assert matches(decisions) == {"W1": "C1"}
    assert balances(snapshot, decisions)["C1"] == to_kobo(10000)


# -- selection and choice (§6, §7) -----------------------------------------------------------------


def test_screening_types_go_in_order_of_their_oldest_entry_then_id() -> None:
    snapshot = inputs(
        [
            wait(1, "STC", "08-03"),
            wait(2, "STB", "08-01"),
            wait(3, "STA", "08-02"),
            WaitingEntry("W0", "U4", "STD", day("08-01")),
        ],
        [],
    )
    decisions = run(snapshot)
    assert [r.screening_type_id for r in decisions.screening_types] == [
        "STD",
        "STB",
        "STA",
        "STC",
    ]  # W0 < W2 on the tie


def test_shared_campaign_goes_to_the_first_group() -> None:
    snapshot = inputs(
        [wait(2, "STB", "08-02"), wait(1, "STA", "08-01")],
        [campaign("CBOTH", 15000, ["STA", "STB"])],
    )
    decisions = run(snapshot)
    assert matches(decisions) == {"W1": "CBOTH"}
    assert [s.waitlist_id for s in decisions.skips] == ["W2"]


def test_same_patient_twice_in_a_group_is_skipped_silently() -> None:
    snapshot = inputs(
        [wait(1, "STA", "08-01"), wait(1, "STA", "08-02", suffix="dup"), wait(3, "STA", "08-03")],
        [campaign("C1", 100000, ["STA"])],
    )
    decisions = run(snapshot, MatchingConfig(patients_per_screening_type=2))
    assert matches(decisions) == {"W1": "C1", "W3": "C1"}
    assert decisions.skips == ()
    assert "W1dup" not in {line.waitlist_id for line in decisions.logs}


def test_joined_at_ties_break_on_entry_id() -> None:
    snapshot = inputs(
        [
            WaitingEntry("W-b", "U1", "STA", day("08-01")),
            WaitingEntry("W-a", "U3", "STA", day("08-01")),
        ],
        [campaign("C1", 10000, ["STA"])],
    )
    assert matches(run(snapshot)) == {"W-a": "C1"}


def test_no_positive_price_is_an_error_and_skips_the_group() -> None:
    types = [replace(TYPES["STA"], price_kobo=0), TYPES["STB"]]
    snapshot = inputs(
        [wait(1, "STA", "08-01"), wait(2, "STB", "08-02")],
        [campaign("C1", 100000, ["STA", "STB"])],
        types=types,
    )
    decisions = run(snapshot)
    assert matches(decisions) == {"W2": "C1"}
    assert decisions.errors == (
        {
            "screeningTypeId": "STA",
            "error": "Screening type has no positive agreedPrice",
            "timestamp": "2025-09-01T12:00:00.000Z",
        },
    )
    assert decisions.status == "PARTIALLY_COMPLETED"
    sta = decisions.screening_types[0]
    assert (sta.patients_found, sta.patients_selected, sta.error) == (
        1,
        0,
        "Screening type has no positive agreedPrice",
    )
    assert decisions.metrics.screening_types_processed == 1


def test_inactive_pool_is_not_a_fallback() -> None:
    snapshot = inputs([wait(1, "STA", "08-01")], [pool(50000, status="SUSPENDED")])
    assert run(snapshot).allocations == ()


def test_targeting_compares_trimmed_and_case_insensitively() -> None:
    snapshot = inputs(
        [wait(1, "STA", "08-01")],
        [
            campaign(
                "C", 10000, ["STA"], gender="female", states=["  LAGOS state "], lgas=["ikeja "]
            )
        ],
    )
    (allocation,) = run(snapshot).allocations
    assert allocation.targeting_score == 15 + 20 + 25


def test_blank_target_values_do_not_target() -> None:
    snapshot = inputs(
        [wait(5, "STA", "08-01")],
        [campaign("C", 10000, ["STA"], states=[" "], lgas=[""], ages=" ")],
    )
    assert matches(run(snapshot)) == {"W5": "C"}


def test_missing_profile_makes_every_value_unknown() -> None:
    snapshot = inputs(
        [WaitingEntry("W9", "U9", "STA", day("08-01"))],
        [
            campaign("CAGE", 10000, ["STA"], ages="0-1"),
            campaign("CF", 10000, ["STA"], gender="MALE"),
        ],
    )
    (allocation,) = run(snapshot).allocations
    assert (allocation.campaign_id, allocation.targeting_score) == ("CAGE", 0)


@pytest.mark.parametrize(
    ("born", "ages", "eligible"),
    [
        (date(2025, 3, 1), "0-0", True),  # age 0 is a real age and 0 a real max (D-MAT-17)
        (date(2025, 3, 1), "1-5", False),
        (date(2000, 9, 2), "25-25", False),  # 24 until tomorrow
        (date(2000, 9, 1), "25-25", True),
    ],
)
def test_age_bounds(born: date, ages: str, eligible: bool) -> None:
    patients = [Patient("U1", "FEMALE", born, "Lagos State", "Ikeja")]
    snapshot = inputs(
        [wait(1, "STA", "08-01")], [campaign("C", 10000, ["STA"], ages=ages)], patients=patients
    )
    assert bool(run(snapshot).allocations) is eligible


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("18-65", (18, 65)),
        (" 30 - 40 ", (30, 40)),
        ("0-0", (0, 0)),
        ("abc-40", (0, 40)),
        ("30-", (30, 999)),
        ("30", (30, 999)),
        ("18-65-70", (18, 65)),
        ("18yrs-65yrs", (18, 65)),
        ("-", (0, 999)),
    ],
)
def test_parse_age_range(text: str, bounds: tuple[int, int]) -> None:
    assert parse_age_range(text) == bounds


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        (date(1960, 9, 1), date(2025, 9, 1), 65),
        (date(1990, 5, 10), date(2025, 9, 1), 35),
        (date(2001, 12, 31), date(2025, 9, 1), 23),
        (date(2000, 2, 29), date(2025, 2, 28), 24),
        (date(2000, 2, 29), date(2025, 3, 1), 25),
        (datetime(1990, 9, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2))), date(2025, 9, 1), 34),
    ],
)
def test_age_on(born: date, today: date, age: int) -> None:
    assert age_on(born, today) == age


def test_timezone_aware_now_decides_the_same() -> None:
    snapshot = inputs([wait(1, "STA", "08-01")], [campaign("C1", 10000, ["STA"])])
    naive = decide(snapshot, MatchingConfig(), T0)
    aware = decide(
        snapshot, MatchingConfig(), T0.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=1)))
    )
    assert naive == aware


# -- plan(): outcomes a store reports (§8.3) ------------------------------------------------------


def drive(snapshot: MatchingInputs, outcomes: list[Outcome]) -> tuple[list[Proposal], Decisions]:
    """Run plan() answering proposals with `outcomes` in order, then COMMITTED."""
    answers = iter(outcomes)
    proposals: list[Proposal] = []
    steps = plan(snapshot, MatchingConfig(), T0)
    try:
        proposal = next(steps)
        while True:
            proposals.append(proposal)
            proposal = steps.send(next(answers, COMMITTED))
    except StopIteration as done:
        decisions: Decisions = done.value
        return proposals, decisions


def test_entry_changed_is_a_warning_and_no_counter() -> None:
    snapshot = inputs(
        [wait(1, "STA", "08-01"), wait(3, "STA", "08-02")], [campaign("C1", 10000, ["STA"])]
    )
    proposals, decisions = drive(snapshot, [EntryChanged()])
    assert [p.waitlist_id for p in proposals] == ["W1", "W3"]
    assert matches(decisions) == {"W3": "C1"}
    assert decisions.warnings[0]["type"] == "ENTRY_CHANGED"
    assert any(
        line.message == "Waitlist entry W1 changed during matching" for line in decisions.logs
    )
    metrics = decisions.metrics
    assert (metrics.successful_matches, metrics.skipped_due_to_no_funding) == (1, 0)
    assert decisions.screening_types[0].patients_processed == 2
    assert decisions.status == "COMPLETED"


def test_campaign_changed_refreshes_and_decides_again() -> None:
    snapshot = inputs(
        [wait(1, "STA", "08-01")],
        [campaign("C-BIG", 50000, ["STA"]), campaign("C-SMALL", 20000, ["STA"])],
    )
    proposals, decisions = drive(snapshot, [CampaignChanged("ACTIVE", to_kobo(5000))])
    assert [p.campaign_id for p in proposals] == ["C-BIG", "C-SMALL"]
    first, second = proposals
    assert isinstance(first, Allocation)
    assert isinstance(second, Allocation)
    assert first.id == second.id  # the rolled-back attempt's id is reused
    assert matches(decisions) == {"W1": "C-SMALL"}
    big = {m.campaign_id: m for m in decisions.fund_movements}["C-BIG"]
    assert (big.available_after_kobo, big.adjusted_kobo) == (to_kobo(5000), to_kobo(-45000))


def test_three_campaign_conflicts_count_as_no_funding() -> None:
    snapshot = inputs([wait(1, "STA", "08-01")], [campaign("C1", 50000, ["STA"])])
    still = CampaignChanged("ACTIVE", to_kobo(50000))
    proposals, decisions = drive(snapshot, [still, still, still])
    assert len(proposals) == 3
    assert decisions.allocations == ()
    assert decisions.metrics.skipped_due_to_no_funding == 1


def test_campaign_no_longer_active_falls_back_to_the_pool() -> None:
    snapshot = inputs([wait(1, "STA", "08-01")], [campaign("C1", 50000, ["STA"]), pool(10000)])
    _, decisions = drive(snapshot, [CampaignChanged("COMPLETED", to_kobo(50000))])
    assert matches(decisions) == {"W1": GENERAL_POOL_ID}


def test_failed_match_is_an_error() -> None:
    snapshot = inputs([wait(1, "STA", "08-01")], [campaign("C1", 50000, ["STA"])])
    _, decisions = drive(snapshot, [Failed("deadlock detected")])
    assert decisions.allocations == ()
    assert decisions.errors == (
        {
            "patientId": "U1",
            "screeningTypeId": "STA",
            "waitlistId": "W1",
            "error": "deadlock detected",
            "timestamp": "2025-09-01T12:00:00.000Z",
        },
    )
    assert decisions.logs[-1].message == "Error processing patient U1: deadlock detected"
    assert decisions.status == "PARTIALLY_COMPLETED"
    assert balances(snapshot, decisions)["C1"] == to_kobo(50000)


def test_expiry_outcomes() -> None:
    old = T0 - timedelta(days=40)
    snapshot = inputs(
        [],
        [campaign("C1", 0, ["STA"])],
        [
            held("H1", "U1", "STA", campaign_id="C1", matched=old),
            held("H2", "U2", "STA", campaign_id="C1", matched=old),
            held("H3", "U3", "STA", campaign_id="C1", matched=old),
        ],
    )
    _, decisions = drive(snapshot, [EntryChanged(), Failed("boom")])
    assert [x.waitlist_id for x in decisions.expiries] == ["H3"]
    assert balances(snapshot, decisions)["C1"] == to_kobo(10000)
    assert decisions.warnings == (
        {
            "waitlistId": "H2",
            "patientId": "U2",
            "error": "boom",
            "timestamp": "2025-09-01T12:00:00.000Z",
        },
    )
    assert "Failed to expire waitlist H2: boom" in [line.message for line in decisions.logs]
    assert decisions.errors == ()


def test_plan_rejects_anything_but_an_outcome() -> None:
    steps = plan(
        inputs([wait(1, "STA", "08-01")], [campaign("C1", 10000, ["STA"])]), MatchingConfig(), T0
    )
    next(steps)
    with pytest.raises(TypeError, match="Outcome"):
        steps.send(True)  # type: ignore[arg-type]


def test_campaign_changed_is_not_an_expiry_outcome() -> None:
    snapshot = inputs(
        [],
        [campaign("C1", 0, ["STA"])],
        [held("H1", "U1", "STA", campaign_id="C1", matched=T0 - timedelta(days=40))],
    )
    steps = plan(snapshot, MatchingConfig(), T0)
    next(steps)
    with pytest.raises(TypeError):
        steps.send(CampaignChanged("ACTIVE", 0))


# -- inputs and money ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot", "message"),
    [
        (
            inputs([], [campaign("C1", 1, ["STA"]), campaign("C1", 1, ["STA"])]),
            "campaign 'C1' given twice",
        ),
        (
            inputs([wait(1, "STA", "08-01"), wait(1, "STA", "08-01")]),
            "pending entry 'W1' given twice",
        ),
        (inputs([wait(1, "STZ", "08-01")]), "STZ"),
        (
            inputs(
                [],
                [],
                [held("H", "U1", "STA", campaign_id="GONE", matched=T0 - timedelta(days=99))],
            ),
            "campaign 'GONE'",
        ),
    ],
)
def test_inconsistent_inputs_raise_before_any_proposal(
    snapshot: MatchingInputs, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        decide(snapshot, MatchingConfig(), T0)


def test_missing_pool_for_a_deleted_campaign_refund_raises() -> None:
    snapshot = inputs(
        [],
        [campaign("CD", 0, ["STA"], status="DELETED")],
        [held("H", "U1", "STA", campaign_id="CD", matched=T0 - timedelta(days=99))],
    )
    snapshot = replace(
        snapshot, campaigns=[c for c in snapshot.campaigns if c.id != GENERAL_POOL_ID]
    )
    with pytest.raises(ValueError, match="general pool"):
        decide(snapshot, MatchingConfig(), T0)


@pytest.mark.parametrize(
    ("naira", "kobo"),
    [
        (10000.0, 1_000_000),
        (9999.99, 999_999),
        (0.1 + 0.2, 30),
        (1.005, 101),  # half away from zero on the decimal the float stands for
        (-1.005, -101),
        (Decimal("12.345"), 1235),
        ("0.004", 0),
        (7, 700),
    ],
)
def test_to_kobo(naira: float | Decimal | str | int, kobo: int) -> None:
    assert to_kobo(naira) == kobo


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "NaN"])
def test_to_kobo_rejects_non_finite(bad: float | str) -> None:
    with pytest.raises(ValueError, match="finite"):
        to_kobo(bad)


def test_kobo_back_to_naira() -> None:
    assert kobo_to_naira(999_999) == Decimal("9999.99")
    assert kobo_to_float(999_999) == 9999.99
    assert kobo_to_float(30) == 0.3


def test_many_odd_cent_matches_conserve_money_exactly() -> None:
    # Ten thousand 0.1-naira-ish steps drift in floats; in kobo they cannot.
    types = [ScreeningType("STA", "Cervical Cancer Screening", to_kobo(0.1))]
    patients = [Patient(f"P{i}") for i in range(3000)]
    pending = [
        WaitingEntry(f"E{i}", f"P{i}", "STA", day("08-01") + timedelta(seconds=i))
        for i in range(3000)
    ]
    snapshot = inputs(pending, [campaign("C1", 250.05, ["STA"])], types=types, patients=patients)
    config = MatchingConfig(patients_per_screening_type=100, max_total_patients=1000)
    decisions = run(snapshot, config)
    assert len(decisions.allocations) == 100
    assert balances(snapshot, decisions)["C1"] == to_kobo(240.05)


def test_decisions_are_deterministic_and_ids_come_from_new_id() -> None:
    snapshot = inputs(
        [wait(1, "STA", "08-01"), wait(3, "STA", "08-02")], [campaign("C1", 100000, ["STA"])]
    )
    ids = iter(["uuid-1", "uuid-2"])
    decisions = decide(snapshot, MatchingConfig(), T0, new_id=lambda: next(ids))
    assert [a.id for a in decisions.allocations] == ["uuid-1", "uuid-2"]
    assert decide(snapshot, MatchingConfig(), T0) == decide(snapshot, MatchingConfig(), T0)


def test_patients_fixture_matches_the_spec_ages() -> None:
    ages = {
        pid: age_on(p.date_of_birth, T0.date()) for pid, p in PATIENTS.items() if p.date_of_birth
    }
    assert ages == {"U1": 35, "U2": 55, "U3": 23, "U4": 65, "U5": 40}
