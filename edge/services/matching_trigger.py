"""Asking for a matching run (waitlist.md §2.7, §2.9), coalesced with an already queued one."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from actors.contracts import Requester, enqueue
from actors.contracts.messages import RunMatching
from models.jobs import Job, JobStatus

#: Advisory-lock key text serialising matching triggers (coalescing check + enqueue).
MATCHING_TRIGGER_LOCK = "zerocancer:matching-trigger"


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
