"""The outbox relay: publishes with confirms, never twice at once, and survives outages."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence

import aio_pika
import asyncpg
import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from tortoise.transactions import in_transaction

from actors.contracts import SendEmail, enqueue
from actors.contracts.relay import AmqpPublisher, CallbackPublisher, Outgoing, Relay
from tests.actors.runtime import TcpProxy, wait_until


def email(n: int) -> SendEmail:
    return SendEmail(template="password_reset", to=f"user{n}@example.com", context={"token": n})


async def enqueue_many(count: int) -> list[str]:
    async with in_transaction() as connection:
        return [str((await enqueue(email(n), using_db=connection)).id) for n in range(count)]


async def unsent(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))


async def drain_queue(url: str, queue: str) -> list[dramatiq.Message[object]]:
    """Takes every message off ``queue`` (declared as Dramatiq does) and decodes it."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(
            queue,
            durable=True,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{queue}.XQ"},
        )
        messages = []
        while (incoming := await declared.get(fail=False, no_ack=True)) is not None:
            messages.append(dramatiq.Message.decode(incoming.body))
        return messages
    finally:
        await connection.close()


class RecordingPublisher:
    """Confirms everything and remembers what it saw (yielding to interleave two relays)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def publish(self, messages: Sequence[Outgoing]) -> list[bool]:
        for message in messages:
            await asyncio.sleep(0)
            self.seen.append(message.message_id)
        return [True] * len(messages)

    async def close(self) -> None:
        return None


async def test_rows_are_published_to_rabbitmq_as_dramatiq_messages_and_marked_sent(
    runtime_db: asyncpg.Connection, runtime_database_url: str, amqp_url: str
) -> None:
    job_ids = await enqueue_many(3)
    relay = Relay(runtime_database_url, AmqpPublisher(amqp_url), listen=False)
    try:
        assert await relay.drain() == 3
    finally:
        await relay.stop()

    assert await unsent(runtime_db) == 0
    messages = await drain_queue(amqp_url, "email")
    assert sorted(m.message_id for m in messages) == sorted(job_ids)
    assert {m.actor_name for m in messages} == {"send_email"}
    # Dramatiq's own broker accepts the queues the relay declared (same arguments).
    broker = RabbitmqBroker(url=amqp_url)
    try:
        await asyncio.to_thread(broker.declare_queue, "email", ensure=True)
    finally:
        broker.close()


async def test_two_relays_running_at_once_never_publish_a_row_twice(
    runtime_db: asyncpg.Connection,
    runtime_database_url: str,
) -> None:
    job_ids = await enqueue_many(300)
    url = runtime_database_url
    publishers = [RecordingPublisher(), RecordingPublisher()]
    relays = [Relay(url, p, batch_size=25, listen=False) for p in publishers]
    try:
        await asyncio.gather(*(relay.drain() for relay in relays))
    finally:
        for relay in relays:
            await relay.stop()

    published = Counter(publishers[0].seen + publishers[1].seen)
    assert published == Counter(job_ids)
    assert all(publisher.seen for publisher in publishers), "both relays should have worked"
    assert await unsent(runtime_db) == 0


async def test_while_rabbitmq_is_down_rows_stay_unsent_and_are_published_after(
    runtime_db: asyncpg.Connection, runtime_database_url: str, amqp_url: str
) -> None:
    vhost = amqp_url.rsplit("/", 1)[1]
    proxy = TcpProxy()
    relay = Relay(
        runtime_database_url,
        AmqpPublisher(proxy.url(vhost), connect_timeout=2),
        listen=False,
    )
    try:
        # Given RabbitMQ unreachable (connection refused)
        job_ids = await enqueue_many(2)
        with pytest.raises(ConnectionError):
            await relay.run_once()
        assert await unsent(runtime_db) == 2

        # When it is back
        await proxy.start()
        assert await relay.drain() == 2

        # Then the rows are sent and the messages are in the queue
        assert await unsent(runtime_db) == 0
        # And a connection cut mid-life is replaced on the next batch
        await proxy.stop()
        more = await enqueue_many(1)
        with pytest.raises(Exception):  # noqa: B017, PT011 - any AMQP/connection error
            await relay.run_once()
        assert await unsent(runtime_db) == 1
        await proxy.start()
        assert await relay.drain() == 1
    finally:
        await relay.stop()
        await proxy.stop()

    queued = await drain_queue(amqp_url, "email")
    assert sorted(m.message_id for m in queued) == sorted(job_ids + more)


async def test_the_relay_wakes_on_notify_and_listens_again_after_its_connection_drops(
    runtime_db: asyncpg.Connection,
    runtime_database_url: str,
) -> None:
    publisher = RecordingPublisher()
    # A poll this slow leaves NOTIFY as the only way the row can go out within the deadline.
    relay = Relay(runtime_database_url, publisher, poll_interval=60)
    relay.start()
    try:
        await wait_until(lambda: _true(relay.stats.listening), what="relay listening")
        [first] = await enqueue_many(1)
        await wait_until(lambda: _true(first in publisher.seen), what="first row relayed")

        # When the LISTEN connection is killed
        await runtime_db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        await wait_until(
            lambda: _true(relay.stats.listener_connects == 2 and relay.stats.listening),
            what="listener reconnected",
        )

        # Then new rows still wake the relay
        [second] = await enqueue_many(1)
        await wait_until(lambda: _true(second in publisher.seen), what="second row relayed")
    finally:
        await relay.stop()
    assert await unsent(runtime_db) == 0


async def test_a_delayed_row_is_published_only_once_due(
    runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    publisher = RecordingPublisher()
    relay = Relay(runtime_database_url, publisher, listen=False)
    async with in_transaction() as connection:
        job = await enqueue(email(1), using_db=connection, delay_ms=3_600_000)
    try:
        assert await relay.run_once() == 0
        await runtime_db.execute("UPDATE outbox SET available_at = now() - interval '1 second'")
        assert await relay.run_once() == 1
    finally:
        await relay.stop()
    assert publisher.seen == [str(job.id)]


async def test_a_message_the_callback_refuses_stays_unsent(
    runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    handed: list[dict[str, object]] = []

    def hand_over(queue_name: str, body: bytes) -> None:
        data = json.loads(body)
        if data["kwargs"]["to"] == "user1@example.com":
            raise RuntimeError("refused")
        handed.append(data)

    await enqueue_many(2)
    relay = Relay(runtime_database_url, CallbackPublisher(hand_over), listen=False)
    try:
        assert await relay.run_once() == 1
    finally:
        await relay.stop()
    assert [m["kwargs"]["to"] for m in handed] == ["user0@example.com"]  # type: ignore[index]
    assert await unsent(runtime_db) == 1


async def _true(value: bool) -> bool:
    return value
