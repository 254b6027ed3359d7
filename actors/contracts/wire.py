"""Dramatiq's wire format, written without Dramatiq (the edge must not import it).

A message on the wire is the JSON object of ``dramatiq.Message.asdict()``: ``queue_name``,
``actor_name``, ``args``, ``kwargs``, ``options``, ``message_id`` and ``message_timestamp``
(milliseconds). We always send keyword arguments only and use the job id as ``message_id``, so a
job row and its message share one id. ``tests/actors/test_contracts.py`` decodes the output with
``dramatiq.Message.decode``.
"""

from __future__ import annotations

import json
from typing import Any

from actors.contracts.messages import Message

#: Suffix Dramatiq gives a queue's delay queue.
DELAY_SUFFIX = ".DQ"
#: Suffix Dramatiq gives a queue's dead-letter queue.
DEAD_LETTER_SUFFIX = ".XQ"


def message_dict(
    message: Message,
    *,
    message_id: str,
    timestamp_ms: int,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Dramatiq message dict for ``message`` (what the outbox row stores)."""
    return {
        "queue_name": message.queue_name,
        "actor_name": message.actor_name,
        "args": [],
        "kwargs": message.to_kwargs(),
        "options": dict(options or {}),
        "message_id": message_id,
        "message_timestamp": timestamp_ms,
    }


def encode(data: dict[str, Any]) -> bytes:
    """Bytes as Dramatiq's JSONEncoder writes them (compact separators, UTF-8)."""
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def encode_message(
    message: Message,
    *,
    message_id: str,
    timestamp_ms: int,
    options: dict[str, Any] | None = None,
) -> bytes:
    return encode(
        message_dict(message, message_id=message_id, timestamp_ms=timestamp_ms, options=options)
    )


def canonical_queue(queue_name: str) -> str:
    """``q`` for ``q``, ``q.DQ`` and ``q.XQ`` (as ``dramatiq.common.q_name``)."""
    if queue_name.endswith((DELAY_SUFFIX, DEAD_LETTER_SUFFIX)):
        return queue_name[: -len(DELAY_SUFFIX)]
    return queue_name


def delay_queue(queue_name: str) -> str:
    return canonical_queue(queue_name) + DELAY_SUFFIX


def dead_letter_queue(queue_name: str) -> str:
    return canonical_queue(queue_name) + DEAD_LETTER_SUFFIX
