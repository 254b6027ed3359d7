"""API keys in the `x-api-key` header: the cron key and optional partner keys.

- `CRON_API_KEY` authorises the cron triggers (`POST /waitlist/trigger-matching`,
  `POST /payouts/monthly-batch`). Unset means those endpoints refuse everybody with 401
  `{"error": "Unauthorized"}` (fail closed, D-WL-3 / D-PAY-5 / D-JOB-3).
- `PARTNER_API_KEYS` (`name=key,...`) names keys for partner integrations; a route opts in
  with `requires_api_key("partner")`, and the matched name is the principal's id.
- Keys are compared in constant time and never logged; a refusal logs the caller address only.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, Literal, TypeVar, cast

from sanic import Request
from sanic.response import HTTPResponse
from sanic_ext.extensions.openapi import openapi

from edge.auth.guards import Principal
from edge.envelope import respond
from edge.settings import EdgeSettings

log = logging.getLogger("zerocancer.edge.auth")

API_KEY_HEADER = "x-api-key"

KeyKind = Literal["cron", "partner"]
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[HTTPResponse]])


def keys_equal(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def match_key(settings: EdgeSettings, presented: str | None, kind: KeyKind) -> str | None:
    """The key's name (`"cron"` or the partner's name) when `presented` is a configured key."""
    if not presented:
        return None
    if kind == "cron":
        expected = settings.cron_api_key
        return "cron" if expected is not None and keys_equal(presented, expected) else None
    found: str | None = None
    for name, key in settings.partner_api_keys:
        # Compare with every key (no early exit) so timing does not reveal which one matched.
        if keys_equal(presented, key) and found is None:
            found = name
    return found


def unauthorized() -> HTTPResponse:
    """The cron endpoints' refusal as the contract has it (no `ok` key)."""
    return respond({"error": "Unauthorized"}, status=401)


def requires_api_key(kind: KeyKind = "cron") -> Callable[[Handler], Handler]:
    """Handler decorator: `x-api-key` must match; sets `request.ctx.principal` to an
    `api_key` principal whose id is the key's name."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            settings: EdgeSettings = request.app.ctx.settings
            name = match_key(settings, request.headers.get(API_KEY_HEADER), kind)
            if name is None:
                log.warning(
                    "refused %s api key on %s from %s",
                    kind,
                    request.path,
                    request.remote_addr or request.ip,
                )
                return unauthorized()
            request.ctx.principal = Principal(kind="api_key", id=name)
            return await handler(request, *args, **kwargs)

        return cast(Handler, openapi.secured("apiKey")(guarded))

    return decorate
