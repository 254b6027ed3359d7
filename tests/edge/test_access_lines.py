"""Access lines (edge.access, edge.access_lines) and requests whose client went away."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from edge.access import _RandomIds, setup_access_log
from edge.access_lines import AccessLines, _Clock
from edge.envelope import ok
from edge.errors import register_error_handlers
from edge.metrics import setup_metrics
from monitoring import metrics
from tests.harness.in_process import serving


class Probe:
    def __init__(self, url: str, app: Sanic[Any, Any], entered: asyncio.Event) -> None:
        self.url = url
        self.app = app
        self.entered = entered

    def lines(self) -> list[dict[str, Any]]:
        """The access lines written so far (the batch is flushed first)."""
        self.app.ctx.access_lines.flush()
        stream: io.StringIO = self.app.ctx.access_stream
        return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture(scope="module")
async def probe() -> AsyncIterator[Probe]:
    app = Sanic("access_probe")
    app.config.AUTO_EXTEND = False
    # Sanic's touch-up recompiles methods shared by every app of the process; the edge apps
    # of other test modules already did.
    app.config.TOUCHUP = False
    register_error_handlers(app)
    setup_access_log(app)
    setup_metrics(app)
    stream = io.StringIO()
    app.ctx.access_stream = stream
    app.ctx.access_lines._stream = stream
    entered = asyncio.Event()

    @app.get("/reset/<token:str>")
    async def reset(request: Request, token: str) -> HTTPResponse:
        return ok({"seen": True})

    @app.get("/slow")
    async def slow(request: Request) -> HTTPResponse:
        entered.set()
        await asyncio.sleep(30)
        return ok()

    access_logger = logging.getLogger("zerocancer.edge.access")
    level = access_logger.level
    access_logger.setLevel(logging.INFO)
    try:
        async with serving(app) as url:
            yield Probe(url, app, entered)
    finally:
        access_logger.setLevel(level)


async def test_an_access_line_has_the_route_template_and_query_names_but_no_secrets(probe):
    cookies = {"refreshToken": "secret-cookie"}
    async with httpx.AsyncClient(base_url=probe.url, cookies=cookies) as http:
        answer = await http.get(
            "/reset/one-time-token-123?email=a%40b.test&code=987654",
            headers={"Authorization": "Bearer secret-jwt", "X-Request-ID": "line-1"},
        )
    assert answer.status_code == 200
    line = next(entry for entry in probe.lines() if entry.get("request_id") == "line-1")
    assert line["logger"] == "zerocancer.edge.access"
    assert line["level"] == "info"
    assert line["msg"] == "GET /reset/<token:str> 200"
    assert line["route"] == "/reset/<token:str>"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["query_keys"] == ["code", "email"]
    assert line["duration_ms"] >= 0
    assert line["client"] == "127.0.0.1"
    assert "principal" not in line  # anonymous: None fields are left out
    text = json.dumps(line)
    for secret in ("one-time-token-123", "987654", "a@b.test", "secret-jwt", "secret-cookie"):
        assert secret not in text


async def test_a_client_that_goes_away_is_recorded_as_499_not_as_a_server_error(probe):
    labels = {"route": "/slow", "method": "GET", "slo_class": "crud"}
    errors_before = metrics.HTTP_REQUESTS.labels(status="500", **labels)._value.get()
    gone_before = metrics.HTTP_REQUESTS.labels(status="499", **labels)._value.get()
    probe.entered.clear()
    host, port = probe.url.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /slow HTTP/1.1\r\nHost: probe\r\nX-Request-ID: gone-1\r\n\r\n")
    await writer.drain()
    await asyncio.wait_for(probe.entered.wait(), 10)
    writer.close()
    await writer.wait_closed()
    for _ in range(100):
        lines = [entry for entry in probe.lines() if entry.get("request_id") == "gone-1"]
        if lines:
            break
        await asyncio.sleep(0.05)
    assert [entry["status"] for entry in lines] == [499]
    assert metrics.HTTP_REQUESTS.labels(status="499", **labels)._value.get() == gone_before + 1
    assert metrics.HTTP_REQUESTS.labels(status="500", **labels)._value.get() == errors_before


async def test_lines_are_written_in_one_batch_when_the_batch_is_full() -> None:
    stream = io.StringIO()
    lines = AccessLines("zerocancer.edge.access", stream=stream, max_batch=3)
    lines.add("GET / 200", {"status": 200, "principal": None})
    lines.add("GET / 200", {"status": 200})
    assert stream.getvalue() == ""
    lines.add("GET / 404", {"status": 404})
    written = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [entry["status"] for entry in written] == [200, 200, 404]
    assert all("principal" not in entry for entry in written)
    assert written[0]["ts"].endswith("+00:00")


async def test_a_partial_batch_is_written_after_the_interval() -> None:
    stream = io.StringIO()
    lines = AccessLines("zerocancer.edge.access", stream=stream, interval=0.01)
    lines.add("GET / 200", {"status": 200})
    assert stream.getvalue() == ""
    for _ in range(200):
        if stream.getvalue():
            break
        await asyncio.sleep(0.01)
    assert json.loads(stream.getvalue())["msg"] == "GET / 200"


def test_fresh_request_ids_are_32_hex_digits_and_do_not_repeat() -> None:
    ids = _RandomIds(per_read=4)
    drawn = [ids.next() for _ in range(1_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", one) for one in drawn)
    assert len(set(drawn)) == len(drawn)


def test_the_line_time_is_utc_iso_with_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    for moment in (
        1_765_000_000.0,
        1_765_000_000.9996,
        1_765_000_000.9999996,
        1_765_000_001.25,
        1_765_000_059.001,
    ):
        monkeypatch.setattr(time, "time", lambda moment=moment: moment)
        expected = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
        assert clock.now_iso() == expected
