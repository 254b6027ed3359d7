"""Request ids and structured access logs.

Each request gets an id: the caller's `X-Request-ID` when it is a short token-like value,
otherwise a new one. It is on `request.ctx.request_id`, echoed in the `X-Request-ID` response
header, and in every access and error log line. The access line has method, route template
(not the raw path: some paths carry one-time tokens), query parameter *names*, status,
duration, client address and principal; never header values (Authorization, Cookie), bodies
or query values. Lines are written in batches (`edge.access_lines`).
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from sanic import Request, Sanic
from sanic.response import BaseHTTPResponse

from edge.access_lines import AccessLines

log = logging.getLogger("zerocancer.edge.access")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class _RandomIds:
    """32 hex digits of OS randomness per id, read 256 ids at a time: one `getrandom` call
    per id (as `uuid4` makes) was a visible share of a cheap request."""

    def __init__(self, per_read: int = 256) -> None:
        self._per_read = per_read
        self._ids: list[str] = []

    def next(self) -> str:
        if not self._ids:
            text = os.urandom(16 * self._per_read).hex()
            self._ids = [text[i : i + 32] for i in range(0, len(text), 32)]
        return self._ids.pop()


_fresh_ids = _RandomIds()


def request_id_for(request: Request) -> str:
    incoming: str | None = request.headers.get(REQUEST_ID_HEADER)
    if incoming and _VALID_ID.match(incoming):
        return incoming
    return _fresh_ids.next()


def route_label(request: Request) -> str:
    route = request.route
    if route is not None:
        return "/" + route.path.lstrip("/")
    return "<unmatched>"


def setup_access_log(app: Sanic[Any, Any]) -> None:
    """Registers the request-id and access-log middleware."""

    def assign_request_id(request: Request) -> None:
        request.ctx.request_id = request_id_for(request)
        request.ctx.started_at = time.perf_counter()

    lines = AccessLines(log.name)
    app.ctx.access_lines = lines

    def write_access_log(request: Request, response: BaseHTTPResponse) -> None:
        ctx = request.ctx
        rid = getattr(ctx, "request_id", None) or request_id_for(request)
        response.headers[REQUEST_ID_HEADER] = rid
        if not log.isEnabledFor(logging.INFO):
            return
        started = getattr(ctx, "started_at", None)
        principal = getattr(ctx, "principal", None)
        method = request.method
        route = route_label(request)
        status = response.status
        lines.add(
            f"{method} {route} {status}",
            {
                "request_id": rid,
                "method": method,
                "route": route,
                "query_keys": sorted(request.args.keys()) if request.query_string else None,
                "status": status,
                "duration_ms": (
                    round((time.perf_counter() - started) * 1000, 2) if started else None
                ),
                "client": request.remote_addr or request.ip,
                "principal": f"{principal.kind}:{principal.id}" if principal else None,
            },
        )

    async def flush_access_lines(app: Sanic[Any, Any]) -> None:
        lines.flush()

    # Registered first and with the extreme priorities: the id exists before any other
    # middleware runs, and the access line is written after every other response middleware.
    app.register_middleware(assign_request_id, "request", priority=1000)
    app.register_middleware(write_access_log, "response", priority=-1000)
    app.register_listener(flush_access_lines, "before_server_stop")
    app.register_listener(flush_access_lines, "after_server_stop")
