"""How waitlist matching is doing (waitlist.md §2.8, §2.10): statistics and health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from actors.contracts.messages import RunMatching
from models.base import utc_now
from models.campaigns import DonationCampaign
from models.enums import AllocationStatus, CampaignStatus, MatchingExecutionStatus
from models.fields import to_aware_utc
from models.jobs import Job, JobStatus
from models.matching import MatchingExecution
from models.waitlists import DonationAllocation, Waitlist


async def matching_stats(now: datetime | None = None) -> dict[str, Any]:
    """§2.10: entry counts, allocations of the last 24 hours' runs, campaign counts."""
    now = now or utc_now()
    pending = await Waitlist.filter(status=AllocationStatus.PENDING).count()
    matched = await Waitlist.filter(status=AllocationStatus.MATCHED).count()
    recent = await DonationAllocation.filter(
        matching_execution__started_at__gte=now - timedelta(hours=24)
    ).count()
    total_campaigns = await DonationCampaign.all().count()
    active_campaigns = await DonationCampaign.filter(status=CampaignStatus.ACTIVE).count()
    return {
        "pending": pending,
        "matched": matched,
        "recentMatches": recent,
        "campaigns": {"total": total_campaigns, "active": active_campaigns},
        "lastUpdated": now,
    }


#: A RUNNING execution older than this needs attention (waitlist.md §2.8).
RUNNING_TOO_LONG = timedelta(minutes=15)
#: Pending demand with no run started for this long needs attention (2 x the 18-hour schedule).
NO_RUN_TOO_LONG = timedelta(hours=36)
#: A queued matching job left untouched this long means no worker consumes the queue.
WORKER_SILENCE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class MatchingHealth:
    status: str
    message: str
    last_execution: dict[str, Any] | None


async def matching_queue_stalled(now: datetime) -> bool:
    """True when a matching job has waited in the queue, untouched, for `WORKER_SILENCE`.

    Workers report only through their jobs (heartbeats while running, status changes), so a
    queued job nobody picked up is the evidence that no worker consumes the matching queue;
    between runs (every 18 hours) there is nothing to judge by and the queue counts as served.
    """
    cutoff = to_aware_utc(now - WORKER_SILENCE)
    return await Job.filter(
        queue_name=RunMatching.queue_name, status=JobStatus.QUEUED, updated_at__lt=cutoff
    ).exists()


async def matching_health(now: datetime | None = None) -> MatchingHealth:
    """§2.8's rules over the latest execution, the matching queue and the pending demand."""
    now = now or utc_now()
    last = await MatchingExecution.all().order_by("-started_at", "-id").first()
    summary = (
        None
        if last is None
        else {
            "id": last.id,
            "executionReference": last.execution_reference,
            "status": last.status,
            "startedAt": last.started_at,
            "completedAt": last.completed_at,
        }
    )
    failed = last is not None and last.status == MatchingExecutionStatus.FAILED
    if failed or await matching_queue_stalled(now):
        return MatchingHealth("error", "Waitlist matching service is failing", summary)
    attention = False
    if last is not None and last.status == MatchingExecutionStatus.PARTIALLY_COMPLETED:
        attention = True
    if (
        last is not None
        and last.status == MatchingExecutionStatus.RUNNING
        and now - last.started_at > RUNNING_TOO_LONG
    ):
        attention = True
    if not attention and (last is None or now - last.started_at > NO_RUN_TOO_LONG):
        attention = await Waitlist.filter(status=AllocationStatus.PENDING).exists()
    if attention:
        return MatchingHealth("warning", "Waitlist matching needs attention", summary)
    return MatchingHealth("healthy", "Waitlist matching service is operational", summary)
