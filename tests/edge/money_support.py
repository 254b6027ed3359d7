"""Helpers for the donation, receipt, payout and admin tests.

- `run_next_job(actor)`: plays the worker for one job the edge enqueued: waits (with a deadline)
  for the queued `jobs` row, runs the registered actor function in this process, then records
  the outcome and sends `NOTIFY job_done` as the JobTracking middleware does. A request waiting
  on the job is answered as with a real worker.
- `assert_money_conserved()`: the money invariants of domain-model §6.2.
- `paid_booking(...)`: a self-pay appointment with its COMPLETED transaction.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from tortoise import connections

import actors.documents
import actors.emails.actor
import actors.payouts.actor
from actors import policy
from actors import settings as worker_settings
from actors.errors import PermanentError
from actors.settings import WorkerSettings, use
from models.appointments import Appointment
from models.centers import ServiceCenter
from models.enums import AppointmentStatus, TransactionStatus, TransactionType
from models.jobs import Job, JobStatus
from models.screening_types import ScreeningType
from models.transactions import Transaction
from models.users import User
from tests.edge.factories_appointments import make_appointment

_ACTOR_MODULES = (actors.documents, actors.emails.actor, actors.payouts.actor)


async def next_queued(actor_name: str, *, seconds: float = 15.0) -> Job:
    """The oldest queued job of `actor_name`, waiting for its row to appear."""
    deadline = time.monotonic() + seconds
    while True:
        job = (
            await Job.filter(actor_name=actor_name, status=JobStatus.QUEUED)
            .order_by("created_at")
            .first()
        )
        if job is not None:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"no queued {actor_name} job within {seconds} s")
        await asyncio.sleep(0.02)


async def run_job(job: Job) -> Any:
    """Runs one job's actor here and records its outcome like JobTracking (with NOTIFY)."""
    entry = {e.actor_name: e for e in policy.registered()}[job.actor_name]
    status, result, error = JobStatus.SUCCEEDED, None, None
    # The worker's settings as a worker process reads them (STORAGE_DIR, SMTP_*), whatever
    # other tests installed; theirs are put back afterwards.
    previous = worker_settings._current
    use(WorkerSettings.from_env())
    try:
        result = await entry.fn(**job.args)
    except PermanentError as exc:
        status, error = JobStatus.DEAD, {"type": type(exc).__name__, "message": str(exc)}
    finally:
        worker_settings._current = previous
    await connections.get("default").execute_query(
        """
        WITH done AS (
            UPDATE jobs SET status = $2, result = $3::jsonb, error = $4::jsonb,
                   attempts = attempts + 1, finished_at = now(), updated_at = now()
            WHERE id = $1::uuid RETURNING id
        )
        SELECT pg_notify('job_done', id::text) FROM done
        """,
        [
            str(job.id),
            str(status),
            json.dumps(result) if result is not None else None,
            json.dumps(error) if error is not None else None,
        ],
    )
    return result


async def run_next_job(actor_name: str, *, seconds: float = 15.0) -> Any:
    return await run_job(await next_queued(actor_name, seconds=seconds))


async def run_queued(actor_name: str) -> list[Any]:
    """Runs every job of `actor_name` queued now (none is fine)."""
    jobs = await Job.filter(actor_name=actor_name, status=JobStatus.QUEUED).order_by("created_at")
    return [await run_job(job) for job in jobs]


async def worker_alive(client: Any) -> None:
    """Tells the edge a worker serves every queue (a fresh `worker_heartbeats` row), as the
    worker these tests play would: the edge's circuit breaker answers 503 without one. GET
    /readyz makes the edge re-read the heartbeats at once (it caches them for two seconds)."""
    await connections.get("default").execute_query(
        "INSERT INTO worker_heartbeats (id, worker_name, pid, queues, started_at, beat_at) "
        "VALUES ($1, 'tests', $2, ARRAY[]::text[], now(), now()) "
        "ON CONFLICT (id) DO UPDATE SET beat_at = now()",
        [f"tests:{os.getpid()}", os.getpid()],
    )
    response = await client.get("/api/v1/readyz")
    assert response.status_code in (200, 503), response.text


# -- money -------------------------------------------------------------------------------------

_HELD_SQL = """
SELECT
  (SELECT COALESCE(sum("totalAmount"), 0) FROM "DonationCampaign" WHERE status <> 'DELETED')
  + (SELECT COALESCE(sum(COALESCE(d."amountAllocated", 0)), 0)
       FROM "DonationAllocation" d
       JOIN "DonationCampaign" c ON c.id = d."campaignId"
       JOIN "Waitlist" w ON w.id = d."waitlistId"
      WHERE c.status = 'DELETED' AND w.status <> 'EXPIRED') AS held,
  (SELECT COALESCE(sum(amount), 0) FROM "Transaction"
    WHERE type = 'DONATION' AND status = 'COMPLETED') AS received
"""

_CAMPAIGN_SQL = """
SELECT c.id, c."totalAmount" AS total, c."availableAmount" AS available,
       COALESCE((SELECT sum(COALESCE(d."amountAllocated", 0))
                   FROM "DonationAllocation" d JOIN "Waitlist" w ON w.id = d."waitlistId"
                  WHERE d."campaignId" = c.id AND w.status <> 'EXPIRED'), 0) AS reserved
FROM "DonationCampaign" c WHERE c.status <> 'DELETED'
"""


async def money_held() -> tuple[float, float]:
    """(money held by campaigns and the pool, money received by completed donations).

    Held = Σ totalAmount of campaigns not DELETED + the non-expired allocations that stay with
    DELETED campaigns as history (money spent or reserved before the deletion).
    """
    row = (await connections.get("default").execute_query_dict(_HELD_SQL))[0]
    return round(float(row["held"]), 2), round(float(row["received"]), 2)


async def assert_money_conserved() -> None:
    """Domain-model §6.2 for every campaign, and no money created or destroyed overall."""
    for row in await connections.get("default").execute_query_dict(_CAMPAIGN_SQL):
        total, available, reserved = (float(row[k]) for k in ("total", "available", "reserved"))
        assert 0 <= available <= total + 1e-9, row
        assert abs(available + reserved - total) < 0.005, row
    held, received = await money_held()
    assert abs(held - received) < 0.005, (held, received)


# -- bookings ----------------------------------------------------------------------------------


async def paid_booking(
    patient: User,
    center: ServiceCenter,
    screening_type: ScreeningType,
    *,
    amount: float = 15000.0,
    appointment_status: AppointmentStatus = AppointmentStatus.COMPLETED,
    transaction_status: TransactionStatus = TransactionStatus.COMPLETED,
) -> tuple[Transaction, Appointment]:
    transaction = await Transaction.create(
        type=TransactionType.APPOINTMENT,
        status=transaction_status,
        amount=amount,
        payment_reference=f"book-appointment-{patient.id}-{time.time_ns()}",
        payment_channel="PAYSTACK",
    )
    appointment = await make_appointment(
        patient, center, screening_type, status=appointment_status, transaction=transaction
    )
    return transaction, appointment
