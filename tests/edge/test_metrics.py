"""The edge's /metrics: request series by route template and SLO class."""

from __future__ import annotations

import re

import httpx


def samples(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{")]


async def test_every_route_has_a_5xx_series_from_the_start(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    errors = samples(text, "zerocancer_http_requests_total")
    center_list = [
        line
        for line in errors
        if 'route="/api/v1/center"' in line and 'status="500"' in line and 'method="GET"' in line
    ]
    assert center_list, "the GET /api/v1/center 5xx series is missing"
    assert 'slo_class="crud"' in center_list[0]


async def test_a_request_is_counted_under_its_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/center/no-such-center")
    text = (await client.get("/metrics")).text
    pattern = re.compile(
        r'zerocancer_http_requests_total\{[^}]*route="/api/v1/center/<[^>]+>"[^}]*status="404"'
    )
    assert any(pattern.search(line) for line in text.splitlines())
    assert "no-such-center" not in text
