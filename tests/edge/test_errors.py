"""Every failure answers in the contract's envelope (edge.errors), with a request id."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import BaseModel
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from edge.access import setup_access_log
from edge.envelope import iso, ok, paginated
from edge.errors import ApiError, Conflict, NotFound, register_error_handlers
from edge.services.errors import AlreadyExistsError, RateLimitedError
from edge.validation import parse_body
from tests.harness.in_process import serving


class Probe(BaseModel):
    count: int


@pytest.fixture(scope="module")
async def probe_url() -> AsyncIterator[str]:
    """A small Sanic app with the edge's error handlers and routes that fail on purpose."""
    app = Sanic("errors_probe")
    app.config.AUTO_EXTEND = False
    app.config.REQUEST_MAX_SIZE = 2_000
    register_error_handlers(app)
    setup_access_log(app)

    @app.get("/unexpected")
    async def unexpected(request: Request) -> HTTPResponse:
        raise RuntimeError("database password is hunter2")

    @app.get("/pydantic")
    async def pydantic_error(request: Request) -> HTTPResponse:
        Probe.model_validate({"count": "many"})
        return ok()

    @app.get("/not-found")
    async def not_found(request: Request) -> HTTPResponse:
        raise NotFound("Center not found")

    @app.get("/positional")
    async def positional(request: Request) -> HTTPResponse:
        raise ApiError(409, "slot_unavailable", "Slot taken")

    @app.get("/domain")
    async def domain(request: Request) -> HTTPResponse:
        raise AlreadyExistsError("Email already registered", code="donor_already_registered")

    @app.get("/limited")
    async def limited(request: Request) -> HTTPResponse:
        raise RateLimitedError(retry_after=42)

    @app.post("/body")
    async def body(request: Request) -> HTTPResponse:
        parsed = parse_body(request, Probe, err_code="invalid_probe")
        return ok({"count": parsed.count})

    @app.post("/sanic-json")
    async def sanic_json(request: Request) -> HTTPResponse:
        return ok(request.json)

    async with serving(app) as url:
        yield url


@pytest.fixture
async def probe(probe_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=probe_url) as http:
        yield http


async def test_an_unexpected_exception_answers_500_without_its_text_and_logs_the_request_id(
    probe, caplog
):
    with caplog.at_level(logging.ERROR, logger="zerocancer.edge.errors"):
        response = await probe.get("/unexpected", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    assert response.json() == {"ok": False, "error": "Internal server error"}
    assert "hunter2" not in response.text
    assert response.headers["X-Request-ID"] == "req-123"
    records = [r for r in caplog.records if r.name == "zerocancer.edge.errors"]
    assert records
    assert records[0].request_id == "req-123"


async def test_a_pydantic_validation_error_answers_the_400_validation_envelope(probe):
    response = await probe.get("/pydantic")
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["name"] == "ZodError"
    assert body["error"]["issues"][0]["path"] == ["count"]
    assert body["error"]["issues"][0]["code"] == "invalid_type"


async def test_api_errors_keep_their_status_message_and_code(probe):
    not_found = await probe.get("/not-found")
    assert not_found.status_code == 404
    assert not_found.json() == {"ok": False, "error": "Center not found"}
    positional = await probe.get("/positional")
    assert positional.status_code == 409
    assert positional.json() == {"ok": False, "error": "Slot taken", "err_code": "slot_unavailable"}


async def test_domain_errors_map_to_their_status(probe):
    conflict = await probe.get("/domain")
    assert conflict.status_code == 409
    assert conflict.json() == {
        "ok": False,
        "error": "Email already registered",
        "err_code": "donor_already_registered",
    }
    limited = await probe.get("/limited")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "42"
    assert limited.json()["err_code"] == "too_many_attempts"


async def test_malformed_json_is_one_invalid_json_issue_with_the_routes_err_code(probe):
    response = await probe.post(
        "/body", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error": {
            "issues": [
                {"path": [], "message": "Malformed JSON in request body", "code": "invalid_json"}
            ],
            "name": "ZodError",
        },
        "err_code": "invalid_probe",
    }


async def test_sanics_own_json_parse_failure_also_answers_the_validation_envelope(probe):
    response = await probe.post(
        "/sanic-json", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["issues"][0]["code"] == "invalid_json"


async def test_a_body_without_json_content_type_is_validated_as_empty(probe):
    response = await probe.post(
        "/body", content=b'{"count": 3}', headers={"content-type": "text/plain"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["issues"][0] == {
        "path": ["count"],
        "message": "Required",
        "code": "invalid_type",
    }
    accepted = await probe.post("/body", json={"count": 3})
    assert accepted.status_code == 200
    assert accepted.json() == {"ok": True, "data": {"count": 3}}


async def test_a_too_large_body_answers_413_in_the_envelope(probe):
    response = await probe.post(
        "/body", content=b"x" * 10_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {
        "ok": False,
        "error": "Request body too large",
        "err_code": "payload_too_large",
    }


async def test_unknown_routes_and_methods_answer_404_and_405_envelopes(client):
    missing = await client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error": "Not found", "err_code": "not_found"}
    wrong_method = await client.delete("/api/v1/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["err_code"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]


async def test_every_answer_carries_a_request_id_and_a_valid_incoming_one_is_kept(client):
    generated = await client.get("/api/v1/healthz")
    assert len(generated.headers["X-Request-ID"]) == 32
    kept = await client.get("/api/v1/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    replaced = await client.get("/api/v1/healthz", headers={"X-Request-ID": "bad id; drop"})
    assert replaced.headers["X-Request-ID"] != "bad id; drop"


async def test_cors_allows_only_the_frontend_origin_with_credentials(client):
    allowed = await client.get("/api/v1/healthz", headers={"Origin": "http://frontend.test"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://frontend.test"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    other = await client.get("/api/v1/healthz", headers={"Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in other.headers


# -- envelope -----------------------------------------------------------------------------------


def test_ok_sends_empty_data_by_default_and_the_message_when_given():
    assert ok().body == b'{"ok":true,"data":{}}'
    assert ok(None).body == b'{"ok":true,"data":null}'
    response = ok({"a": 1}, message="Done", status=201)
    assert response.status == 201
    assert response.body == b'{"ok":true,"message":"Done","data":{"a":1}}'


def test_paginated_counts_pages():
    response = paginated([1, 2], page=2, limit=2, total=5)
    assert response.body == (
        b'{"ok":true,"data":[1,2],"page":2,"limit":2,"total":5,"totalPages":3}'
    )


def test_timestamps_are_utc_with_milliseconds_and_z():
    assert iso(datetime(2025, 7, 29, 16, 38, 17, 123456)) == "2025-07-29T16:38:17.123Z"
    aware = datetime(2025, 7, 29, 17, 38, 17, 123000, tzinfo=UTC)
    assert iso(aware) == "2025-07-29T17:38:17.123Z"
    assert ok({"at": datetime(2025, 1, 2, 3, 4, 5)}).body == (
        b'{"ok":true,"data":{"at":"2025-01-02T03:04:05.000Z"}}'
    )


def test_conflict_subclass_renders_its_status():
    error = Conflict("Taken", err_code="taken")
    assert error.status_code == 409
    assert error.body() == {"ok": False, "error": "Taken", "err_code": "taken"}


def test_a_lost_database_connection_is_told_apart_from_a_bad_query() -> None:
    import asyncpg
    from tortoise.exceptions import OperationalError

    from edge.errors import database_unreachable

    def wrapped(cause: BaseException) -> OperationalError:
        try:
            raise OperationalError("wrapped by the ORM") from cause
        except OperationalError as error:
            return error

    assert database_unreachable(wrapped(ConnectionRefusedError(111, "refused")))
    assert database_unreachable(wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("gone")))
    assert not database_unreachable(wrapped(asyncpg.exceptions.UniqueViolationError("dup")))
    assert not database_unreachable(ValueError("bad input"))
