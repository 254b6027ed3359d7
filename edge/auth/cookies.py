"""The `refreshToken` cookie (auth.md 2.2).

Set exactly as `refreshToken=<jwt>; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=None`
(no Domain, no Expires) and cleared with `Max-Age=0`. `AUTH_COOKIE_SECURE=false` (plain-HTTP
development on another host than localhost) drops `Secure` and uses `SameSite=Lax`, because
browsers refuse `SameSite=None` without `Secure`.

The header is written by hand rather than with Sanic's cookie jar, which adds attributes
(e.g. `Expires` for `Max-Age=0`) the contract does not have.
"""

from __future__ import annotations

from sanic import Request
from sanic.response import HTTPResponse

from edge.settings import EdgeSettings

REFRESH_COOKIE = "refreshToken"


def _cookie(settings: EdgeSettings, value: str, max_age: int) -> str:
    flags = (
        "HttpOnly; Secure; SameSite=None"
        if settings.auth_cookie_secure
        else "HttpOnly; SameSite=Lax"
    )
    return f"{REFRESH_COOKIE}={value}; Max-Age={max_age}; Path=/; {flags}"


def set_refresh_cookie(response: HTTPResponse, settings: EdgeSettings, token: str) -> None:
    response.headers.add("Set-Cookie", _cookie(settings, token, settings.refresh_token_ttl))


def clear_refresh_cookie(response: HTTPResponse, settings: EdgeSettings) -> None:
    response.headers.add("Set-Cookie", _cookie(settings, "", 0))


def refresh_cookie(request: Request) -> str | None:
    """The presented refresh cookie's value, or None when absent or empty."""
    value = request.cookies.get(REFRESH_COOKIE)
    return value or None
