"""A job accepted while RabbitMQ is unreachable runs once it is back (ARCHITECTURE.md, "Why an
outbox"): real edge (relay in-process, through a TCP proxy we pause), worker, PostgreSQL,
RabbitMQ and SMTP."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.e2e.stack import Stack, admin_headers, readiness, wait_until, workers_are
from tests.harness.smtp import Mailbox

#: Real processes on 2 busy CI cores: more than the suite's default 120 s per test.
pytestmark = pytest.mark.timeout(300)


async def test_a_job_accepted_while_rabbitmq_is_unreachable_runs_after_it_is_back(
    stack: Stack, mailbox: Mailbox
) -> None:
    # Given RabbitMQ unreachable for the edge's relay (the worker reaches it directly)
    stack.proxy.pause()
    edge = stack.start_edge()
    stack.start_worker()
    await stack.wait_for_worker()
    address = f"outage-{uuid.uuid4().hex[:8]}@example.com"
    headers = {**admin_headers(), "Prefer": "wait=2"}

    async with stack.client(edge) as http:
        await wait_until(
            workers_are(http, "ok"), what="the edge to see the worker\n" + stack.logs()
        )
        # When a request enqueues a job: it is accepted (202) with the job's address
        response = await http.post(
            "/api/v1/jobs/email-check", json={"to": address}, headers=headers
        )
        assert response.status_code == 202, response.text
        data = response.json()["data"]
        assert data["status"] == "queued"
        assert data["statusUrl"] == f"/api/v1/jobs/{data['jobId']}"
        assert response.headers["location"] == data["statusUrl"]

        # Then the job waits in the outbox and readiness says the broker is unreachable
        async def broker_down() -> bool:
            broker = (await readiness(http))["broker"]
            return broker["connected"] is False and broker["backlog"] >= 1

        await wait_until(broker_down, what="readiness to report the outage\n" + stack.logs())
        async with stack.connection() as connection:
            unsent = await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE job_id = $1::uuid AND sent_at IS NULL",
                data["jobId"],
            )
        assert unsent == 1
        assert (await stack.job(data["jobId"]))["status"] == "queued"  # type: ignore[index]

        # When RabbitMQ is reachable again
        stack.proxy.resume()

        # Then the relay publishes it, the worker runs it once, and its status says so
        job = await stack.wait_for_job(data["jobId"], ["succeeded"])
        assert job["attempts"] == 1
        assert job["result"]["sent"] is True
        [message] = await asyncio.to_thread(mailbox.wait_for, address, 1, 30.0)
        assert message["Subject"] == "ZeroCancer - ZeroCancer job pipeline check"
        status = await http.get(data["statusUrl"], headers=admin_headers())
        assert status.status_code == 200
        assert status.json()["data"]["status"] == "succeeded"

        async def broker_back() -> bool:
            broker = (await readiness(http))["broker"]
            return broker["connected"] is True and broker["backlog"] == 0

        await wait_until(broker_back, what="readiness to report the broker back")
    assert len(mailbox.to(address)) == 1
