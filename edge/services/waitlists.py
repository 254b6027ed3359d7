"""Waitlist use cases (waitlist.md): join, leave, patient views, demand, matching stats and health,
and returning reserved donation money when a reservation is given up.

Money rule shared by every path that gives a reservation back (leaving a MATCHED entry, a
center cancelling a donated appointment; the matching expiry and the admin expiry do the same):
the waitlist status change is a conditional UPDATE, so the refund happens at most once per
allocation whichever path gets there first (matching.md §4.2, §8.4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from actors.contracts import Requester, enqueue
from actors.contracts.messages import RunMatching
from edge.services.errors import InvalidInputError, NotFoundError
from models.base import utc_now
from models.campaigns import GENERAL_DONOR_POOL_ID, DonationCampaign
from models.enums import AllocationStatus, CampaignStatus, MatchingExecutionStatus
from models.fields import to_aware_utc
from models.jobs import Job, JobStatus
from models.matching import MatchingExecution
from models.screening_types import ScreeningType
from models.waitlists import DonationAllocation, Waitlist

ACTIVE_STATUSES = (AllocationStatus.PENDING, AllocationStatus.MATCHED)


# ---------------------------------------------------------------------------------------------
# Money


async def credit_campaign(
    *, campaign_id: str, amount: float, now: datetime, using_db: BaseDBAsyncClient
) -> str:
    """Gives `amount` back to a campaign's `availableAmount`; a DELETED campaign's money goes to
    the general pool instead (both its amounts, so the pool's books still balance). Returns the
    id of the campaign credited. Amounts are rounded to 2 decimals.
    """
    campaign = (
        await DonationCampaign.filter(id=campaign_id).using_db(using_db).select_for_update().first()
    )
    if campaign is None or campaign.status == CampaignStatus.DELETED:
        await using_db.execute_query(
            'UPDATE "DonationCampaign" SET '
            '"availableAmount" = round(("availableAmount" + $1)::numeric, 2)::float8, '
            '"totalAmount" = round(("totalAmount" + $1)::numeric, 2)::float8, '
            '"updatedAt" = $2 WHERE id = $3',
            [amount, now, GENERAL_DONOR_POOL_ID],
        )
        return GENERAL_DONOR_POOL_ID
    await using_db.execute_query(
        'UPDATE "DonationCampaign" SET '
        '"availableAmount" = round(("availableAmount" + $1)::numeric, 2)::float8, '
        '"updatedAt" = $2 WHERE id = $3',
        [amount, now, campaign.id],
    )
    return campaign.id


async def reserved_amount(allocation: DonationAllocation, *, using_db: BaseDBAsyncClient) -> float:
    """`amountAllocated`, or the screening type's `agreedPrice` when it is null."""
    if allocation.amount_allocated is not None:
        return float(allocation.amount_allocated)
    screening_type = (
        await ScreeningType.filter(waitlists__id=allocation.waitlist_id).using_db(using_db).first()
    )
    return float(screening_type.agreed_price) if screening_type is not None else 0.0


async def release_claimed_allocation(
    *, appointment_id: str, now: datetime, using_db: BaseDBAsyncClient
) -> bool:
    """A cancelled donated appointment: its CLAIMED entry becomes EXPIRED and the reserved money
    returns to the campaign (appointments.md §4.4 step 5). True when money was released."""
    released = False
    allocations = (
        await DonationAllocation.filter(appointment_id=appointment_id)
        .using_db(using_db)
        .select_for_update()
    )
    for allocation in allocations:
        expired = (
            await Waitlist.filter(id=allocation.waitlist_id, status=AllocationStatus.CLAIMED)
            .using_db(using_db)
            .update(status=AllocationStatus.EXPIRED, expired_at=now)
        )
        if expired != 1:
            continue
        amount = await reserved_amount(allocation, using_db=using_db)
        await credit_campaign(
            campaign_id=allocation.campaign_id, amount=amount, now=now, using_db=using_db
        )
        released = True
    return released


# ---------------------------------------------------------------------------------------------
# Patient actions


async def join(*, patient_id: str, screening_type_id: str) -> dict[str, Any]:
    """§2.4: one active (PENDING or MATCHED) entry per patient and type, serialised per pair."""
    exists = await ScreeningType.filter(id=screening_type_id, active=True).exists()
    if not exists:
        raise NotFoundError("Screening type not found")
    async with in_transaction() as conn:
        # Two concurrent joins must not both pass the check below (D-WL-2).
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [f"waitlist-join:{patient_id}:{screening_type_id}"],
        )
        active = (
            await Waitlist.filter(
                patient_id=patient_id,
                screening_type_id=screening_type_id,
                status__in=ACTIVE_STATUSES,
            )
            .using_db(conn)
            .exists()
        )
        if active:
            raise InvalidInputError("Already in waitlist for this screening type")
        entry = await Waitlist.create(
            patient_id=patient_id,
            screening_type_id=screening_type_id,
            status=AllocationStatus.PENDING,
            joined_at=utc_now(),
            using_db=conn,
        )
    return {
        "waitlist": {
            "id": entry.id,
            "screeningTypeId": entry.screening_type_id,
            "patientId": entry.patient_id,
            "status": entry.status,
        }
    }


async def leave(*, patient_id: str, waitlist_id: str) -> dict[str, Any]:
    """§2.5: PENDING is deleted; MATCHED returns its money, then is deleted; others refused."""
    async with in_transaction() as conn:
        entry = (
            await Waitlist.filter(id=waitlist_id, patient_id=patient_id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if entry is None:
            raise NotFoundError("Waitlist entry not found")
        if entry.status == AllocationStatus.CLAIMED:
            raise InvalidInputError(
                "Cannot leave a waitlist entry that has already been used to book an appointment"
            )
        if entry.status == AllocationStatus.EXPIRED:
            raise InvalidInputError("Cannot leave a waitlist entry that has expired")
        if entry.status == AllocationStatus.MATCHED:
            allocation = (
                await DonationAllocation.filter(waitlist_id=entry.id)
                .using_db(conn)
                .select_for_update()
                .first()
            )
            if allocation is not None:
                amount = await reserved_amount(allocation, using_db=conn)
                await credit_campaign(
                    campaign_id=allocation.campaign_id,
                    amount=amount,
                    now=utc_now(),
                    using_db=conn,
                )
        # The allocation row goes with the entry (ON DELETE CASCADE).
        await Waitlist.filter(id=entry.id).using_db(conn).delete()
    return {"waitlistId": waitlist_id, "message": "Successfully left the waitlist"}


# ---------------------------------------------------------------------------------------------
# Patient views


def _page_count(total: int, size: int) -> int:
    return math.ceil(total / size) if size > 0 else 0


async def _allocations_by_waitlist(waitlist_ids: list[str]) -> dict[str, DonationAllocation]:
    if not waitlist_ids:
        return {}
    rows = await DonationAllocation.filter(waitlist_id__in=waitlist_ids).select_related(
        "campaign__donor"
    )
    return {row.waitlist_id: row for row in rows}


def _entry(entry: Waitlist, allocation: DonationAllocation | None) -> dict[str, Any]:
    """The waitlist entry object of §1.1 (`screening_type` must be loaded)."""
    body: dict[str, Any] = {
        "id": entry.id,
        "screeningTypeId": entry.screening_type_id,
        "patientId": entry.patient_id,
        "status": entry.status,
        "joinedAt": entry.joined_at,
        "claimedAt": entry.claimed_at,
        "screeningType": {"id": entry.screening_type.id, "name": entry.screening_type.name},
        "allocation": None,
    }
    if allocation is not None:
        campaign = allocation.campaign
        body["allocation"] = {
            "id": allocation.id,
            "campaign": {
                "id": campaign.id,
                "purpose": campaign.purpose or "",
                "donor": {"id": campaign.donor.id, "fullName": campaign.donor.full_name},
            },
        }
    return body


async def list_entries(
    *, patient_id: str, page: int, page_size: int, status: AllocationStatus | None
) -> dict[str, Any]:
    """§2.1: the caller's entries, newest first."""
    query = Waitlist.filter(patient_id=patient_id)
    if status is not None:
        query = query.filter(status=status)
    total = await query.count()
    rows = (
        await query.order_by("-joined_at", "id")
        .offset((page - 1) * page_size)
        .limit(page_size)
        .select_related("screening_type")
    )
    allocations = await _allocations_by_waitlist([row.id for row in rows])
    return {
        "waitlists": [_entry(row, allocations.get(row.id)) for row in rows],
        "page": page,
        "pageSize": page_size,
        "total": total,
        "totalPages": _page_count(total, page_size),
    }


async def get_entry(*, patient_id: str, waitlist_id: str) -> dict[str, Any]:
    """§2.2: one of the caller's entries."""
    row = (
        await Waitlist.filter(id=waitlist_id, patient_id=patient_id)
        .select_related("screening_type")
        .first()
    )
    if row is None:
        raise NotFoundError("Waitlist entry not found")
    allocations = await _allocations_by_waitlist([row.id])
    return {"waitlist": _entry(row, allocations.get(row.id))}


async def status_for_type(*, patient_id: str, screening_type_id: str) -> dict[str, Any]:
    """§2.3: the most recently joined active entry for this type (D-WL-9), if any."""
    row = (
        await Waitlist.filter(
            patient_id=patient_id,
            screening_type_id=screening_type_id,
            status__in=ACTIVE_STATUSES,
        )
        .order_by("-joined_at", "-id")
        .select_related("screening_type")
        .first()
    )
    if row is None:
        return {"inWaitlist": False, "waitlist": None}
    allocation = (
        await DonationAllocation.filter(waitlist_id=row.id).select_related("campaign").first()
    )
    return {
        "inWaitlist": True,
        "waitlist": {
            "id": row.id,
            "screeningTypeId": row.screening_type_id,
            "patientId": row.patient_id,
            "status": row.status,
            "joinedAt": row.joined_at,
            "claimedAt": row.claimed_at,
            "screeningType": {"id": row.screening_type.id, "name": row.screening_type.name},
            "allocation": None
            if allocation is None
            else {
                "id": allocation.id,
                "claimedAt": allocation.claimed_at,
                "campaign": {
                    "title": allocation.campaign.title,
                    "purpose": allocation.campaign.purpose,
                },
            },
        },
    }


# ---------------------------------------------------------------------------------------------
# Public demand


_DEMAND_SQL = """
SELECT w."screeningTypeId" AS id, st.name AS name, count(*)::int AS pending
FROM "Waitlist" w JOIN "ScreeningType" st ON st.id = w."screeningTypeId"
WHERE w.status = 'PENDING'
GROUP BY w."screeningTypeId", st.name
ORDER BY pending {direction}, st.name ASC, w."screeningTypeId" ASC
LIMIT $1 OFFSET $2
"""


async def demand(*, page: int, page_size: int, descending: bool) -> dict[str, Any]:
    """§2.6: PENDING entries counted per screening type, most (or least) demanded first."""
    conn = connections.get("default")
    total_rows = await conn.execute_query_dict(
        'SELECT count(DISTINCT "screeningTypeId")::int AS total FROM "Waitlist" '
        "WHERE status = 'PENDING'"
    )
    total = int(total_rows[0]["total"]) if total_rows else 0
    sql = _DEMAND_SQL.format(direction="DESC" if descending else "ASC")
    rows = await conn.execute_query_dict(sql, [page_size, (page - 1) * page_size])
    items = [
        {
            "screeningTypeId": row["id"],
            "screeningType": {"id": row["id"], "name": row["name"]},
            "pendingCount": row["pending"],
            "totalCount": row["pending"],
            "demand": row["pending"],
        }
        for row in rows
    ]
    return {
        "waitlists": items,
        "page": page,
        "pageSize": page_size,
        "total": total,
        "totalPages": _page_count(total, page_size),
    }


# ---------------------------------------------------------------------------------------------
# Matching statistics and health


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


# ---------------------------------------------------------------------------------------------
# Matching triggers (§2.7, §2.9)


async def request_matching_run(
    *, source: str, admin_id: str | None, requested_by: Requester
) -> Job:
    """The queued run to wait for: an already queued run without overrides is joined (at most
    one queued run exists at a time); otherwise a new one is enqueued through the outbox.

    A run already *running* is not joined: its snapshot predates this request. Triggers are
    serialised by a transaction-level advisory lock so two of them cannot both enqueue.
    """
    async with in_transaction() as conn:
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [MATCHING_TRIGGER_LOCK]
        )
        queued = (
            await Job.filter(actor_name=RunMatching.actor_name, status=JobStatus.QUEUED)
            .using_db(conn)
            .order_by("created_at")
        )
        for job in queued:
            if not (job.args or {}).get("overrides"):
                return job
        return await enqueue(
            RunMatching(trigger_source=source, admin_id=admin_id),
            using_db=conn,
            requested_by=requested_by,
        )


#: Advisory-lock key text serialising matching triggers (coalescing check + enqueue).
MATCHING_TRIGGER_LOCK = "zerocancer:matching-trigger"
