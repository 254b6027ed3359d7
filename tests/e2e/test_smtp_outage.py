"""The SMTP server answering 451 (temporary failure), then accepting again: real edge (relay
in-process), worker, PostgreSQL, RabbitMQ and the session SMTP server.

The e-mail actor's retries back off from 30 s (actors/emails/actor.py, `EMAIL_POLICY`; Dramatiq
jitter makes the first retry 30 to 60 s after the failure) and no setting shortens it, so an
automatic second attempt does not fit in this test. What is played instead: the first attempt
fails and a retry is scheduled (`failed`, never `dead`), the rest of the edge is unaffected, and
once SMTP accepts again an operator's requeue (POST /api/v1/admin/jobs/{id}/requeue) delivers
the e-mail. The retry Dramatiq still holds for that job then comes due and is skipped (the job
already succeeded): the e-mail is delivered exactly once.
"""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from tests.e2e.stack import Stack, admin_headers, wait_until, workers_are
from tests.harness.processes import Process
from tests.harness.smtp import Mailbox

#: Real processes on 2 busy CI cores: more than the suite's default 120 s per test.
pytestmark = pytest.mark.timeout(300)

#: Generous deadlines for conditions (CI has 2 cores under load); nothing waits a fixed time.
DEADLINE = 60.0
#: Dramatiq's log line for a scheduled retry (dramatiq.middleware.retries.Retries).
RETRYING = re.compile(r"Retrying message '?([0-9a-f-]{36})'? in (\d+) milliseconds")
#: JobTracking's log line for a redelivered message whose job already succeeded.
SKIPPED = "already succeeded; skipping redelivered message"


def scheduled_retry_ms(worker: Process, job_id: str) -> int | None:
    """The delay of the retry the worker scheduled for `job_id`, from its log (None: none)."""
    for found in RETRYING.finditer(worker.output()):
        if found.group(1) == job_id:
            return int(found.group(2))
    return None


async def test_an_email_refused_for_a_while_is_retried_not_lost_and_delivered_once(
    stack: Stack, mailbox: Mailbox
) -> None:
    edge = stack.start_edge()
    worker = stack.start_worker()
    await stack.wait_for_worker(seconds=DEADLINE)
    address = f"smtp-outage-{uuid.uuid4().hex[:8]}@example.com"
    # Given an SMTP server that answers every delivery with 451 (try again later)
    mailbox.refuse = True

    async with stack.client(edge) as http:
        await wait_until(
            workers_are(http, "ok"), seconds=DEADLINE, what="the edge to see the worker"
        )
        # When a request enqueues an e-mail job
        response = await http.post(
            "/api/v1/jobs/email-check",
            json={"to": address},
            headers={**admin_headers(), "Prefer": "wait=0"},
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["data"]["jobId"]

        # Then its attempt fails and a retry is scheduled: failed, not dead
        failed = await stack.wait_for_job(job_id, ["failed", "dead"], seconds=DEADLINE)
        assert (failed["status"], failed["attempts"]) == ("failed", 1), failed
        assert "451" in str(failed["error"]), failed["error"]

        async def retry_scheduled() -> bool:
            return scheduled_retry_ms(worker, job_id) is not None

        await wait_until(
            retry_scheduled, seconds=DEADLINE, what="a scheduled retry\n" + stack.logs()
        )
        assert len(mailbox.to(address)) == 0

        # and the edge is unaffected: ready, CRUD reads answer, the job is listed as failed
        ready = await http.get("/api/v1/readyz")
        assert ready.status_code == 200, ready.text
        centers = await http.get("/api/v1/center")
        assert centers.status_code == 200, centers.text
        assert centers.json()["ok"] is True
        status = await http.get(f"/api/v1/jobs/{job_id}", headers=admin_headers())
        assert status.status_code == 200
        assert status.json()["data"]["status"] == "failed"
        listed = await http.get("/api/v1/admin/jobs?status=failed", headers=admin_headers())
        assert listed.status_code == 200, listed.text
        assert job_id in {item["id"] for item in listed.json()["data"]}
        row = await stack.job(job_id)
        assert row is not None
        assert row["status"] == "failed", row  # still waiting for its retry, never dead

        # When SMTP accepts again and an operator requeues the job
        mailbox.refuse = False
        requeued = await http.post(f"/api/v1/admin/jobs/{job_id}/requeue", headers=admin_headers())
        assert requeued.status_code == 202, requeued.text
        assert requeued.json()["data"]["status"] == "queued"

        # Then the e-mail is delivered and the job row says succeeded
        done = await stack.wait_for_job(job_id, ["succeeded"], seconds=DEADLINE)
        assert done["attempts"] == 2
        assert done["result"]["sent"] is True
        [message] = await asyncio.to_thread(mailbox.wait_for, address, 1, DEADLINE)
        assert message["Subject"] == "ZeroCancer - ZeroCancer job pipeline check"

        # And the retry still scheduled for it comes due and is skipped: delivered once
        async def retry_skipped() -> bool:
            return f"job {job_id} {SKIPPED}" in worker.output()

        delay_ms = scheduled_retry_ms(worker, job_id)
        assert delay_ms is not None
        await wait_until(
            retry_skipped,
            seconds=delay_ms / 1000 + DEADLINE,
            what="the pending retry to be skipped\n" + stack.logs(),
        )
        after = await stack.job(job_id)
        assert after is not None
        assert (after["status"], after["attempts"]) == ("succeeded", 2), after
        assert worker.running(), worker.output()[-4000:]
    assert len(mailbox.to(address)) == 1
