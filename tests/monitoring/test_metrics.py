"""monitoring.metrics and monitoring.exposition: naming, buckets, multiprocess exposition."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from monitoring import exposition, metrics

REPO = Path(__file__).resolve().parents[2]

NAME = re.compile(r"zerocancer_[a-z][a-z0-9]*(_[a-z0-9]+)+")
ALLOWED_LABELS = {
    "route",
    "method",
    "status",
    "slo_class",
    "actor",
    "queue",
    "outcome",
    "worker",
    "breaker",
    "trigger",
    "attempt",
}


def _family(metric: MetricWrapperBase) -> tuple[str, str]:
    family = next(iter(metric.describe()))
    return family.name, family.type


@pytest.mark.parametrize("metric", metrics.ALL_METRICS, ids=lambda m: _family(m)[0])
def test_metric_names_and_labels_follow_the_house_convention(metric):
    name, kind = _family(metric)
    exposed = metrics.series(metric, "bucket") if kind == "histogram" else metrics.series(metric)

    assert NAME.fullmatch(name), name
    if kind == "counter":
        assert exposed.endswith("_total")
    elif kind == "histogram":
        assert name.endswith("_seconds"), "histograms here measure time, in seconds"
    else:
        assert name.endswith(("_seconds", "_messages", "_state")), "gauges name their unit"
    labels = set(metric._labelnames)
    assert labels <= ALLOWED_LABELS, labels - ALLOWED_LABELS
    assert not any(label == "id" or label.endswith("_id") for label in labels)


def test_every_zerocancer_metric_in_the_registry_is_listed_in_all_metrics():
    registered = {f.name for f in REGISTRY.collect() if f.name.startswith("zerocancer_")}

    assert registered == {_family(metric)[0] for metric in metrics.ALL_METRICS}


@pytest.mark.parametrize(
    "histogram",
    [m for m in metrics.ALL_METRICS if isinstance(m, Histogram)],
    ids=lambda m: _family(m)[0],
)
def test_histogram_buckets_have_edges_at_the_slo_thresholds(histogram):
    edges = set(histogram._upper_bounds)

    assert {0.1, 2.0, 5.0} <= edges


@pytest.mark.parametrize(
    "gauge",
    [m for m in metrics.ALL_METRICS if isinstance(m, Gauge)],
    ids=lambda m: _family(m)[0],
)
def test_gauges_declare_how_processes_are_combined(gauge):
    # "all" is prometheus_client's default: one series per pid, which dashboards cannot use.
    assert gauge._multiprocess_mode != "all"


def test_series_names_what_prometheus_scrapes():
    assert metrics.series(metrics.HTTP_REQUESTS) == "zerocancer_http_requests_total"
    assert (
        metrics.series(metrics.HTTP_REQUEST_DURATION, "count")
        == "zerocancer_http_request_duration_seconds_count"
    )
    assert metrics.series(metrics.WORKER_HEARTBEAT) == (
        "zerocancer_worker_heartbeat_timestamp_seconds"
    )
    with pytest.raises(ValueError, match="bucket, count or sum"):
        metrics.series(metrics.HTTP_REQUEST_DURATION)
    assert isinstance(metrics.HTTP_REQUESTS, Counter)


# --- multiprocess mode, in subprocesses ---------------------------------------------------


def _run(code: str, metrics_dir: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with ZEROCANCER_METRICS_DIR = metrics_dir (or unset)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in (exposition.METRICS_DIR_ENV, exposition.MULTIPROC_DIR_ENV)
    }
    if metrics_dir is not None:
        env[exposition.METRICS_DIR_ENV] = str(metrics_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


WORKER_PROCESS = """
    import sys
    import monitoring.metrics as m

    amount = float(sys.argv[1])
    m.JOB_OUTCOMES.labels(actor="send_email", queue="email", outcome="succeeded").inc(amount)
    m.WORKER_HEARTBEAT.labels(worker="w1").set(float(sys.argv[2]))
    m.OUTBOX_BACKLOG.labels(queue="email").set(amount)
    m.HTTP_REQUEST_DURATION.labels(
        route="/api/v1/appointment", method="GET", status="200", slo_class="crud"
    ).observe(0.05)
"""

LAUNCHER = """
    from monitoring.exposition import prepare_from_environment
    prepare_from_environment(wipe=True)
"""

SCRAPE = """
    import sys
    from monitoring.exposition import render_latest

    body, content_type = render_latest()
    sys.stdout.write(body.decode())
"""


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_multiprocess_exposition_sums_two_processes_after_wiping_the_last_run(tmp_path):
    metrics_dir = tmp_path / "prom"
    # Given a previous run's files in the directory
    _ok(_run(WORKER_PROCESS, metrics_dir, "1000", "50"))
    # When the launcher wipes it and two worker processes count
    _ok(_run(LAUNCHER, metrics_dir))
    _ok(_run(WORKER_PROCESS, metrics_dir, "2", "100"))
    _ok(_run(WORKER_PROCESS, metrics_dir, "3", "90"))
    samples = _samples(_ok(_run(SCRAPE, metrics_dir)))

    # Then counters and histograms are summed, without the wiped run
    outcome = {("actor", "send_email"), ("queue", "email"), ("outcome", "succeeded")}
    assert samples[("zerocancer_job_outcomes_total", frozenset(outcome))] == 5
    crud = {
        ("route", "/api/v1/appointment"),
        ("method", "GET"),
        ("status", "200"),
        ("slo_class", "crud"),
    }
    assert samples[("zerocancer_http_request_duration_seconds_count", frozenset(crud))] == 2
    bucket = frozenset({*crud, ("le", "0.1")})
    assert samples[("zerocancer_http_request_duration_seconds_bucket", bucket)] == 2
    # and gauges follow their mode: max for the heartbeat, most recent for the backlog
    heartbeat = ("zerocancer_worker_heartbeat_timestamp_seconds", frozenset({("worker", "w1")}))
    assert samples[heartbeat] == 100
    backlog = ("zerocancer_outbox_backlog_messages", frozenset({("queue", "email")}))
    assert samples[backlog] == 3


def test_without_a_directory_metrics_stay_in_the_process_and_render_from_it():
    code = """
        import sys
        import monitoring.metrics as m
        from monitoring.exposition import multiprocess_dir, render_latest

        m.JOB_RETRIES.labels(actor="send_email", queue="email").inc(7)
        body, content_type = render_latest()
        print(multiprocess_dir(), content_type)
        sys.stdout.write(body.decode())
    """
    first, _, body = _ok(_run(code, None)).partition("\n")

    assert first.startswith("None text/plain")
    labels = frozenset({("actor", "send_email"), ("queue", "email")})
    assert _samples(body)[("zerocancer_job_retries_total", labels)] == 7


def test_importing_prometheus_client_before_monitoring_metrics_still_shares_values(tmp_path):
    # isort puts "import prometheus_client" above "import monitoring.metrics".
    code = """
        import prometheus_client
        import monitoring.metrics as m
        m.JOB_RETRIES.labels(actor="send_email", queue="email").inc(2)
    """
    metrics_dir = tmp_path / "prom"
    _ok(_run(code, metrics_dir))
    samples = _samples(_ok(_run(SCRAPE, metrics_dir)))

    labels = frozenset({("actor", "send_email"), ("queue", "email")})
    assert samples[("zerocancer_job_retries_total", labels)] == 2


def test_a_metric_created_before_the_directory_is_prepared_fails_loudly(tmp_path):
    code = """
        import prometheus_client
        prometheus_client.Counter("early_events_total", "Created too early.")
        import monitoring.metrics
    """
    result = _run(code, tmp_path / "prom")

    assert result.returncode != 0
    assert "MetricsSetupError" in result.stderr
    assert "early_events" in result.stderr


def test_wiping_after_metrics_exist_is_refused(tmp_path):
    code = """
        import monitoring.metrics
        from monitoring.exposition import MetricsSetupError, prepare_from_environment
        try:
            prepare_from_environment(wipe=True)
        except MetricsSetupError as exc:
            print("refused:", exc)
    """
    assert "refused: wipe=True" in _ok(_run(code, tmp_path / "prom"))


def test_worker_metrics_server_binds_loopback_and_reports_every_process(tmp_path):
    metrics_dir = tmp_path / "prom"
    _ok(_run(LAUNCHER, metrics_dir))
    _ok(_run(WORKER_PROCESS, metrics_dir, "4", "10"))
    code = """
        import urllib.request
        import monitoring.metrics as m
        from monitoring.exposition import mark_process_dead, start_metrics_server

        m.JOB_OUTCOMES.labels(actor="send_email", queue="email", outcome="succeeded").inc(1)
        server, thread = start_metrics_server(0)
        host, port = server.server_address[:2]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            body = response.read().decode()
        server.shutdown()
        server.server_close()
        mark_process_dead(12345)
        print(host)
        print(body)
    """
    host, _, body = _ok(_run(code, metrics_dir)).partition("\n")

    assert host == "127.0.0.1"
    outcome = {("actor", "send_email"), ("queue", "email"), ("outcome", "succeeded")}
    assert _samples(body)[("zerocancer_job_outcomes_total", frozenset(outcome))] == 5
