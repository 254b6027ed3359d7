"""Phase 1 of a run (spec/matching.md §4.2): expire unclaimed matches and refund their money.

A DELETED campaign's refund goes to the general pool, whose total grows with it.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import datetime, timedelta
from typing import Final

from actors.matching.decisions import ERROR, INFO, Expiry
from actors.matching.inputs import DELETED, MATCHED, ExistingAllocation, HeldEntry
from actors.matching.outcomes import (
    CampaignChanged,
    Committed,
    Failed,
    Outcome,
    Proposal,
    expect_outcome,
)
from actors.matching.run import Run
from actors.matching.units import kobo_to_float, naira_text, utc_naive

EXPIRY_REASON: Final = "Allocation expired due to inactivity"


def due_expiries(run: Run) -> list[tuple[datetime, HeldEntry, ExistingAllocation]]:
    """Unclaimed matches older than the expiry period, by matched-at then entry id (§4.2).

    Raises `ValueError` when the inputs lack a screening type or campaign an expiry needs.
    """
    cutoff = run.now - timedelta(days=run.config.allocation_expiry_days)
    due = []
    problems = []
    for held in run.inputs.held:
        allocation = held.allocation
        if held.status != MATCHED or allocation is None or not allocation.unclaimed:
            continue
        matched_at = utc_naive(allocation.execution_started_at or held.joined_at)
        if matched_at >= cutoff:
            continue
        if held.screening_type_id not in run.types:
            problems.append(f"screening type {held.screening_type_id!r} of entry {held.id!r}")
        fund = run.funds.get(allocation.campaign_id)
        if fund is None:
            problems.append(f"campaign {allocation.campaign_id!r} of entry {held.id!r}")
        elif fund.status == DELETED and run.pool is None:
            problems.append(f"the general pool (refund of entry {held.id!r})")
        due.append((matched_at, held, allocation))
    if problems:
        raise ValueError("inputs lack " + "; ".join(problems))
    due.sort(key=lambda item: (item[0], item[1].id))
    return due


def expire(
    run: Run, due: Sequence[tuple[datetime, HeldEntry, ExistingAllocation]]
) -> Generator[Proposal, Outcome, None]:
    """Proposes each due expiry in turn; only a committed one refunds and frees a slot."""
    for matched_at, held, allocation in due:
        screening_type = run.types[held.screening_type_id]
        fund = run.funds[allocation.campaign_id]
        target = fund
        if fund.status == DELETED:
            assert run.pool is not None
            target = run.pool
        amount = allocation.amount_allocated_kobo
        if amount is None:
            amount = screening_type.price_kobo
        age_days = (run.now - matched_at).days
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
            log=run.log(
                INFO,
                f"Expired allocation for patient {held.patient_id}",
                context,
                allocation_id=allocation.id,
                record=False,
            ),
        )
        outcome = expect_outcome((yield expiry))
        if isinstance(outcome, Committed):
            target.remaining += amount
            target.returned += amount
            if target is not fund:
                target.total += amount
            run.active[held.patient_id] -= 1
            run.matched[held.patient_id][held.screening_type_id] -= 1
            run.expired += 1
            run.returned += amount
            run.expiries.append(expiry)
            run.logs.append(expiry.log)
        elif isinstance(outcome, Failed):
            run.warnings.append(
                {
                    "waitlistId": held.id,
                    "patientId": held.patient_id,
                    "error": outcome.message,
                    "timestamp": run.stamp,
                }
            )
            run.log(
                ERROR,
                f"Failed to expire waitlist {held.id}: {outcome.message}",
                {"waitlistId": held.id, "patientId": held.patient_id, "error": outcome.message},
            )
        elif isinstance(outcome, CampaignChanged):
            raise TypeError("CampaignChanged does not apply to an expiry (its refund is unguarded)")
        # EntryChanged: claimed, left or expired elsewhere meanwhile; nothing to do.
    run.log(
        INFO,
        f"Expiry phase: {run.expired} allocations expired, ₦{naira_text(run.returned)} returned",
        {"expiredAllocations": run.expired, "fundsReturned": kobo_to_float(run.returned)},
    )
