"""Time `actors.matching.algorithm.decide` on a synthetic 100,000-entry / 500-campaign snapshot.

Run: `.venv/bin/python bench/matching_decide_bench.py [--entries N] [--campaigns M] [--repeat R]`.
Prints one JSON object: sizes, the build time and, per configuration, the min/median seconds of
`decide` with the counts it produced. Entries are shuffled (the store delivers them sorted, which
is cheaper), so the figure is a worst case for the sort.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.matching.algorithm import decide
from actors.matching.config import MatchingConfig
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

NOW = datetime(2025, 9, 1, 12, 0)  # T0, naive UTC as the store passes it
STATES = [f"State {i}" for i in range(37)]
LGAS = [f"LGA {i}" for i in range(120)]


def build(
    n_entries: int, n_campaigns: int, n_types: int, seed: int
) -> tuple[MatchingInputs, dict[str, int]]:
    rng = random.Random(seed)
    types = [
        ScreeningType(f"st-{i}", f"Screening {i}", rng.choice([1_000_000, 1_500_000, 1_200_050]))
        for i in range(n_types)
    ]
    n_patients = max(1, int(n_entries * 0.6))
    patients = [
        Patient(
            id=f"u-{i}",
            gender=rng.choice(["MALE", "FEMALE", None]),
            date_of_birth=datetime(1940 + rng.randrange(70), 1 + rng.randrange(12), 1).date(),
            state=rng.choice(STATES),
            lga=rng.choice(LGAS),
        )
        for i in range(n_patients)
    ]
    weights = [1 / (i + 1) for i in range(n_types)]
    pending = [
        WaitingEntry(
            id=f"w-{i}",
            patient_id=f"u-{rng.randrange(n_patients)}",
            screening_type_id=rng.choices(types, weights)[0].id,
            joined_at=NOW - timedelta(minutes=rng.randrange(180 * 24 * 60)),
        )
        for i in range(n_entries)
    ]
    rng.shuffle(pending)
    held = []
    for i in range(n_entries // 5):
        started = NOW - timedelta(hours=rng.randrange(60 * 24))
        held.append(
            HeldEntry(
                id=f"h-{i}",
                patient_id=f"u-{rng.randrange(n_patients)}",
                screening_type_id=rng.choice(types).id,
                status="MATCHED",
                joined_at=started - timedelta(days=3),
                allocation=ExistingAllocation(
                    id=f"a-{i}",
                    campaign_id=f"c-{rng.randrange(n_campaigns)}",
                    amount_allocated_kobo=1_000_000,
                    execution_started_at=started,
                ),
            )
        )
    campaigns = []
    for i in range(n_campaigns):
        targeted = rng.random() < 0.4
        low = rng.randrange(0, 60)
        campaigns.append(
            Campaign(
                id=f"c-{i}",
                donor_id=f"d-{i % 97}",
                title=f"Campaign {i}",
                status=rng.choices(["ACTIVE", "COMPLETED", "DELETED"], [0.9, 0.05, 0.05])[0],
                available_kobo=rng.randrange(0, 50_000_000_00),
                total_kobo=60_000_000_00,
                screening_type_ids=frozenset(t.id for t in rng.sample(types, rng.randint(1, 3))),
                created_at=NOW - timedelta(days=rng.randrange(400), seconds=i),
                target_gender=rng.choice(["MALE", "FEMALE", None]) if targeted else None,
                target_age_range=f"{low}-{low + rng.randrange(10, 50)}" if targeted else None,
                target_states=tuple(rng.sample(STATES, 3))
                if targeted and rng.random() < 0.5
                else (),
                target_lgas=tuple(rng.sample(LGAS, 5)) if targeted and rng.random() < 0.3 else (),
                expiry_date=NOW + timedelta(days=rng.randrange(-30, 90))
                if rng.random() < 0.1
                else None,
            )
        )
    campaigns.append(
        Campaign(
            id=GENERAL_POOL_ID,
            donor_id="general-public",
            title="General donation public pool",
            status="ACTIVE",
            available_kobo=10_000_000_00,
            total_kobo=10_000_000_00,
            screening_type_ids=frozenset(),
            created_at=NOW - timedelta(days=500),
        )
    )
    inputs = MatchingInputs(types, campaigns, patients, pending, held)
    sizes = {
        "pending_entries": len(pending),
        "held_entries": len(held),
        "campaigns": n_campaigns,
        "patients": n_patients,
        "screening_types": n_types,
    }
    return inputs, sizes


def time_decide(inputs: MatchingInputs, config: MatchingConfig, repeat: int) -> dict[str, object]:
    timings = []
    decisions = None
    for _ in range(repeat):
        started = time.perf_counter()
        decisions = decide(inputs, config, NOW)
        timings.append(time.perf_counter() - started)
    assert decisions is not None
    metrics = decisions.metrics
    return {
        "config": config.batch_config(),
        "seconds_min": round(min(timings), 4),
        "seconds_median": round(statistics.median(timings), 4),
        "seconds_max": round(max(timings), 4),
        "allocations": metrics.successful_matches,
        "expiries": metrics.expired_allocations,
        "patients_evaluated": metrics.patients_evaluated,
        "skipped_no_funding": metrics.skipped_due_to_no_funding,
        "skipped_limits": metrics.skipped_due_to_limits,
        "skipped_existing": metrics.skipped_due_to_existing_match,
        "log_lines": len(decisions.logs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--campaigns", type=int, default=500)
    parser.add_argument("--types", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20250901)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    inputs, sizes = build(args.entries, args.campaigns, args.types, args.seed)
    build_seconds = time.perf_counter() - started
    configs = {
        "defaults": MatchingConfig(),
        "largest_caps": MatchingConfig(patients_per_screening_type=100, max_total_patients=1000),
    }
    report = {
        "benchmark": "matching_decide",
        "python": sys.version.split()[0],
        "sizes": sizes,
        "build_seconds": round(build_seconds, 3),
        "runs": {name: time_decide(inputs, cfg, args.repeat) for name, cfg in configs.items()},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
