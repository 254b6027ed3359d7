"""enqueue(): a job row plus an outbox row, written in the caller's transaction.

The relay (``actors.contracts.relay``) publishes the outbox row after commit, so work is sent only
for committed changes and survives a broker outage (ARCHITECTURE.md, "Why an outbox").
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actors.contracts import wire
from actors.contracts.messages import Message
from models.jobs import REQUESTER_KINDS, Job

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked for a job: a principal kind and its id (None for the system itself)."""

    kind: str
    id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in REQUESTER_KINDS:
            raise ValueError(f"unknown requester kind {self.kind!r}")


# One statement: the job row (skipped when the idempotency key exists), the outbox row for the
# job just inserted, and the wake-up NOTIFY for relays. NOTIFY is delivered at COMMIT only, so a
# relay never wakes for a row it cannot see yet.
_ENQUEUE_SQL = """
WITH job AS (
    INSERT INTO jobs (id, actor_name, queue_name, args, status, attempts,
                      requested_by_kind, requested_by_id, idempotency_key, created_at, updated_at)
    VALUES ($1::uuid, $2, $3, $4::jsonb, 'queued', 0, $5, $6, $7, now(), now())
    ON CONFLICT DO NOTHING
    RETURNING id
), outgoing AS (
    INSERT INTO outbox (job_id, queue_name, message, available_at, created_at)
    SELECT id, $3, $8::jsonb, now() + make_interval(secs => $9::double precision / 1000.0), now()
    FROM job
    RETURNING id
)
SELECT (SELECT id FROM job) AS job_id, (SELECT count(*) FROM outgoing) AS queued,
       pg_notify('outbox', '') AS notified
"""


async def enqueue(
    message: Message,
    *,
    using_db: BaseDBAsyncClient,
    requested_by: Requester | None = None,
    idempotency_key: str | None = None,
    delay_ms: int = 0,
) -> Job:
    """Write the job and its outbox row in ``using_db``'s transaction and return the job.

    With an ``idempotency_key`` that already names a job, nothing is written and that job is
    returned (whatever its status), so a retried request or a second scheduler never sends the
    same work twice. ``delay_ms`` holds the row in the outbox until then (the relay publishes it
    when due). Nothing reaches the broker before the transaction commits.
    """
    if delay_ms < 0:
        raise ValueError("delay_ms must not be negative")
    job_id = str(uuid.uuid4())
    kwargs = message.to_kwargs()
    body = wire.message_dict(message, message_id=job_id, timestamp_ms=int(time.time() * 1000))
    rows = await using_db.execute_query_dict(
        _ENQUEUE_SQL,
        [
            job_id,
            message.actor_name,
            message.queue_name,
            _json(kwargs),
            requested_by.kind if requested_by else None,
            requested_by.id if requested_by else None,
            idempotency_key,
            _json(body),
            delay_ms,
        ],
    )
    if rows and rows[0]["job_id"] is not None:
        return await Job.filter(id=job_id).using_db(using_db).get()
    if idempotency_key is None:  # pragma: no cover - a uuid4 collision
        raise RuntimeError(f"job {job_id} could not be inserted")
    return await Job.filter(idempotency_key=idempotency_key).using_db(using_db).get()


# The same rows as _ENQUEUE_SQL for many messages of one actor in one statement ($1 job ids,
# $2 kwargs, $3 wire messages as parallel arrays); no idempotency keys and no delay.
ENQUEUE_MANY_SQL = """
WITH m AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS m(id, args, message)
), job AS (
    INSERT INTO jobs (id, actor_name, queue_name, args, status, attempts,
                      requested_by_kind, requested_by_id, idempotency_key, created_at, updated_at)
    SELECT m.id::uuid, $4, $5, m.args::jsonb, 'queued', 0, $6, $7, NULL, now(), now() FROM m
    RETURNING id
), outgoing AS (
    INSERT INTO outbox (job_id, queue_name, message, available_at, created_at)
    SELECT m.id::uuid, $5, m.message::jsonb, now(), now() FROM m JOIN job ON job.id = m.id::uuid
    RETURNING id
)
SELECT (SELECT count(*) FROM outgoing) AS queued, pg_notify('outbox', '') AS notified
"""


def enqueue_many_parameters(
    messages: Sequence[Message], *, requested_by: Requester | None = None
) -> list[Any]:
    """The parameters of ``ENQUEUE_MANY_SQL`` for ``messages`` (all of one message class).

    For callers that write many jobs in one set-based statement on their own connection (the
    matching run's emails); the statement returns how many were queued.
    """
    kinds = {type(message) for message in messages}
    if len(kinds) != 1:
        raise ValueError("enqueue_many_parameters takes messages of exactly one class")
    message_class = kinds.pop()
    stamp = int(time.time() * 1000)
    ids = [str(uuid.uuid4()) for _ in messages]
    return [
        ids,
        [_json(message.to_kwargs()) for message in messages],
        [
            _json(wire.message_dict(message, message_id=job_id, timestamp_ms=stamp))
            for message, job_id in zip(messages, ids, strict=True)
        ],
        message_class.actor_name,
        message_class.queue_name,
        requested_by.kind if requested_by else None,
        requested_by.id if requested_by else None,
    ]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
