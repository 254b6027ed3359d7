"""The answer every login route gives (auth.md 3.1, 5.4, 6.1): token, user and refresh cookie."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sanic import Request
from sanic.response import HTTPResponse

from edge.auth.cookies import set_refresh_cookie
from edge.auth.throttle import Throttle
from edge.deps import client_ip, settings_of, throttle_of
from edge.envelope import ok
from edge.errors import ApiError
from edge.services.accounts import SignedIn
from edge.services.errors import InvalidCredentialsError
from edge.settings import EdgeSettings


class Login(Protocol):
    """A login of `edge.services.logins`, its account's own arguments bound (`partial`)."""

    def __call__(
        self,
        *,
        email: str,
        password: str,
        client_ip: str,
        settings: EdgeSettings,
        throttle: Throttle,
    ) -> Awaitable[SignedIn]: ...


async def login_answer(
    request: Request,
    email: str,
    password: str,
    login: Login,
    user: Callable[[SignedIn], dict[str, Any]],
    *,
    refused_status: int | None = None,
) -> HTTPResponse:
    """The answer of every login (auth.md 3.1, 5.4, 6.1): `{"token", "user": user(signed_in)}`
    and the refresh token in its cookie. Bad credentials answer 400 `invalid_credentials`, or
    `refused_status` (with no `err_code`) where the account kind's contract says so."""
    settings = settings_of(request)
    try:
        signed_in = await login(
            email=email,
            password=password,
            client_ip=client_ip(request),
            settings=settings,
            throttle=throttle_of(request),
        )
    except InvalidCredentialsError as exc:
        if refused_status is None:
            raise
        raise ApiError(exc.message, status=refused_status) from None
    response = ok({"token": signed_in.tokens.access, "user": user(signed_in)})
    set_refresh_cookie(response, settings, signed_in.tokens.refresh)
    return response
