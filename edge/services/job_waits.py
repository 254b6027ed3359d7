"""Waiting for a job with a deadline: LISTEN ``job_done`` on a pooled connection, re-read the row.

Superseded by ``edge.jobs`` (``run_job``, ``JobWaiter``: one LISTEN connection per process and
the workers' circuit breaker), which the donation, receipt, payout and admin routes use. Kept
because ``edge.routes.waitlist`` imports it; move that caller to ``edge.jobs`` and delete this.
A client may ask for a shorter wait with ``Prefer: wait=<seconds>`` (RFC 7240).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from tortoise import connections

from models.jobs import Job, JobStatus

#: Job statuses after which nothing more happens (``failed`` means a retry is scheduled).
FINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.DEAD})
#: Default deadline of a synchronous endpoint waiting for its job.
DEFAULT_WAIT_SECONDS = 20.0

_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


def wait_seconds(headers: Mapping[str, str], default: float = DEFAULT_WAIT_SECONDS) -> float:
    """The deadline for this request: ``Prefer: wait=N`` when shorter than ``default``."""
    found = _PREFER_WAIT.search(headers.get("prefer", "") or "")
    if found is None:
        return default
    return min(default, float(found.group(1)))


def is_final(job: Job) -> bool:
    return job.status in FINAL


async def wait_for_job(job_id: Any, seconds: float) -> Job:
    """The job row once it is final, or as it stands when ``seconds`` have passed."""
    job_key = str(job_id)
    woken: asyncio.Queue[str] = asyncio.Queue()

    def on_notify(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == job_key:
            woken.put_nowait(payload)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, seconds)
    client: Any = connections.get("default")
    async with client.acquire_connection() as raw:
        await raw.add_listener("job_done", on_notify)
        try:
            while True:
                # Read after LISTEN is active, so a completion between the two is never missed.
                job = await Job.get(id=job_key)
                remaining = deadline - loop.time()
                if is_final(job) or remaining <= 0:
                    return job
                try:
                    await asyncio.wait_for(woken.get(), remaining)
                except TimeoutError:
                    continue
        finally:
            await raw.remove_listener("job_done", on_notify)


def job_address(job_id: Any) -> str:
    return f"/api/v1/jobs/{job_id}"


def accepted_body(job: Job, message: str) -> dict[str, Any]:
    """The 202 body of a job still under way (waitlist.md §2.7 shape)."""
    status = job.status if job.status in (JobStatus.QUEUED, JobStatus.RUNNING) else "running"
    return {
        "ok": True,
        "message": message,
        "data": {"jobId": str(job.id), "status": str(status), "statusUrl": job_address(job.id)},
    }


def job_error(job: Job) -> str | None:
    """The recorded error text of a dead job (never secrets, JobTracking writes it)."""
    error = job.error if isinstance(job.error, dict) else None
    return str(error.get("message")) if error and error.get("message") else None
