"""CORS for the one frontend origin, with credentials (auth.md 2.3), as one response middleware.

It answers what sanic-ext's CORS answered with the edge's settings (tests/edge/test_cors.py
compares the two on every kind of request), with the header values computed once: sanic-ext
re-derives them from its settings on every response, a tenth of the edge's CPU on a cheap GET.

- A request without `Origin` gets the frontend origin (as the reference's `cors({origin})`
  always sends it); a request from the frontend origin gets it back; any other origin gets no
  CORS header at all.
- With an allowed origin: `Access-Control-Allow-Credentials: true`, the exposed headers and
  `Vary: origin`.
- A preflight (`OPTIONS` with `Access-Control-Request-Method`; the answer itself is sanic-ext's
  automatic OPTIONS route) also gets `Access-Control-Max-Age`, the route's methods among the
  allowed ones, and `Access-Control-Allow-Headers: *` unless the preflight carries credentials
  (where `*` would not be a wildcard). An `OPTIONS` without that header gets no CORS header.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sanic import Request, Sanic
from sanic.response import BaseHTTPResponse

#: Seconds a browser may cache a preflight answer (sanic-ext's default, kept).
MAX_AGE_SECONDS = 5


def _asks_for_star(requested_headers: str) -> bool:
    """With credentials `*` is a header name like any other: allowed only when asked for."""
    return "*" in {name.strip() for name in requested_headers.split(",")}


def setup_cors(
    app: Sanic[Any, Any],
    origin: str,
    *,
    methods: Iterable[str],
    expose_headers: Iterable[str],
) -> None:
    """Registers the CORS response middleware for `origin` (none when `origin` is empty)."""
    origin = origin.strip()
    if not origin:
        return
    allowed_methods = frozenset(method.strip().upper() for method in methods)
    exposed = ",".join(header.strip().lower() for header in expose_headers)

    def route_methods(request: Request) -> str:
        route = request.route
        group = app.router.groups.get(route.segments) if route is not None else None
        if group is None:
            return ""
        return ",".join(sorted(allowed_methods.intersection(group.methods)))

    def add_cors_headers(request: Request, response: BaseHTTPResponse) -> None:
        request_headers = request.headers
        preflight = request.method == "OPTIONS"
        if preflight and not request_headers.get("access-control-request-method"):
            return
        requested = request_headers.get("origin")
        if requested and requested != origin:
            return
        headers = response.headers
        headers["access-control-allow-origin"] = requested or origin
        if exposed:
            headers["access-control-expose-headers"] = exposed
        headers["access-control-allow-credentials"] = "true"
        headers["vary"] = "origin"
        if preflight:
            headers["access-control-max-age"] = str(MAX_AGE_SECONDS)
            if not (request_headers.get("authorization") or request.cookies) or _asks_for_star(
                request_headers.get("access-control-request-headers", "")
            ):
                headers["access-control-allow-headers"] = "*"
            allowed = route_methods(request)
            if allowed:
                headers["access-control-allow-methods"] = allowed

    app.register_middleware(add_cors_headers, "response")
