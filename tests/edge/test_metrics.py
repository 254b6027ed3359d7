"""The edge's /metrics: request series by route template and SLO class.

An edge of its own with its own metrics directory: other processes of the run (workers of the
end-to-end tests) clear the shared one when they start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import edge_process


@pytest.fixture(scope="module")
def metrics_edge(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory: Path = tmp_path_factory.mktemp("edge-metrics")
    process = edge_process(database_url, ZEROCANCER_METRICS_DIR=str(directory)).start()
    try:
        process.wait_http(f"{process.url}/api/v1/healthz", timeout=60)
        yield process.url
    finally:
        process.stop()


def samples(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{")]


async def test_every_route_has_a_5xx_series_from_the_start(metrics_edge: str) -> None:
    async with httpx.AsyncClient(base_url=metrics_edge) as http:
        text = (await http.get("/metrics")).text
    center_list = [
        line
        for line in samples(text, "zerocancer_http_requests_total")
        if 'route="/api/v1/center"' in line and 'status="500"' in line and 'method="GET"' in line
    ]
    assert center_list, "the GET /api/v1/center 5xx series is missing"
    assert 'slo_class="crud"' in center_list[0]


async def test_a_request_is_counted_under_its_route_template(metrics_edge: str) -> None:
    async with httpx.AsyncClient(base_url=metrics_edge) as http:
        answer = await http.get("/api/v1/center/no-such-center")
        text = (await http.get("/metrics")).text
    pattern = re.compile(
        r'zerocancer_http_requests_total\{[^}]*route="/api/v1/center/<[^>]+>"[^}]*'
        rf'status="{answer.status_code}"[^}}]*\}} 1\.0'
    )
    assert any(pattern.search(line) for line in text.splitlines()), answer.status_code
    assert "no-such-center" not in text
