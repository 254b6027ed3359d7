"""What handlers take from the request: settings, throttle, client address, principal."""

from __future__ import annotations

from sanic import Request

from edge.auth.guards import Principal
from edge.auth.throttle import Throttle
from edge.settings import EdgeSettings


def settings_of(request: Request) -> EdgeSettings:
    settings: EdgeSettings = request.app.ctx.settings
    return settings


def throttle_of(request: Request) -> Throttle:
    throttle: Throttle = request.app.ctx.throttle
    return throttle


def client_ip(request: Request) -> str:
    """The caller's address: the proxy-forwarded one when Sanic is configured to trust it
    (`SANIC_PROXIES_COUNT` / `SANIC_FORWARDED_SECRET`), else the peer address."""
    return request.remote_addr or request.ip or "unknown"


def principal_of(request: Request) -> Principal:
    """The principal set by `requires_role` / `requires_api_key` (use only behind them)."""
    principal: Principal = request.ctx.principal
    return principal
