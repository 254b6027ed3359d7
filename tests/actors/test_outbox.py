"""enqueue(): the job row and the outbox row, in the caller's transaction."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import dramatiq
import pytest
from tortoise.transactions import in_transaction

from actors.contracts import Requester, SendEmail, enqueue
from models.jobs import Job, JobStatus

EMAIL = SendEmail(template="password_reset", to="ada@example.com", context={"token": "abc"})


async def test_enqueue_writes_a_queued_job_and_its_outbox_message(
    runtime_db: asyncpg.Connection,
) -> None:
    async with in_transaction() as connection:
        job = await enqueue(EMAIL, using_db=connection, requested_by=Requester("patient", "user-1"))

    assert isinstance(job, Job)
    row = await runtime_db.fetchrow("SELECT * FROM jobs WHERE id = $1", job.id)
    assert row["status"] == JobStatus.QUEUED
    assert row["attempts"] == 0
    assert (row["actor_name"], row["queue_name"]) == ("send_email", "email")
    assert json.loads(row["args"]) == EMAIL.to_kwargs()
    assert (row["requested_by_kind"], row["requested_by_id"]) == ("patient", "user-1")
    outbox = await runtime_db.fetch("SELECT * FROM outbox WHERE job_id = $1", job.id)
    assert len(outbox) == 1
    assert outbox[0]["sent_at"] is None
    assert outbox[0]["queue_name"] == "email"
    message = json.loads(outbox[0]["message"])
    decoded = dramatiq.Message.decode(json.dumps(message).encode())
    assert decoded.message_id == str(job.id)
    assert decoded.kwargs == EMAIL.to_kwargs()


async def test_the_relay_is_woken_only_when_the_transaction_commits(
    runtime_db: asyncpg.Connection,
) -> None:
    woken: asyncio.Queue[str] = asyncio.Queue()
    await runtime_db.add_listener("outbox", lambda *args: woken.put_nowait(args[2]))

    async with in_transaction() as connection:
        await enqueue(EMAIL, using_db=connection)
        await asyncio.sleep(0)  # let a (wrong) early notification arrive
        assert woken.empty()

    assert await asyncio.wait_for(woken.get(), 5) == "outbox"


async def test_a_rolled_back_transaction_leaves_no_job_and_no_message(
    runtime_db: asyncpg.Connection,
) -> None:
    class AbortError(Exception):
        pass

    async def change_then_fail() -> None:
        async with in_transaction() as connection:
            await enqueue(EMAIL, using_db=connection)
            raise AbortError

    with pytest.raises(AbortError):
        await change_then_fail()

    assert await runtime_db.fetchval("SELECT count(*) FROM jobs") == 0
    assert await runtime_db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_an_existing_idempotency_key_returns_the_existing_job_and_writes_nothing(
    runtime_db: asyncpg.Connection,
) -> None:
    async with in_transaction() as connection:
        first = await enqueue(EMAIL, using_db=connection, idempotency_key="signup:ada")
    async with in_transaction() as connection:
        second = await enqueue(
            SendEmail(template="password_reset", to="other@example.com", context={"token": "x"}),
            using_db=connection,
            idempotency_key="signup:ada",
        )

    assert second.id == first.id
    assert second.args == EMAIL.to_kwargs()
    assert await runtime_db.fetchval("SELECT count(*) FROM jobs") == 1
    assert await runtime_db.fetchval("SELECT count(*) FROM outbox") == 1


async def test_two_concurrent_enqueues_with_one_key_make_one_job(
    runtime_db: asyncpg.Connection,
) -> None:
    async def attempt() -> Job:
        async with in_transaction() as connection:
            return await enqueue(EMAIL, using_db=connection, idempotency_key="slot:1")

    jobs = await asyncio.gather(attempt(), attempt(), attempt())

    assert len({job.id for job in jobs}) == 1
    assert await runtime_db.fetchval("SELECT count(*) FROM outbox") == 1


async def test_a_delayed_message_waits_in_the_outbox_until_due(
    runtime_db: asyncpg.Connection,
) -> None:
    async with in_transaction() as connection:
        job = await enqueue(EMAIL, using_db=connection, delay_ms=60_000)

    wait = await runtime_db.fetchval(
        "SELECT EXTRACT(EPOCH FROM available_at - created_at) FROM outbox WHERE job_id = $1",
        job.id,
    )
    assert 59 <= float(wait) <= 61


async def test_an_unknown_requester_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="requester kind"):
        Requester("robot")


def test_a_bulk_enqueue_takes_messages_of_one_class_only() -> None:
    from actors.contracts.messages import PurgeExpiredTokens, SendEmail
    from actors.contracts.outbox import enqueue_many_parameters

    with pytest.raises(ValueError, match="exactly one class"):
        enqueue_many_parameters([SendEmail("notification", "a@b.test"), PurgeExpiredTokens()])
    with pytest.raises(ValueError, match="exactly one class"):
        enqueue_many_parameters([])
