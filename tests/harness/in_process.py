"""A Sanic app served inside the test's own event loop, for probes of one edge part."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sanic import Sanic

from tests.harness.processes import free_port


@asynccontextmanager
async def serving(app: Sanic[Any, Any]) -> AsyncIterator[str]:
    """Serves `app` on a free local port and yields its base URL.

    The `before_server_start` listeners run (sanic-ext adds its OPTIONS routes there). Several
    apps in one process need `app.config.TOUCHUP = False` on all but the first: Sanic's
    touch-up recompiles methods that every app of the process shares.
    """
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.start_serving()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.close()
