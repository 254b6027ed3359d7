"""A real Prometheus scrapes a real edge and a real worker, evaluates monitoring/rules/*.rules.yml,
and the recording rules' values are read back through its HTTP API.

Every check polls its query until the expected value shows or a generous deadline passes: a
recording rule over ``rate()`` has a value only once two scrapes of the counters lie inside its
window and one evaluation followed them, which on a loaded 2-core CI machine takes a variable
number of seconds (a single read once gave "assert 0.0 > 0"). The job counters start at zero at
worker boot, so the first scrape already holds the series that later increase.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise.transactions import in_transaction

from actors.contracts import SendEmail, enqueue
from models.db import isolated
from tests.e2e.stack import Stack, admin_headers, wait_until, workers_are
from tests.harness.processes import ROOT, Process, free_port
from tests.harness.smtp import Mailbox

#: Real processes on 2 busy CI cores: more than the suite's default 120 s per test.
pytestmark = pytest.mark.timeout(300)
PROMETHEUS = "/usr/bin/prometheus"
RULES = ROOT / "monitoring" / "rules"
#: Generous: Prometheus, an edge and a worker share 2 CI cores.
DEADLINE = 90.0

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}/*.rules.yml
scrape_configs:
  - job_name: edge
    metrics_path: /metrics
    static_configs:
      - targets: ["{edge}"]
  - job_name: worker
    metrics_path: /metrics
    static_configs:
      - targets: ["{worker}"]
"""


class Prometheus:
    """/usr/bin/prometheus on a free loopback port with its data in a temporary directory."""

    def __init__(self, directory: Path, *, edge: str, worker: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = directory / "prometheus.yml"
        config.write_text(CONFIG.format(rules=RULES, edge=edge, worker=worker))
        self.process = Process(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            {},
            url=self.url,
        )

    def start(self) -> Prometheus:
        self.process.start()
        self.process.wait_http(f"{self.url}/-/ready", timeout=60)
        return self

    def stop(self) -> None:
        self.process.stop()

    async def query(self, expression: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{self.url}/api/v1/query", params={"query": expression})
        body = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def value(self, expression: str) -> float | None:
        """The single value of an instant query, or None while it has no result."""
        result = await self.query(expression)
        return float(result[0]["value"][1]) if result else None

    async def eventually(
        self,
        expression: str,
        holds: Callable[[float], bool],
        what: str,
        *,
        meanwhile: Callable[[], Awaitable[object]] | None = None,
    ) -> float:
        """Polls `expression` until its value satisfies `holds`; fails after DEADLINE.
        `meanwhile` runs between reads (e.g. keeps traffic coming)."""
        deadline = time.monotonic() + DEADLINE
        last: float | None = None
        while time.monotonic() < deadline:
            last = await self.value(expression)
            if last is not None and holds(last):
                return last
            if meanwhile is not None:
                await meanwhile()
            await asyncio.sleep(0.5)
        raise AssertionError(f"{what}: {expression} is {last}\n{self.process.output()[-2000:]}")


@contextlib.asynccontextmanager
async def prometheus(directory: Path, *, edge: str, worker: str) -> AsyncIterator[Prometheus]:
    if not Path(PROMETHEUS).exists():
        pytest.fail(f"{PROMETHEUS} is missing: apt-get install prometheus")
    server = await asyncio.to_thread(Prometheus(directory, edge=edge, worker=worker).start)
    try:
        yield server
    finally:
        server.stop()


def slo(name: str, window: str = "5m") -> str:
    return f'slo:sli_error:ratio_rate{window}{{slo="{name}"}}'


async def test_prometheus_evaluates_the_slo_rules_on_metrics_of_a_real_edge_and_worker(
    smtp: Mailbox, tmp_path: Path
) -> None:
    async with Stack.create("prom") as stack:
        edge = stack.start_edge()
        worker_port = free_port()
        worker = stack.start_worker("--metrics-port", str(worker_port))
        await stack.wait_for_worker()
        edge_target = edge.url.removeprefix("http://")
        async with (
            prometheus(tmp_path, edge=edge_target, worker=f"127.0.0.1:{worker_port}") as prom,
            stack.client(edge) as http,
        ):
            for job in ("edge", "worker"):
                await prom.eventually(f'up{{job="{job}"}}', lambda v: v == 1, f"{job} scraped")

            # Traffic: good requests, e-mail jobs that succeed, and one that fails permanently.
            await wait_until(workers_are(http, "ok"), what="the worker\n" + stack.logs())
            for index in range(3):
                address = f"prom-{index}-{uuid.uuid4().hex[:6]}@example.com"
                sent = await http.post(
                    "/api/v1/jobs/email-check", json={"to": address}, headers=admin_headers()
                )
                assert sent.status_code == 200, sent.text
            for _ in range(20):
                assert (await http.get("/api/v1/healthz")).status_code == 200
            async with isolated(stack.database_url), in_transaction() as conn:
                broken = await enqueue(
                    SendEmail(template="no_such_template", to="nobody@example.com"),
                    using_db=conn,
                )
            await stack.wait_for_job(broken.id, ["dead"])

            # The recording rules, read back through the HTTP API
            failing = await prom.eventually(
                slo("worker-availability"), lambda v: v > 0, "a permanent job failure counts"
            )
            assert failing < 1  # three of the four jobs succeeded
            assert await prom.eventually(
                slo("edge-availability"), lambda v: v >= 0, "edge availability recorded"
            ) == pytest.approx(0.0)
            crud = await prom.eventually(
                slo("edge-latency-crud"), lambda v: 0 <= v <= 1, "crud latency recorded"
            )
            assert 0 <= crud <= 1
            await prom.eventually(
                'slo:objective:ratio{slo="worker-availability"}', lambda v: v == 0.999, "objective"
            )
            # Raw series behind the dashboards and the operations alerts
            await prom.eventually(
                'sum(zerocancer_relay_published_messages_total{queue="email"})',
                lambda v: v >= 4,
                "the edge's relay counts what it published",
            )
            await prom.eventually(
                "time() - max(zerocancer_worker_heartbeat_timestamp_seconds)",
                lambda v: v < 30,
                "worker heartbeat",
            )
            await prom.eventually(
                'max(zerocancer_outbox_oldest_unsent_age_seconds{queue="email"})',
                lambda v: v >= 0,
                "outbox age gauge",
            )
            await prom.eventually(
                'sum(zerocancer_job_dead_letters_total{actor="send_email"})',
                lambda v: v == 0,
                "a permanent failure is not a dead letter",
            )

            # Without workers the edge answers 503 fallbacks: they count against availability.
            assert worker.stop() == 0, worker.output()[-3000:]
            await wait_until(workers_are(http, "unavailable"), what="no worker")

            async def refused() -> None:
                response = await http.post(
                    "/api/v1/jobs/email-check",
                    json={"to": "ops@x.example"},
                    headers=admin_headers(),
                )
                assert response.status_code == 503, response.text

            # The edge creates a status's series with its first response, so rate() sees the
            # 503s only from the second scrape of that series on: keep them coming meanwhile.
            await refused()
            await prom.eventually(
                slo("edge-availability"),
                lambda v: v > 0,
                "503 fallbacks count as errors",
                meanwhile=refused,
            )
            await prom.eventually(
                'max(zerocancer_circuit_breaker_state{breaker="send_email"})',
                lambda v: v == 2,
                "the breaker is open",
            )
