"""edge.cors answers every kind of request as sanic-ext's CORS did with the edge's settings."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic_ext.extensions.http.extension import HTTPExtension

from edge.app import CORS_METHODS
from edge.cors import setup_cors
from edge.envelope import ok
from edge.errors import NotFound, register_error_handlers
from tests.harness.in_process import serving

FRONTEND = "http://frontend.test"
EXPOSED = ("X-Request-ID", "Retry-After")
#: Headers whose value is a comma-separated set (their order carries no meaning).
LISTS = {"access-control-allow-methods", "access-control-expose-headers"}


def probe_app(name: str, *, ours: bool) -> Sanic[Any, Any]:
    app = Sanic(name)
    app.config.TOUCHUP = False  # several apps in one process (see test_access_lines)
    if ours:
        app.config.CORS = False
        setup_cors(app, FRONTEND, methods=CORS_METHODS.split(","), expose_headers=EXPOSED)
    else:  # the configuration the edge gave sanic-ext before edge.cors
        app.config.CORS_ORIGINS = FRONTEND
        app.config.CORS_SUPPORTS_CREDENTIALS = True
        app.config.CORS_METHODS = CORS_METHODS
        app.config.CORS_ALLOW_HEADERS = "*"
        app.config.CORS_EXPOSE_HEADERS = ",".join(EXPOSED)
        app.config.CORS_VARY_HEADER = True
    app.extend(extensions=[HTTPExtension], built_in_extensions=False)
    register_error_handlers(app)

    @app.get("/things")
    async def list_things(request: Request) -> HTTPResponse:
        return ok([])

    @app.post("/things")
    async def add_thing(request: Request) -> HTTPResponse:
        return ok({}, status=201)

    @app.route("/things/<thing_id:str>", methods=["GET", "PUT", "DELETE"])
    async def one_thing(request: Request, thing_id: str) -> HTTPResponse:
        raise NotFound("Thing not found")

    return app


@pytest.fixture(scope="module")
async def urls() -> AsyncIterator[dict[str, str]]:
    async with (
        serving(probe_app("cors_reference", ours=False)) as reference,
        serving(probe_app("cors_ours", ours=True)) as ours,
    ):
        yield {"reference": reference, "ours": ours}


def cors_headers(response: httpx.Response) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for name, value in response.headers.items():
        name = name.lower()
        if name.startswith("access-control-") or name == "vary":
            seen[name] = frozenset(value.split(",")) if name in LISTS else value
    return seen


REQUESTS = list(
    itertools.product(
        ("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"),
        ("/things", "/things/t-1", "/nowhere"),
        (None, "", FRONTEND, "http://evil.test", FRONTEND + ".evil.test", FRONTEND + "/"),
        (None, "GET", "DELETE"),  # Access-Control-Request-Method
        (None, "content-type,x-request-id", "*"),  # Access-Control-Request-Headers
        ("none", "bearer", "cookie"),
    )
)


async def test_every_request_gets_the_same_cors_headers_as_from_sanic_ext(urls):
    differences = []
    async with httpx.AsyncClient() as http:
        for method, path, origin, request_method, request_headers, credentials in REQUESTS:
            headers = {}
            if origin is not None:
                headers["Origin"] = origin
            if request_method is not None:
                headers["Access-Control-Request-Method"] = request_method
            if request_headers is not None:
                headers["Access-Control-Request-Headers"] = request_headers
            if credentials == "bearer":
                headers["Authorization"] = "Bearer abc"
            elif credentials == "cookie":
                headers["Cookie"] = "refreshToken=abc"
            answers = {
                kind: await http.request(method, url + path, headers=headers)
                for kind, url in urls.items()
            }
            reference, ours = answers["reference"], answers["ours"]
            case = (method, path, origin, request_method, request_headers, credentials)
            if (reference.status_code, cors_headers(reference)) != (
                ours.status_code,
                cors_headers(ours),
            ):
                differences.append((case, cors_headers(reference), cors_headers(ours)))
    assert differences == [], differences[:5]


async def test_the_frontend_origin_is_allowed_with_credentials_and_others_get_nothing(urls):
    async with httpx.AsyncClient(base_url=urls["ours"]) as http:
        allowed = await http.get("/things", headers={"Origin": FRONTEND})
        other = await http.get("/things", headers={"Origin": "http://evil.test"})
        preflight = await http.options(
            "/things/t-1",
            headers={"Origin": FRONTEND, "Access-Control-Request-Method": "PUT"},
        )
    assert allowed.headers["access-control-allow-origin"] == FRONTEND
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert set(allowed.headers["access-control-expose-headers"].split(",")) == {
        "x-request-id",
        "retry-after",
    }
    assert not [name for name in other.headers if name.lower().startswith("access-control-")]
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "DELETE,GET,HEAD,PUT"
    assert preflight.headers["access-control-max-age"] == "5"
