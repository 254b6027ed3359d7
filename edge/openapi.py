"""The OpenAPI document and its UI at /docs (sanic-ext): title, version, security schemes.

Schemes: `bearer` (access JWT in `Authorization`), `refreshCookie` (the `refreshToken`
cookie of `/auth/refresh` and `/auth/logout`), `basic` (reserved for operator tooling) and
`apiKey` (`x-api-key`: cron and partner keys). Handlers' one-line docstrings become the
operation summaries; `requires_role` and `requires_api_key` mark operations as secured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw
from sanic_ext import openapi
from sanic_ext.extensions.openapi.builders import SpecificationBuilder
from sanic_ext.extensions.openapi.definitions import Component

F = TypeVar("F", bound=Callable[..., Any])

TITLE = "ZeroCancer API"
VERSION = "1.0.0"
DESCRIPTION = (
    "REST API of the ZeroCancer backend under /api/v1: patients, donors, screening centers and "
    "admins. Success: {ok: true, data}; errors: {ok: false, error, err_code?}."
)


def configure_openapi(app: Sanic[Any, Any]) -> None:
    """sanic-ext's OpenAPI settings: they must be set before the extension starts."""
    app.config.OAS_URL_PREFIX = "/docs"
    # Redoc only: sanic-ext's Swagger UI adds an oauth2-redirect page that it fetches from a
    # CDN with a blocking call on the event loop (and answers 500 offline); we use no OAuth2.
    app.config.OAS_UI_SWAGGER = False
    app.config.OAS_UI_DEFAULT = "redoc"
    app.config.OAS_UI_SWAGGER_HTML_TITLE = TITLE
    app.config.OAS_UI_REDOC_HTML_TITLE = TITLE
    app.config.API_TITLE = TITLE
    app.config.API_VERSION = VERSION
    app.config.API_DESCRIPTION = DESCRIPTION


def setup_openapi(app: Sanic[Any, Any]) -> None:
    """The document's description and security schemes, and its cached answer."""
    spec = app.ext.openapi
    spec.describe(TITLE, VERSION, DESCRIPTION)
    spec.add_security_scheme("bearer", "http", scheme="bearer", bearer_format="JWT")
    spec.add_security_scheme("refreshCookie", "apiKey", location="cookie", name="refreshToken")
    spec.add_security_scheme("basic", "http", scheme="basic")
    spec.add_security_scheme("apiKey", "apiKey", location="header", name="x-api-key")
    serve_document_once_built(app)


def serve_document_once_built(app: Sanic[Any, Any]) -> None:
    """Answers `/docs/openapi.json` from the document built on the first request.

    sanic-ext rebuilds it on every request (about half a second of CPU on the event loop);
    routes do not change while the app runs, so one build is enough.
    """
    built: list[bytes] = []
    path = app.config.OAS_URL_PREFIX + "/openapi.json"

    def cached_document(request: Request) -> HTTPResponse | None:
        if request.path != path or request.method != "GET":
            return None
        if not built:
            document = SpecificationBuilder().build(request.app).serialize()  # type: ignore[no-untyped-call]
            built.append(json.dumps(document).encode())
        return raw(built[0], content_type="application/json")

    app.register_middleware(cached_document, "request", priority=700)


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
