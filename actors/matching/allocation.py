"""Phase 3 of a run (spec/matching.md §8): fund one selected entry, or record why not.

The campaign choice is retried after a `CampaignChanged` (someone else moved its money) up to
`MAX_CAMPAIGN_ATTEMPTS` times; the run's amounts and counters change only on `COMMITTED`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Final

from actors.matching.decisions import ERROR, INFO, WARNING, Allocation, Skip, SkipReason
from actors.matching.funds import Fund, choose_fund
from actors.matching.inputs import ScreeningType, WaitingEntry
from actors.matching.outcomes import (
    CampaignChanged,
    Committed,
    EntryChanged,
    Outcome,
    Proposal,
    expect_outcome,
)
from actors.matching.run import Run, Tally
from actors.matching.units import iso, kobo_to_float

#: Guarded-decrement conflicts tolerated for one candidate before it counts as unfunded (§8.3).
MAX_CAMPAIGN_ATTEMPTS: Final = 3

NO_FUNDING_REASON: Final = "No suitable campaigns with available funding"


def evaluate(
    run: Run, entry: WaitingEntry, screening_type: ScreeningType, tally: Tally
) -> Generator[Proposal, Outcome, None]:
    patient_id = entry.patient_id
    type_id = screening_type.id
    price = screening_type.price_kobo
    run.log(
        INFO,
        f"Processing patient {patient_id}",
        {
            "patientId": patient_id,
            "waitlistId": entry.id,
            "screeningTypeId": type_id,
            "joinedAt": iso(entry.joined_at),
        },
    )
    person = run.person(patient_id)
    allocation_id = run.new_id()
    for _attempt in range(MAX_CAMPAIGN_ATTEMPTS):
        choice = choose_fund(
            run.by_type.get(type_id, ()),
            run.pool,
            person,
            price,
            demographic=run.config.enable_demographic_targeting,
            geographic=run.config.enable_geographic_targeting,
        )
        if choice is None:
            break
        fund, score = choice
        is_pool = fund is run.pool
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
            log=run.log(
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
        outcome = expect_outcome((yield proposal))
        if isinstance(outcome, Committed):
            _commit(run, proposal, fund, tally)
            return
        if isinstance(outcome, CampaignChanged):
            fund.adjusted += outcome.available_kobo - fund.remaining
            fund.remaining = outcome.available_kobo
            fund.status = outcome.status
            continue
        if isinstance(outcome, EntryChanged):
            run.skips.append(Skip(entry.id, patient_id, type_id, SkipReason.ENTRY_CHANGED))
            run.warnings.append(
                {
                    "type": "ENTRY_CHANGED",
                    "waitlistId": entry.id,
                    "patientId": patient_id,
                    "screeningTypeId": type_id,
                    "timestamp": run.stamp,
                }
            )
            run.log(
                WARNING,
                f"Waitlist entry {entry.id} changed during matching",
                {"patientId": patient_id, "waitlistId": entry.id, "screeningTypeId": type_id},
            )
            return
        run.skips.append(Skip(entry.id, patient_id, type_id, SkipReason.ERROR))
        run.errors.append(
            {
                "patientId": patient_id,
                "screeningTypeId": type_id,
                "waitlistId": entry.id,
                "error": outcome.message,
                "timestamp": run.stamp,
            }
        )
        run.log(
            ERROR,
            f"Error processing patient {patient_id}: {outcome.message}",
            {"patientId": patient_id, "screeningTypeId": type_id, "error": outcome.message},
        )
        return
    run.no_funding += 1
    tally.no_funding += 1
    run.skips.append(Skip(entry.id, patient_id, type_id, SkipReason.NO_FUNDING))
    run.log(
        WARNING,
        f"No funding available for patient {patient_id}",
        {"patientId": patient_id, "screeningTypeId": type_id, "reason": NO_FUNDING_REASON},
    )


def _commit(run: Run, allocation: Allocation, fund: Fund, tally: Tally) -> None:
    amount = allocation.amount_kobo
    fund.remaining -= amount
    fund.allocated += amount
    patient_id = allocation.patient_id
    run.active[patient_id] = run.active.get(patient_id, 0) + 1
    per_type = run.matched.setdefault(patient_id, {})
    per_type[allocation.screening_type_id] = per_type.get(allocation.screening_type_id, 0) + 1
    run.matches += 1
    run.allocated += amount
    run.campaigns_used[fund.id] = None
    tally.matches += 1
    tally.funds += amount
    tally.campaigns_used[fund.id] = None
    if allocation.is_general_pool:
        run.pool_allocated += amount
        tally.pool_used = True
        tally.pool_amount += amount
    if allocation.targeting_score > 0:
        tally.targeted += 1
    else:
        tally.mismatches += 1
    run.allocations.append(allocation)
    run.logs.append(allocation.log)
