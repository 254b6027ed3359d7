"""Liveness, readiness, and the edge's refusals to start (bad settings, schema mismatch)."""

from __future__ import annotations

import logging
import uuid

import asyncpg
import pytest

from edge.settings import EMBEDDED_JWT_SECRET, EdgeSettings, SettingsError
from tests.conftest import PG_ADMIN_URL, TEST_ENV, edge_process


async def test_healthz_answers_without_checking_dependencies(client):
    response = await client.get("/api/v1/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "data": {"status": "ok"}}


async def test_readyz_checks_the_database_and_the_schema_fingerprint(client):
    response = await client.get("/api/v1/readyz")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["status"], data["checks"]) == ("ready", {"database": "ok", "schema": "ok"})
    # The job runtime is reported, not gating (tests/edge/test_jobs.py checks its contents).
    assert set(data["jobs"]) == {"broker", "workers", "listener"}


async def test_the_openapi_document_and_its_ui_are_served(client):
    ui = await client.get("/docs")
    assert ui.status_code == 200
    document = (await client.get("/docs/openapi.json")).json()
    assert document["info"]["title"] == "ZeroCancer API"
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["refreshCookie"]["in"] == "cookie"
    assert schemes["basic"]["scheme"] == "basic"
    assert schemes["apiKey"]["name"] == "x-api-key"
    assert "/api/v1/auth/login" in document["paths"]
    assert document["paths"]["/api/v1/auth/me"]["get"]["security"] == [{"bearer": []}]


@pytest.fixture
async def empty_database_url():
    name = f"zc_test_empty_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def test_the_edge_refuses_to_start_on_a_database_with_another_schema(empty_database_url):
    process = edge_process(empty_database_url).start()
    try:
        returncode = process.popen.wait(timeout=60) if process.popen else None
    finally:
        process.stop()
    assert returncode == 3
    assert "refusing to start: schema mismatch" in process.output()


def test_the_edge_refuses_to_start_without_a_jwt_secret_outside_embedded_mode(database_url):
    process = edge_process(database_url, JWT_TOKEN_SECRET="").start()
    try:
        returncode = process.popen.wait(timeout=60) if process.popen else None
    finally:
        process.stop()
    assert returncode == 2
    assert "JWT_TOKEN_SECRET is not set" in process.output()


# -- settings -----------------------------------------------------------------------------------


def test_settings_read_the_deployment_names():
    settings = EdgeSettings.from_env(
        {**TEST_ENV, "AUTH_COOKIE_SECURE": "false", "PARTNER_API_KEYS": "acme=k1, beta=k2"}
    )
    assert settings.database_url == TEST_ENV["DATABASE_URL"]
    assert settings.jwt_token_secret == TEST_ENV["JWT_TOKEN_SECRET"]
    assert settings.frontend_url == "http://frontend.test"
    assert settings.cron_api_key == TEST_ENV["CRON_API_KEY"]
    assert settings.auth_cookie_secure is False
    assert settings.partner_api_keys == (("acme", "k1"), ("beta", "k2"))
    assert (settings.access_token_ttl, settings.admin_access_token_ttl) == (300, 28_800)
    assert settings.refresh_token_ttl == 604_800


@pytest.mark.parametrize("secret", ["", "secret", EMBEDDED_JWT_SECRET])
def test_a_missing_or_default_secret_is_refused_outside_embedded_mode(secret):
    with pytest.raises(SettingsError, match="JWT_TOKEN_SECRET"):
        EdgeSettings.from_env({**TEST_ENV, "JWT_TOKEN_SECRET": secret})


def test_embedded_mode_allows_the_defaults_and_says_so(caplog):
    settings = EdgeSettings.from_env({"ZEROCANCER_EMBEDDED": "1"})
    assert settings.embedded is True
    assert settings.jwt_token_secret == EMBEDDED_JWT_SECRET
    assert settings.frontend_url == "http://localhost:3000"
    with caplog.at_level(logging.WARNING, logger="zerocancer.edge"):
        settings.log_summary()
    text = caplog.text
    assert "embedded mode" in text
    assert "JWT_TOKEN_SECRET" in text
    assert EMBEDDED_JWT_SECRET not in text


def test_frontend_url_is_required_outside_embedded_mode():
    environ = {key: value for key, value in TEST_ENV.items() if key != "FRONTEND_URL"}
    with pytest.raises(SettingsError, match="FRONTEND_URL"):
        EdgeSettings.from_env(environ)
