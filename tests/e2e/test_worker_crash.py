"""A worker killed (SIGKILL) in the middle of a job leaves the message unacknowledged: RabbitMQ
redelivers it to the next worker, which completes the job once."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.e2e.stack import Stack, admin_headers, wait_until, workers_are
from tests.harness.smtp import Mailbox

#: Real processes on 2 busy CI cores: more than the suite's default 120 s per test.
pytestmark = pytest.mark.timeout(300)


async def test_a_worker_killed_mid_job_leaves_it_to_be_redelivered_and_completed_once(
    stack: Stack, mailbox: Mailbox
) -> None:
    edge = stack.start_edge()
    first = stack.start_worker()
    await stack.wait_for_worker()
    address = f"crash-{uuid.uuid4().hex[:8]}@example.com"
    # The SMTP server holds the first delivery in DATA: the job is mid-flight.
    mailbox.hold_next(1)

    async with stack.client(edge) as http:
        await wait_until(
            workers_are(http, "ok"), what="the edge to see the worker\n" + stack.logs()
        )
        response = await http.post(
            "/api/v1/jobs/email-check",
            json={"to": address},
            headers={**admin_headers(), "Prefer": "wait=0"},
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["data"]["jobId"]
        await asyncio.to_thread(mailbox.wait_held, 1, 30.0)
        running = await stack.job(job_id)
        assert running is not None
        assert (running["status"], running["attempts"]) == ("running", 1)

        # When the worker (launcher and worker process alike) is killed mid-job
        first.kill_group()
        mailbox.release()  # the held delivery is refused: nothing was delivered by it
        stack.start_worker()

        # Then another worker gets the redelivered message and completes the job once
        done = await stack.wait_for_job(job_id, ["succeeded"])
        assert done["attempts"] == 2
        assert done["result"]["sent"] is True
        assert len(mailbox.to(address)) == 1
        status = await http.get(f"/api/v1/jobs/{job_id}", headers=admin_headers())
        assert status.json()["data"]["status"] == "succeeded"
