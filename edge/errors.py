"""API errors and the one place that renders every failure into the contract's envelope.

    Exception
    ├── ApiError               400  {"ok": false, "error": <message>, "err_code"?, "cause"?}
    │   ├── ValidationFailed   400  error = {"issues": [{path, message, code}], "name": "ZodError"}
    │   ├── NotAuthenticated   401  error "Unauthorized", err_code invalid_request|invalid_token,
    │   │                           WWW-Authenticate: Bearer realm=..,error=..,error_description=..
    │   ├── Forbidden          403
    │   │   └── ActorMismatch  403  {"ok": false, "message": "Forbidden: actor mismatch",
    │   │                           "error": "Forbidden: actor mismatch"}
    │   ├── NotFound           404
    │   ├── Conflict           409
    │   ├── TooManyRequests    429  err_code too_many_attempts, Retry-After
    │   └── ServiceUnavailable 503  Retry-After
    ├── services.errors.DomainError      mapped by DOMAIN_ERRORS (status by class)
    ├── pydantic.ValidationError         400 validation envelope
    ├── sanic.exceptions.SanicException  its 4xx: NotFound 404, MethodNotAllowed 405,
    │                                    PayloadTooLarge 413, malformed JSON 400 (validation)
    └── anything else                    500 {"ok": false, "error": "Internal server error"},
                                         logged with the request id; its text is never sent
    BaseException
    └── sanic.exceptions.RequestCancelled 499 (the client went away: recorded, never sent)

The class names are the ones `docs/developing.md` fixes for every package (hence N818 is
silenced on them); domain errors in services follow the `<WhatHappened>Error` rule.

`err_code` is sent only when set: the contract names one for some answers and none for others,
and the web client branches on it, so an invented code is not harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, overload

import asyncpg
from pydantic import ValidationError
from sanic import Request, Sanic
from sanic import exceptions as sanic_exceptions
from sanic.response import HTTPResponse
from tortoise.exceptions import DBConnectionError

from edge.access import route_label
from edge.envelope import respond
from edge.services.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    DomainError,
    InvalidCredentialsError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)

log = logging.getLogger("zerocancer.edge.errors")

#: Message of the one issue sent for a body that does not parse as JSON (auth.md 1, D-AUTH-15).
MALFORMED_JSON = "Malformed JSON in request body"

Issue = dict[str, Any]


class ApiError(Exception):
    """An answer other than success. Either `ApiError(message, err_code=..., status=...)` or the
    positional form `ApiError(status, err_code, message)`. `message` becomes the `error` key:
    usually a text, or a JSON object such as zod's validation object."""

    status: ClassVar[int] = 400
    err_code: str | None = None
    message: str = "Bad request"

    @overload
    def __init__(
        self,
        message: str | Mapping[str, Any] | None = None,
        /,
        *,
        err_code: str | None = None,
        status: int | None = None,
        cause: Any = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        status: int,
        err_code: str | None,
        message: str,
        /,
        *,
        cause: Any = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None: ...

    def __init__(
        self,
        *args: Any,
        err_code: str | None = None,
        status: int | None = None,
        cause: Any = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        if args and isinstance(args[0], int):
            status, err_code, message = args[0], args[1], args[2]
        else:
            message = args[0] if args else None
        self.status_code: int = status if status is not None else type(self).status
        if err_code is not None:
            self.err_code = err_code
        self.error: Any = message if message is not None else self.message
        self.cause = cause
        self.headers: dict[str, str] = dict(headers or {})
        self.extra: dict[str, Any] = dict(extra or {})
        super().__init__(self.error if isinstance(self.error, str) else type(self).__name__)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False}
        body.update(self.extra)
        body["error"] = self.error
        if self.err_code is not None:
            body["err_code"] = self.err_code
        if self.cause is not None:
            body["cause"] = self.cause
        return body

    def response_headers(self, request: Request) -> dict[str, str]:
        return dict(self.headers)


class ValidationFailed(ApiError):  # noqa: N818
    """400 with zod's validation object as `error` (or a plain text when given one)."""

    status = 400
    message = "Invalid request"

    def __init__(
        self,
        message: str | None = None,
        *,
        issues: Sequence[Issue] | None = None,
        err_code: str | None = None,
    ) -> None:
        self.issues = list(issues or [])
        error: Any = message
        if self.issues and message is None:
            error = {"issues": self.issues, "name": "ZodError"}
        super().__init__(error, err_code=err_code)

    @classmethod
    def issue(
        cls,
        path: Sequence[str | int],
        message: str,
        code: str = "custom",
        *,
        err_code: str | None = None,
    ) -> ValidationFailed:
        """One issue, e.g. `ValidationFailed.issue(["emails"], "At most 20 invitations")`."""
        return cls(
            issues=[{"path": list(path), "message": message, "code": code}], err_code=err_code
        )

    @classmethod
    def malformed_json(cls, *, err_code: str | None = None) -> ValidationFailed:
        return cls.issue([], MALFORMED_JSON, "invalid_json", err_code=err_code)


class NotAuthenticated(ApiError):  # noqa: N818
    """401 of the role guard (auth.md 2.4); `description` goes in `WWW-Authenticate`."""

    status = 401
    err_code: str | None = "invalid_request"
    message = "Unauthorized"

    def __init__(
        self,
        description: str = "no authorization included in request",
        *,
        err_code: str = "invalid_request",
    ) -> None:
        super().__init__("Unauthorized", err_code=err_code)
        self.description = description

    def response_headers(self, request: Request) -> dict[str, str]:
        challenge = (
            f'Bearer realm="{request.url}",error="{self.err_code}",'
            f'error_description="{self.description}"'
        )
        return {**self.headers, "WWW-Authenticate": challenge}


class Forbidden(ApiError):  # noqa: N818
    status = 403
    message = "Forbidden"


class ActorMismatch(Forbidden):
    """403 of the role guard for a valid token of another profile."""

    message = "Forbidden: actor mismatch"

    def __init__(self) -> None:
        super().__init__(self.message, extra={"message": self.message})


class NotFound(ApiError):  # noqa: N818
    status = 404
    message = "Not found"


class Conflict(ApiError):  # noqa: N818
    status = 409
    message = "Conflict"


class TooManyRequests(ApiError):  # noqa: N818
    status = 429
    err_code: str | None = "too_many_attempts"
    message = "Too many attempts. Please try again later."

    def __init__(
        self, message: str | None = None, *, retry_after: int, err_code: str | None = None
    ) -> None:
        super().__init__(
            message, err_code=err_code, headers={"Retry-After": str(max(1, retry_after))}
        )


class ServiceUnavailable(ApiError):  # noqa: N818
    status = 503
    message = "Service unavailable"

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        headers = {} if retry_after is None else {"Retry-After": str(max(1, retry_after))}
        super().__init__(message, headers=headers)


#: Domain errors raised by services -> HTTP status (looked up along the class's MRO).
DOMAIN_ERRORS: dict[type[DomainError], int] = {
    InvalidInputError: 400,
    InvalidCredentialsError: 400,
    AccessDeniedError: 403,
    NotFoundError: 404,
    AlreadyExistsError: 409,
    RateLimitedError: 429,
}


def from_domain(exc: DomainError) -> ApiError:
    """The `ApiError` a domain error answers with."""
    status = next((DOMAIN_ERRORS[c] for c in type(exc).__mro__ if c in DOMAIN_ERRORS), 400)
    if isinstance(exc, RateLimitedError):
        return TooManyRequests(exc.message, retry_after=exc.retry_after, err_code=exc.code)
    return ApiError(exc.message, err_code=exc.code, status=status)


# -- pydantic -> zod-shaped issues -------------------------------------------------------------

#: pydantic error types -> the zod issue code the web client knows.
ZOD_CODES = {
    "missing": "invalid_type",
    "string_too_short": "too_small",
    "too_short": "too_small",
    "greater_than_equal": "too_small",
    "greater_than": "too_small",
    "string_too_long": "too_big",
    "too_long": "too_big",
    "less_than_equal": "too_big",
    "less_than": "too_big",
    "literal_error": "invalid_enum_value",
    "enum": "invalid_enum_value",
    "json_invalid": "invalid_json",
    "value_error": "custom",
    "assertion_error": "custom",
}


def zod_code(error_type: str) -> str:
    if error_type in ZOD_CODES:
        return ZOD_CODES[error_type]
    if error_type.endswith("_type") or error_type.endswith("_parsing"):
        return "invalid_type"
    return error_type


def issues_from(
    exc: ValidationError, messages: Mapping[tuple[Any, ...], str] | None = None
) -> list[Issue]:
    """zod-shaped issues; `messages` may replace the text for a (path, error type) pair."""
    issues: list[Issue] = []
    for error in exc.errors(include_url=False):
        path = [part for part in error["loc"] if isinstance(part, str | int)]
        message = error["msg"]
        if error["type"] == "missing":
            message = "Required"
        elif error["type"] == "value_error":
            message = str(error.get("ctx", {}).get("error", message))
        if messages:
            message = messages.get((tuple(path), error["type"]), message)
        issues.append({"path": path, "message": message, "code": zod_code(error["type"])})
    return issues


# -- rendering ---------------------------------------------------------------------------------


def request_id(request: Request) -> str | None:
    return getattr(request.ctx, "request_id", None)


def render_api_error(request: Request, exc: ApiError) -> HTTPResponse:
    return respond(exc.body(), status=exc.status_code, headers=exc.response_headers(request))


def render_sanic_error(request: Request, exc: sanic_exceptions.SanicException) -> HTTPResponse:
    status = getattr(exc, "status_code", 500) or 500
    if status >= 500:
        return render_unexpected(request, exc)
    text = str(exc)
    if isinstance(exc, sanic_exceptions.BadRequest) and "json" in text.lower():
        return render_api_error(request, ValidationFailed.malformed_json())
    headers = dict(getattr(exc, "headers", None) or {})
    if isinstance(exc, sanic_exceptions.NotFound):
        error = ApiError("Not found", status=404, err_code="not_found", headers=headers)
    elif isinstance(exc, sanic_exceptions.MethodNotAllowed):
        error = ApiError(
            "Method not allowed", status=405, err_code="method_not_allowed", headers=headers
        )
    elif isinstance(exc, sanic_exceptions.PayloadTooLarge):
        error = ApiError(
            "Request body too large", status=413, err_code="payload_too_large", headers=headers
        )
    else:
        error = ApiError(text or "Bad request", status=status, headers=headers)
    return render_api_error(request, error)


#: Errors that mean the database could not be reached (not that a query was wrong).
_UNREACHABLE = (
    OSError,
    DBConnectionError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
)
#: Status recorded for a request whose client went away before the answer (never sent).
CLIENT_CLOSED_REQUEST = 499
#: Seconds a client is asked to wait before retrying while the database is unreachable.
DATABASE_RETRY_AFTER = 5


def database_unreachable(exc: BaseException) -> bool:
    """True when `exc`, or what it wraps (the ORM wraps driver errors), is a lost connection."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNREACHABLE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def render_unexpected(request: Request, exc: BaseException) -> HTTPResponse:
    route = route_label(request)  # the template: raw paths may carry one-time tokens
    if database_unreachable(exc):
        log.warning(
            "database unreachable on %s %s: %s",
            request.method,
            route,
            type(exc).__name__,
            extra={"request_id": request_id(request), "route": route},
        )
        return respond(
            {"ok": False, "error": "Service temporarily unavailable", "err_code": "unavailable"},
            status=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )
    log.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        route,
        exc_info=exc,
        extra={"request_id": request_id(request), "route": route},
    )
    return respond({"ok": False, "error": "Internal server error"}, status=500)


def register_error_handlers(app: Sanic[Any, Any]) -> None:
    """Makes every failure answer in the contract's envelope (see the tree above)."""

    @app.exception(ApiError)
    async def api_error(request: Request, exc: ApiError) -> HTTPResponse:
        return render_api_error(request, exc)

    @app.exception(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> HTTPResponse:
        return render_api_error(request, from_domain(exc))

    @app.exception(ValidationError)
    async def pydantic_error(request: Request, exc: ValidationError) -> HTTPResponse:
        return render_api_error(request, ValidationFailed(issues=issues_from(exc)))

    @app.exception(sanic_exceptions.SanicException)
    async def sanic_error(request: Request, exc: sanic_exceptions.SanicException) -> HTTPResponse:
        return render_sanic_error(request, exc)

    # Sanic looks handlers up by class, BaseExceptions included; its annotation says Exception.
    @app.exception(sanic_exceptions.RequestCancelled)  # type: ignore[arg-type]
    async def client_went_away(
        request: Request, exc: sanic_exceptions.RequestCancelled
    ) -> HTTPResponse:
        # The client closed the connection before the answer was ready, so nothing is sent.
        # Not a server error: without this Sanic records a 500, which would count against the
        # availability objective. 499 is the status proxies log for it (nginx).
        return respond(
            {"ok": False, "error": "Client closed request", "err_code": "client_closed"},
            status=CLIENT_CLOSED_REQUEST,
        )

    @app.exception(Exception)
    async def unexpected(request: Request, exc: Exception) -> HTTPResponse:
        return render_unexpected(request, exc)
