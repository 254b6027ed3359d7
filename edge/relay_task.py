"""The outbox relay as a background task of each edge process (single-machine deployments).

With ``BROKER_URL`` set and the relay not switched off (``EDGE_RELAY=off`` or
``zerocancer edge --no-relay``, for deployments running ``zerocancer relay`` instead), every
edge process runs ``Relay(DATABASE_URL, AmqpPublisher(BROKER_URL))`` on its own event loop.
Several relays at once are safe: each batch is claimed with ``FOR UPDATE SKIP LOCKED``
(``actors.contracts.relay``). Without ``BROKER_URL`` (embedded defaults) the worker process
relays in-process and the edge runs none.

``BROKER_MAX_PRIORITY`` is read as ``zerocancer relay`` reads it: queues must be declared with
the arguments the workers give them, or RabbitMQ refuses the declaration.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from sanic import Sanic
from tortoise import connections

from actors.contracts.relay import AmqpPublisher, Relay
from edge.settings import EdgeSettings

log = logging.getLogger("zerocancer.edge.relay")

#: Past this age of the oldest due, unsent outbox row, readiness reports the broker degraded.
BACKLOG_DEGRADED_SECONDS = 60.0

_BACKLOG_SQL = """
SELECT count(*) AS pending,
       COALESCE(EXTRACT(EPOCH FROM (now() - min(available_at))), 0)::float8 AS oldest_age
FROM outbox WHERE sent_at IS NULL AND available_at <= now()
"""


def relay_wanted(settings: EdgeSettings) -> bool:
    return bool(settings.broker_url) and settings.edge_relay


def setup_relay(app: Sanic[Any, Any]) -> None:
    """Starts the in-process relay with the server and stops it (publisher closed) after."""
    settings: EdgeSettings = app.ctx.settings
    app.ctx.relay = None
    if not relay_wanted(settings):
        if settings.broker_url:
            log.info("outbox relay off in this edge (EDGE_RELAY=off or --no-relay)")
        return
    assert settings.broker_url is not None

    async def start_relay(app: Sanic[Any, Any]) -> None:
        raw_priority = os.environ.get("BROKER_MAX_PRIORITY", "").strip()
        publisher = AmqpPublisher(
            settings.broker_url or "", max_priority=int(raw_priority) if raw_priority else None
        )
        relay = Relay(settings.database_url, publisher)
        app.ctx.relay = relay
        relay.start()
        log.info("outbox relay running in this edge process")

    async def stop_relay(app: Sanic[Any, Any]) -> None:
        relay: Relay | None = getattr(app.ctx, "relay", None)
        if relay is not None:
            await relay.stop()
            app.ctx.relay = None

    app.before_server_start(start_relay)
    app.after_server_stop(stop_relay)


async def broker_status(app: Sanic[Any, Any]) -> dict[str, Any]:
    """Readiness of the path to the broker: who relays, whether the last publish reached the
    broker, and the outbox backlog (due, unsent rows and the oldest one's age)."""
    settings: EdgeSettings = app.ctx.settings
    relay: Relay | None = getattr(app.ctx, "relay", None)
    if relay is not None:
        mode = "in-process"
    elif settings.broker_url:
        mode = "external"
    else:
        mode = "embedded"
    connected = relay.stats.broker_ok if relay is not None else None
    try:
        rows = await connections.get("default").execute_query_dict(_BACKLOG_SQL)
    except Exception as exc:
        log.warning("readiness: outbox backlog unreadable: %s", type(exc).__name__)
        return {"status": "unknown", "relay": mode, "connected": connected}
    pending, oldest = int(rows[0]["pending"]), float(rows[0]["oldest_age"])
    degraded = connected is False or oldest > BACKLOG_DEGRADED_SECONDS
    return {
        "status": "degraded" if degraded else "ok",
        "relay": mode,
        "connected": connected,
        "backlog": pending,
        "oldestUnsentAgeSeconds": round(max(0.0, oldest), 1),
    }
