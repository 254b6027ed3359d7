"""The OpenAPI document and its UI at /docs (sanic-ext): title, version, security schemes.

Schemes: `bearer` (access JWT in `Authorization`), `refreshCookie` (the `refreshToken`
cookie of `/auth/refresh` and `/auth/logout`), `basic` (reserved for operator tooling) and
`apiKey` (`x-api-key`: cron and partner keys). Handlers' one-line docstrings become the
operation summaries; `requires_role` and `requires_api_key` mark operations as secured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sanic import Sanic
from sanic_ext import openapi
from sanic_ext.extensions.openapi.definitions import Component

F = TypeVar("F", bound=Callable[..., Any])

TITLE = "ZeroCancer API"
VERSION = "1.0.0"
DESCRIPTION = (
    "REST API of the ZeroCancer backend under /api/v1: patients, donors, screening centers and "
    "admins. Success: {ok: true, data}; errors: {ok: false, error, err_code?}."
)


def setup_openapi(app: Sanic[Any, Any]) -> None:
    app.config.OAS_URL_PREFIX = "/docs"
    app.config.OAS_UI_DEFAULT = "swagger"
    app.config.OAS_UI_SWAGGER_HTML_TITLE = TITLE
    app.config.OAS_UI_REDOC_HTML_TITLE = TITLE
    app.config.API_TITLE = TITLE
    app.config.API_VERSION = VERSION
    app.config.API_DESCRIPTION = DESCRIPTION
    spec = app.ext.openapi
    spec.describe(TITLE, VERSION, DESCRIPTION)
    spec.add_security_scheme("bearer", "http", scheme="bearer", bearer_format="JWT")
    spec.add_security_scheme("refreshCookie", "apiKey", location="cookie", name="refreshToken")
    spec.add_security_scheme("basic", "http", scheme="basic")
    spec.add_security_scheme("apiKey", "apiKey", location="header", name="x-api-key")


def request_body(model: type[BaseModel]) -> Callable[[F], F]:
    """Documents a JSON request body with the pydantic model's schema (as a component).

    Put it above `requires_role`, which wraps the handler."""
    decorator: Callable[[F], F] = openapi.body(
        {"application/json": Component(model)}, required=True
    )
    return decorator


def cookie_secured(handler: F) -> F:
    """Documents that the operation reads the `refreshToken` cookie."""
    secured: F = openapi.secured("refreshCookie")(handler)
    return secured
