"""HTTP metrics: request duration and count by route template, method, status and SLO class.

Also serves `/metrics` from the multiprocess directory, so every Sanic worker process of this
edge is counted.
"""

from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING, Any

from sanic import Request, Sanic
from sanic.response import BaseHTTPResponse, HTTPResponse, raw

from edge.access import route_label
from monitoring import metrics
from monitoring.exposition import mark_process_dead, render_latest

if TYPE_CHECKING:  # imported at run time by monitoring.metrics, which must come first
    from prometheus_client import Counter, Histogram

#: Route prefixes whose latency objective is not the CRUD one (first match wins).
SLO_CLASS_PREFIXES: tuple[tuple[str, str], ...] = (
    ("/api/v1/analytics", "analytics"),
    ("/api/v1/admin/analytics", "analytics"),
    ("/api/v1/waitlist/trigger-matching", "matching"),
    ("/api/v1/waitlist/matching", "matching"),
    ("/api/v1/notifications/stream", "other"),
    ("/api/v1/jobs", "other"),
    ("/metrics", "other"),
    ("/docs", "other"),
)
#: Methods that carry uploads or renders; they have no latency objective.
UPLOAD_SUFFIXES = ("/upload", "/upload-results", "/files", "/pdf", "/download")


@functools.lru_cache(maxsize=1024)
def slo_class_for(route: str) -> str:
    """The SLO class of a route template (cached: templates are few, requests many)."""
    for prefix, slo_class in SLO_CLASS_PREFIXES:
        if route.startswith(prefix):
            return slo_class
    if route.endswith(UPLOAD_SUFFIXES) or route == "<unmatched>":
        return "other"
    return "crud"


#: Most (route, method, status) children kept per edge: beyond, `labels()` per request.
MAX_CACHED_CHILDREN = 4096


def setup_metrics(app: Sanic[Any, Any]) -> None:
    """Registers the timing middleware and the `/metrics` route."""
    # The duration and count children per (route template, method, status): `labels()` looks
    # them up under a lock on every call, and they never change once created.
    children: dict[tuple[str, str, int], tuple[Histogram, Counter]] = {}

    def series_for(route: str, method: str, status: int) -> tuple[Histogram, Counter]:
        labels = {
            "route": route,
            "method": method,
            "status": str(status),
            "slo_class": slo_class_for(route),
        }
        series = (
            metrics.HTTP_REQUEST_DURATION.labels(**labels),
            metrics.HTTP_REQUESTS.labels(**labels),
        )
        if len(children) < MAX_CACHED_CHILDREN:
            children[(route, method, status)] = series
        return series

    def start_timer(request: Request) -> None:
        request.ctx.metrics_started = time.perf_counter()

    def observe(request: Request, response: BaseHTTPResponse) -> None:
        started = getattr(request.ctx, "metrics_started", None)
        route = route_label(request)
        if started is None or route == "/metrics":
            return
        key = (route, request.method, response.status)
        series = children.get(key)
        if series is None:
            series = series_for(*key)
        series[0].observe(time.perf_counter() - started)
        series[1].inc()

    async def serve_metrics(request: Request) -> HTTPResponse:
        body, content_type = render_latest()
        return raw(body, content_type=content_type)

    async def forget_process(app: Sanic[Any, Any]) -> None:
        mark_process_dead(os.getpid())

    async def create_error_series(app: Sanic[Any, Any]) -> None:
        # rate() cannot see the first increment of a series that did not exist before it, so
        # the first 5xx of a route would never reach the availability SLI: start them at 0.
        for route in app.router.routes:
            template = "/" + route.path.lstrip("/")
            for method in route.methods:
                metrics.HTTP_REQUESTS.labels(
                    route=template, method=method, status="500", slo_class=slo_class_for(template)
                ).inc(0)

    app.register_middleware(start_timer, "request", priority=900)
    app.register_middleware(observe, "response", priority=-900)
    app.add_route(serve_metrics, "/metrics", methods=["GET"], name="metrics")
    app.register_listener(create_error_series, "before_server_start")
    app.register_listener(forget_process, "after_server_stop")
