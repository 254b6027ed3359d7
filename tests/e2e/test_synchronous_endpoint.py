"""A synchronous endpoint (run_job + JobWaiter) on real processes: the job's result when a
worker runs it in time, and the immediate 503 fallback while no worker is alive."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.stack import Stack, admin_headers, wait_until, workers_are
from tests.harness.smtp import Mailbox

#: Real processes on 2 busy CI cores: more than the suite's default 120 s per test.
pytestmark = pytest.mark.timeout(300)


async def test_the_endpoint_answers_with_the_result_then_falls_back_at_once_without_workers(
    stack: Stack, mailbox: Mailbox
) -> None:
    edge = stack.start_edge()
    worker = stack.start_worker()
    await stack.wait_for_worker()
    address = f"sync-{uuid.uuid4().hex[:8]}@example.com"

    async with stack.client(edge) as http:
        await wait_until(workers_are(http, "ok"), what="the worker\n" + stack.logs())

        # A worker runs the job within the deadline: the job's result is the answer
        response = await http.post(
            "/api/v1/jobs/email-check", json={"to": address}, headers=admin_headers()
        )
        assert response.status_code == 200, response.text + stack.logs()
        result = response.json()["data"]
        assert result["sent"] is True
        assert result["email_type"] == "notification"
        assert len(mailbox.to(address)) == 1

        # When the worker stops (cleanly: its heartbeat row goes with it)
        assert worker.stop() == 0, worker.output()[-3000:]
        async with stack.connection() as connection:
            assert await connection.fetchval("SELECT count(*) FROM worker_heartbeats") == 0
            jobs_before = await connection.fetchval("SELECT count(*) FROM jobs")
        await wait_until(workers_are(http, "unavailable"), what="the edge to see no worker")

        # Then the endpoint answers 503 with Retry-After at once, and enqueues nothing
        refused = await http.post(
            "/api/v1/jobs/email-check", json={"to": address}, headers=admin_headers()
        )
        assert refused.status_code == 503, refused.text
        assert refused.json() == {"ok": False, "error": "E-mail workers unavailable"}
        assert int(refused.headers["retry-after"]) >= 1
        async with stack.connection() as connection:
            assert await connection.fetchval("SELECT count(*) FROM jobs") == jobs_before
        metrics = (await http.get("/metrics")).text
        assert 'zerocancer_circuit_breaker_state{breaker="send_email"} 2.0' in metrics
        assert 'zerocancer_circuit_breaker_state{breaker="workers"} 2.0' in metrics
