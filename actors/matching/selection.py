"""Phase 2 of a run (spec/matching.md §6): which pending entries are examined, in what order.

Screening types go oldest-waiting first; within a type, entries by (joinedAt, id), one per
patient, up to the per-type batch and the run's total; a patient at the active-allocation limit
or already matched for the type is skipped without using up the batch.
"""

from __future__ import annotations

from collections.abc import Generator
from operator import attrgetter
from typing import Final

from actors.matching.allocation import evaluate
from actors.matching.decisions import ERROR, WARNING, Skip, SkipReason
from actors.matching.inputs import WaitingEntry
from actors.matching.outcomes import Outcome, Proposal
from actors.matching.run import Run, Tally

#: A run never raises a patient's active allocations above this (a constant, not a knob: §2).
ACTIVE_ALLOCATION_LIMIT: Final = 3

NO_POSITIVE_PRICE: Final = "Screening type has no positive agreedPrice"

ENTRY_ORDER = attrgetter("joined_at", "id")


def match(run: Run) -> Generator[Proposal, Outcome, None]:
    """Each screening type's candidates in turn, each decided by `allocation.evaluate`."""
    groups: dict[str, list[WaitingEntry]] = {}
    for entry in run.inputs.pending:
        group = groups.get(entry.screening_type_id)
        if group is None:
            groups[entry.screening_type_id] = [entry]
        else:
            group.append(entry)
    for group in groups.values():
        group.sort(key=ENTRY_ORDER)
    # The type whose oldest pending entry is oldest goes first (§6.1).
    order = sorted(groups, key=lambda type_id: ENTRY_ORDER(groups[type_id][0]))

    batch = run.config.patients_per_screening_type
    max_total = run.config.max_total_patients
    for type_id in order:
        entries = groups[type_id]
        screening_type = run.types[type_id]
        tally = Tally(screening_type, len(entries))
        run.tallies.append(tally)
        if screening_type.price_kobo <= 0:
            tally.error = NO_POSITIVE_PRICE
            run.errors.append(
                {
                    "screeningTypeId": type_id,
                    "error": NO_POSITIVE_PRICE,
                    "timestamp": run.stamp,
                }
            )
            run.log(ERROR, NO_POSITIVE_PRICE, {"screeningTypeId": type_id})
            continue
        cap = min(batch, max_total - run.evaluated)
        if cap <= 0:
            _max_total_reached(run)
            continue
        selected = _select(run, entries, type_id, cap, tally)
        if not selected:
            continue
        run.types_processed += 1
        for entry in selected:
            yield from evaluate(run, entry, screening_type, tally)


def _select(
    run: Run, entries: list[WaitingEntry], type_id: str, cap: int, tally: Tally
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
        active = run.active.get(patient_id, 0)
        if active >= ACTIVE_ALLOCATION_LIMIT:
            run.limits += 1
            tally.limits += 1
            run.skips.append(Skip(entry.id, patient_id, type_id, SkipReason.ACTIVE_LIMIT))
            run.log(
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
        if run.matched.get(patient_id, {}).get(type_id, 0) > 0:
            run.existing += 1
            tally.existing += 1
            run.skips.append(Skip(entry.id, patient_id, type_id, SkipReason.EXISTING_MATCH))
            run.log(
                WARNING,
                f"Skipping patient {patient_id} - already matched for this screening type",
                {"patientId": patient_id, "waitlistId": entry.id, "screeningTypeId": type_id},
            )
            continue
        selected.append(entry)
    tally.selected = len(selected)
    run.evaluated += len(selected)
    if stopped and run.evaluated >= run.config.max_total_patients:
        _max_total_reached(run)
    return selected


def _max_total_reached(run: Run) -> None:
    if run.max_total_warned:
        return
    run.max_total_warned = True
    limit = run.config.max_total_patients
    run.warnings.append(
        {"type": "MAX_TOTAL_REACHED", "maxTotalPatients": limit, "timestamp": run.stamp}
    )
    run.log(
        WARNING,
        "maxTotalPatients reached; remaining entries not evaluated",
        {"maxTotalPatients": limit},
    )
