"""The forgot-password / reset-password route pair of every account kind (auth.md 3.5-3.6,
5.2-5.3, 6.2-6.3).

The admin and center staff pairs answer `200 {"ok": true, "data": {"message": "Reset email
sent"}}` and `200 {"ok": true, "data": {"message": "Password reset successful"}}`; the user
(patient/donor) pair answers `200 {"ok": true, "data": {}}` to both. What else differs is the
request body, the account service behind it and the operation summary. Rate limits live in
those services (`ACCOUNT_EMAILS`), so the routes stay the same shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from pydantic import BaseModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.throttle import Throttle
from edge.deps import throttle_of
from edge.envelope import ok
from edge.openapi import request_body
from edge.validation import parse_body

ForgotBody = TypeVar("ForgotBody", bound=BaseModel)
ResetBody = TypeVar("ResetBody", bound=BaseModel)

RESET_EMAIL_SENT = "Reset email sent"
PASSWORD_RESET = "Password reset successful"  # noqa: S105 - a message


def add_password_reset_routes(
    bp: Blueprint,
    *,
    account: str | None,
    forgot_body: type[ForgotBody],
    send_reset_link: Callable[[ForgotBody, Throttle], Awaitable[None]],
    forgot_summary: str,
    reset_body: type[ResetBody],
    reset_password: Callable[[ResetBody], Awaitable[object]],
    reset_summary: str,
    with_messages: bool = True,
) -> None:
    """Adds `POST <bp>/forgot-password` and `POST <bp>/reset-password` to `bp`, named
    `forgot_<account>_password` and `reset_<account>_password` (`forgot_password` and
    `reset_password` without an account); the summaries become the handlers' docstrings (the
    OpenAPI summaries). Without `with_messages` both answer `{}`."""

    async def forgot(request: Request) -> HTTPResponse:
        await send_reset_link(parse_body(request, forgot_body), throttle_of(request))
        return ok({"message": RESET_EMAIL_SENT} if with_messages else {})

    async def reset(request: Request) -> HTTPResponse:
        await reset_password(parse_body(request, reset_body))
        return ok({"message": PASSWORD_RESET} if with_messages else {})

    name = "_password" if account is None else f"_{account}_password"
    _post(bp, "/forgot-password", "forgot" + name, forgot_body, forgot_summary, forgot)
    _post(bp, "/reset-password", "reset" + name, reset_body, reset_summary, reset)


def _post(
    bp: Blueprint,
    path: str,
    name: str,
    body: type[BaseModel],
    summary: str,
    handler: Callable[[Request], Coroutine[Any, Any, HTTPResponse]],
) -> None:
    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = summary
    bp.route(path, methods=["POST"], name=name)(request_body(body)(handler))
