"""Helpers of the job-runtime tests: waiting on job rows, a TCP proxy to play RabbitMQ outages,
and an in-process Dramatiq worker over RabbitMQ with a relay feeding it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import dramatiq
from dramatiq.middleware import Middleware

from actors import policy
from actors.broker import build_broker
from actors.contracts.messages import Message
from actors.contracts.relay import AmqpPublisher, Relay
from actors.settings import WorkerSettings, use

# --- waiting ------------------------------------------------------------------------------


async def wait_for_job(
    database_url: str, job_id: Any, statuses: Sequence[str], *, seconds: float = 15.0
) -> dict[str, Any]:
    """Waits (LISTEN job_done, re-reading the row) until the job reaches one of ``statuses``."""
    connection = await asyncpg.connect(database_url)
    woken: asyncio.Queue[str] = asyncio.Queue()
    await connection.add_listener("job_done", lambda *args: woken.put_nowait(args[-1]))
    deadline = time.monotonic() + seconds
    try:
        while True:
            row = await connection.fetchrow("SELECT * FROM jobs WHERE id = $1::uuid", str(job_id))
            if row is not None and row["status"] in statuses:
                return _decoded(dict(row))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"job {job_id} never reached {statuses}: {row and dict(row)}")
            # The NOTIFY is the wake-up; the short cap also catches rows changed without one.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.get(), min(remaining, 0.5))
    finally:
        await connection.close()


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, seconds: float = 10.0, what: str = ""
) -> None:
    """Re-checks ``predicate`` (a row, a counter) until it holds or the deadline passes."""
    deadline = time.monotonic() + seconds
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("args", "progress", "result", "error"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


# --- RabbitMQ outages -----------------------------------------------------------------------


class TcpProxy:
    """A local TCP proxy to RabbitMQ that tests stop and start to play an outage."""

    def __init__(self, target_port: int = 5672) -> None:
        self.target_port = target_port
        with contextlib.closing(socket.socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, vhost: str) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Refuses new connections and cuts the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        for task in (
            asyncio.create_task(pipe(reader, up_writer)),
            asyncio.create_task(pipe(up_reader, writer)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


# --- an in-process worker -------------------------------------------------------------------


class SkipRecorder(Middleware):
    """Records skipped messages (JobTracking skips redelivered, succeeded jobs)."""

    def __init__(self) -> None:
        self.skipped: list[str] = []
        self.changed = threading.Condition()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        with self.changed:
            self.skipped.append(message.message_id)
            self.changed.notify_all()

    def wait_for(self, message_id: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while message_id not in self.skipped:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"message {message_id} was never skipped")
                self.changed.wait(remaining)


@dataclass
class Runtime:
    settings: WorkerSettings
    broker: dramatiq.Broker
    worker: dramatiq.Worker
    relay: Relay
    skips: SkipRecorder
    calls: dict[str, int] = field(default_factory=dict)


ActorSpec = tuple[type[Message], policy.ActorPolicy, Callable[..., Awaitable[Any]]]


@contextlib.asynccontextmanager
async def running_runtime(
    settings: WorkerSettings, actors_: Sequence[ActorSpec] = ()
) -> AsyncIterator[Runtime]:
    """Broker (RabbitMQ) with every registered actor plus ``actors_``, a Worker in this process
    (ORM left alone: job tracking has its own pool), and a relay feeding it."""
    broker = build_broker(settings, orm=False)
    skips = SkipRecorder()
    broker.add_middleware(skips)
    for message_class, actor_policy, fn in actors_:
        policy.declare(broker, message_class, actor_policy, fn)
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    await asyncio.to_thread(worker.start)
    assert settings.database_url
    assert settings.broker_url
    relay = Relay(settings.database_url, AmqpPublisher(settings.broker_url), poll_interval=0.5)
    relay.start()
    try:
        yield Runtime(settings, broker, worker, relay, skips)
    finally:
        await relay.stop()
        await asyncio.to_thread(worker.stop, 5_000)
        await asyncio.to_thread(broker.close)
        use(WorkerSettings())
