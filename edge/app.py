"""The app factory: settings, logging, error handlers, access log and metrics middleware (with
/metrics), OpenAPI, listeners, routes.

Every module of `edge.routes` that defines `bp` (a Sanic Blueprint whose `url_prefix` is
relative to `/api/v1`) is registered here automatically, so adding a route group needs no edit
elsewhere. A route module may also define `setup(app)` to register its own listeners or
middleware (e.g. a LISTEN connection); it is called after its blueprint is registered.

Middleware that never awaits is a plain function: Sanic awaits only what returns an awaitable,
and a coroutine per middleware per request is a measurable share of a cheap GET.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from types import ModuleType
from typing import Any

from sanic import Blueprint, Sanic
from sanic_ext.extensions.http.extension import HTTPExtension
from sanic_ext.extensions.openapi.extension import OpenAPIExtension

import edge.routes
from edge.access import setup_access_log
from edge.cors import setup_cors
from edge.envelope import dumps
from edge.errors import register_error_handlers
from edge.input_guard import setup_input_guard
from edge.jobs import setup_jobs
from edge.lifecycle import setup_lifecycle
from edge.logs import log_config
from edge.metrics import setup_metrics
from edge.openapi import configure_openapi, setup_openapi
from edge.relay_task import setup_relay
from edge.settings import EdgeSettings

API_PREFIX = "/api/v1"
APP_NAME = "zerocancer"
#: Methods the CORS preflight allows (as the reference does, auth.md 2.3).
CORS_METHODS = "GET,HEAD,PUT,POST,DELETE,PATCH"


def route_modules() -> list[ModuleType]:
    """Every module of `edge.routes`, imported, in name order."""
    names = sorted(info.name for info in pkgutil.iter_modules(edge.routes.__path__))
    return [importlib.import_module(f"{edge.routes.__name__}.{name}") for name in names]


def register_routes(app: Sanic[Any, Any]) -> list[Blueprint]:
    registered: list[Blueprint] = []
    for module in route_modules():
        bp = getattr(module, "bp", None)
        if isinstance(bp, Blueprint):
            app.blueprint(bp, url_prefix=API_PREFIX + (bp.url_prefix or ""))
            registered.append(bp)
        setup = getattr(module, "setup", None)
        if callable(setup):
            setup(app)
    return registered


def configure(app: Sanic[Any, Any], settings: EdgeSettings) -> None:
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # CORS is `edge.cors`; sanic-ext keeps only the automatic OPTIONS and HEAD answers.
    app.config.CORS = False


def create_app(settings: EdgeSettings | None = None, *, name: str = APP_NAME) -> Sanic[Any, Any]:
    """A ready-to-serve edge; `settings` default to `EdgeSettings.from_env(os.environ)`."""
    settings = settings or EdgeSettings.from_env(os.environ)
    app: Sanic[Any, Any] = Sanic(name, log_config=log_config(), dumps=dumps)
    app.ctx.settings = settings
    configure(app, settings)
    configure_openapi(app)
    # Only the sanic-ext parts the edge uses: the OpenAPI document and the automatic OPTIONS
    # and HEAD answers. The default set also brings dependency injection, which costs a
    # signal dispatch on every request and is not used. (sanic-ext reads its configuration
    # here, so `configure` comes first.)
    app.extend(extensions=[OpenAPIExtension, HTTPExtension], built_in_extensions=False)
    register_error_handlers(app)
    # One origin with credentials, as the reference; same-origin deployments need none.
    setup_cors(
        app,
        settings.frontend_url,
        methods=CORS_METHODS.split(","),
        expose_headers=("X-Request-ID", "Retry-After"),
    )
    setup_input_guard(app)
    setup_access_log(app)
    setup_metrics(app)
    setup_openapi(app)
    setup_lifecycle(app)
    setup_jobs(app)
    setup_relay(app)
    register_routes(app)
    settings.log_summary()
    return app
