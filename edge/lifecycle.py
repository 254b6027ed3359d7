"""Server start and stop: open the ORM and check the schema, build the throttle; close them.

The edge refuses to start when the database's schema fingerprint differs from the models'
(separately deployed parts must not drift silently): the log says both fingerprints and what
to run, and the process exits. Listeners take `(app)` only: Sanic 25.12 deprecates
`(app, loop)` (baseline pitfall 15).
"""

from __future__ import annotations

import logging
from typing import Any

from sanic import Sanic
from tortoise import connections

from edge.auth.throttle import build_throttle
from edge.settings import EdgeSettings
from models import db
from models.fingerprint import SchemaMismatchError, check_schema

log = logging.getLogger("zerocancer.edge")


class StartupRefusedError(RuntimeError):
    """The edge must not serve: the message says why and what to do."""


async def open_resources(app: Sanic[Any, Any]) -> None:
    settings: EdgeSettings = app.ctx.settings
    # No session state is left on pooled connections by the edge, so skip the reset query.
    await db.connect(settings.database_url, reset_sessions=False)
    try:
        await check_schema(connections.get("default"))
    except SchemaMismatchError as exc:
        log.critical("refusing to start: %s", exc)
        await db.disconnect()
        raise StartupRefusedError(str(exc)) from None
    app.ctx.throttle = build_throttle(settings.redis_url)
    log.info(
        "edge ready",
        extra={"throttle": "redis" if app.ctx.throttle.shared else "memory"},
    )


async def close_resources(app: Sanic[Any, Any]) -> None:
    throttle = getattr(app.ctx, "throttle", None)
    if throttle is not None:
        await throttle.close()
    await db.disconnect()


def setup_lifecycle(app: Sanic[Any, Any]) -> None:
    app.before_server_start(open_resources)
    app.after_server_stop(close_resources)
