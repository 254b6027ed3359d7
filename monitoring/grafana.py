"""Grafana dashboards and provisioning, rendered from the metrics and SLOs.

Dashboards: SLO overview (error budget remaining, burn rates), edge traffic and latency,
queues and actors, outbox and relay, matching runs. Every query names series from
``monitoring.metrics`` or recording rules from ``monitoring.rules``;
tests/monitoring/test_dashboards.py checks that nothing else is referenced.
"""

from __future__ import annotations

from typing import Final

from monitoring import metrics
from monitoring.panels import (
    DATASOURCE_UID,
    Json,
    Panel,
    custom_variable,
    dashboard,
    query_variable,
    row,
    stat,
    timeseries,
)
from monitoring.rules import (
    BUDGET_REMAINING_RECORD,
    BURN_RATE_ALERTS,
    OBJECTIVE_RECORD,
    error_ratio_record,
)
from monitoring.slos import (
    EDGE_LATENCY_ANALYTICS,
    EDGE_LATENCY_CRUD,
    MATCHING_RUN_LATENCY,
    SLO,
    SLOS,
    format_number,
    le_matcher,
)

#: Where docker-compose mounts monitoring/dashboards inside the Grafana container.
DASHBOARDS_PATH: Final = "/var/lib/grafana/dashboards"
FOLDER: Final = "ZeroCancer"
RATE: Final = "$__rate_interval"

# --- queries ------------------------------------------------------------------------------


def _quantile(q: float, histogram: str, by: str, matchers: str = "") -> str:
    return (
        f"histogram_quantile({format_number(q)}, "
        f"sum by (le, {by}) (rate({histogram}{{{matchers}}}[{RATE}])))"
    )


def _share_within(slo: SLO) -> str:
    """Fraction of events within the SLO's threshold, at dashboard resolution."""
    return f"1 - ({slo.sli.error_ratio(RATE)})"


def _burn_rate(slo: SLO, window: str) -> str:
    selector = f'{{slo="{slo.name}"}}'
    return f"{error_ratio_record(window)}{selector} / on (slo) (1 - {OBJECTIVE_RECORD}{selector})"


# --- dashboards ---------------------------------------------------------------------------


def slo_overview() -> Json:
    panels: list[Panel] = []
    for slo in SLOS:
        selector = f'{{slo="{slo.name}"}}'
        objective = format_number(slo.objective * 100)
        panels.append(row(f"{slo.title}: {objective}% over {slo.window}"))
        panels.append(
            stat(
                "Error budget remaining",
                f"{BUDGET_REMAINING_RECORD}{selector}",
                unit="percentunit",
                steps=[("red", None), ("orange", 0.0), ("green", 0.25)],
                description=(
                    f"Share of the {slo.window} error budget left. Bad event: {slo.bad_event}."
                ),
                decimals=1,
            )
        )
        panels.append(
            stat(
                f"SLI over {slo.window}",
                f"1 - {error_ratio_record(slo.window)}{selector}",
                unit="percentunit",
                decimals=3,
            )
        )
        panels.append(
            stat("Objective", f"{OBJECTIVE_RECORD}{selector}", unit="percentunit", decimals=3)
        )
        panels.append(
            timeseries(
                "Burn rate (1 = spending exactly the budget)",
                [
                    (_burn_rate(slo, alert.long_window), alert.long_window)
                    for alert in BURN_RATE_ALERTS
                ],
                lines_at=tuple(alert.factor for alert in BURN_RATE_ALERTS),
                description="Red lines: the page (14.4, 6) and ticket (1) burn-rate thresholds.",
            )
        )
    return dashboard(
        "zerocancer-slo",
        "ZeroCancer / SLO overview",
        "Error budgets and burn rates of every SLO (monitoring/slos.py).",
        panels,
        time_from="now-7d",
    )


def edge() -> Json:
    requests = metrics.series(metrics.HTTP_REQUESTS)
    bucket = metrics.series(metrics.HTTP_REQUEST_DURATION, "bucket")
    chosen = 'slo_class=~"$slo_class",route=~"$route"'
    panels: list[Panel] = [
        row("Traffic"),
        timeseries(
            "Requests per second by SLO class",
            [(f"sum by (slo_class) (rate({requests}{{{chosen}}}[{RATE}]))", "{{slo_class}}")],
            unit="reqps",
        ),
        timeseries(
            "Responses per second by status",
            [(f"sum by (status) (rate({requests}{{{chosen}}}[{RATE}]))", "{{status}}")],
            unit="reqps",
        ),
        timeseries(
            "Busiest routes",
            [
                (
                    f"topk(10, sum by (method, route) (rate({requests}{{{chosen}}}[{RATE}])))",
                    "{{method}} {{route}}",
                )
            ],
            unit="reqps",
        ),
        timeseries(
            "5xx ratio by SLO class",
            [
                (
                    f'sum by (slo_class) (rate({requests}{{{chosen},status=~"5.."}}[{RATE}]))'
                    f" / sum by (slo_class) (rate({requests}{{{chosen}}}[{RATE}]))",
                    "{{slo_class}}",
                )
            ],
            unit="percentunit",
        ),
        row("Latency"),
        timeseries(
            "p99 latency by SLO class",
            [(_quantile(0.99, bucket, "slo_class", chosen), "{{slo_class}}")],
            unit="s",
            lines_at=(0.1, 2.0, 5.0),
            description="Lines: the crud (0.1 s), analytics (2 s) and matching (5 s) thresholds.",
        ),
        timeseries(
            "p50 latency by SLO class",
            [(_quantile(0.5, bucket, "slo_class", chosen), "{{slo_class}}")],
            unit="s",
        ),
        timeseries(
            "Share of requests within their SLO threshold",
            [
                (_share_within(EDGE_LATENCY_CRUD), "crud < 0.1 s"),
                (_share_within(EDGE_LATENCY_ANALYTICS), "analytics < 2 s"),
            ],
            unit="percentunit",
            lines_at=(0.99,),
        ),
        timeseries(
            "Slowest routes (p99)",
            [
                (
                    f"topk(10, {_quantile(0.99, bucket, 'method, route', chosen)})",
                    "{{method}} {{route}}",
                )
            ],
            unit="s",
        ),
        row("Circuit breakers"),
        _breakers(),
    ]
    return dashboard(
        "zerocancer-edge",
        "ZeroCancer / Edge traffic and latency",
        "HTTP traffic, errors and latency per SLO class and route.",
        panels,
        variables=[
            custom_variable("slo_class", "SLO class", metrics.SLO_CLASSES),
            query_variable("route", "Route", f"label_values({requests}, route)"),
        ],
    )


def _breakers() -> Panel:
    breaker = metrics.series(metrics.CIRCUIT_BREAKER_STATE)
    return timeseries(
        "Circuit breaker state (0 closed, 1 half-open, 2 open)",
        [(f"max by (breaker) ({breaker})", "{{breaker}}")],
        lines_at=(float(metrics.BreakerState.OPEN),),
        width=24,
    )


def jobs() -> Json:
    outcomes = metrics.series(metrics.JOB_OUTCOMES)
    waits = metrics.series(metrics.JOB_ENQUEUE_TO_START, "bucket")
    runs = metrics.series(metrics.JOB_RUN_DURATION, "bucket")
    retries = metrics.series(metrics.JOB_RETRIES)
    dead = metrics.series(metrics.JOB_DEAD_LETTERS)
    heartbeat = metrics.series(metrics.WORKER_HEARTBEAT)
    chosen = 'queue=~"$queue",actor=~"$actor"'
    final = 'outcome=~"succeeded|failed|dead"'
    panels: list[Panel] = [
        row("Throughput and outcomes"),
        timeseries(
            "Job attempts per second by outcome",
            [(f"sum by (outcome) (rate({outcomes}{{{chosen}}}[{RATE}]))", "{{outcome}}")],
            unit="ops",
        ),
        timeseries(
            "Final failure ratio by actor (failed + dead)",
            [
                (
                    f'sum by (actor) (rate({outcomes}{{{chosen},outcome=~"failed|dead"}}[{RATE}]))'
                    f" / sum by (actor) (rate({outcomes}{{{chosen},{final}}}[{RATE}]))",
                    "{{actor}}",
                )
            ],
            unit="percentunit",
        ),
        timeseries(
            "Retries per second by actor",
            [(f"sum by (actor) (rate({retries}{{{chosen}}}[{RATE}]))", "{{actor}}")],
            unit="ops",
        ),
        timeseries(
            "Dead letters per hour by actor",
            [(f"sum by (actor) (increase({dead}{{{chosen}}}[1h]))", "{{actor}}")],
        ),
        row("Latency"),
        timeseries(
            "Enqueue to start, p99 by queue",
            [(_quantile(0.99, waits, "queue", chosen), "{{queue}}")],
            unit="s",
        ),
        timeseries(
            "Enqueue to start, p50 by queue",
            [(_quantile(0.5, waits, "queue", chosen), "{{queue}}")],
            unit="s",
        ),
        timeseries(
            "Run duration, p99 by actor",
            [(_quantile(0.99, runs, "actor", chosen), "{{actor}}")],
            unit="s",
        ),
        timeseries(
            "Run duration, p50 by actor",
            [(_quantile(0.5, runs, "actor", chosen), "{{actor}}")],
            unit="s",
        ),
        row("Workers"),
        timeseries(
            "Seconds since each worker's last heartbeat",
            [(f"time() - max by (worker) ({heartbeat})", "{{worker}}")],
            unit="s",
            lines_at=(120.0,),
            description="The WorkerHeartbeatStale alert fires above the line for 2 minutes.",
        ),
        _breakers(),
    ]
    return dashboard(
        "zerocancer-jobs",
        "ZeroCancer / Queues and actors",
        "Job outcomes, waits and run times per queue and actor; worker heartbeats.",
        panels,
        variables=[
            query_variable("queue", "Queue", f"label_values({outcomes}, queue)"),
            query_variable("actor", "Actor", f'label_values({outcomes}{{queue=~"$queue"}}, actor)'),
        ],
    )


def outbox() -> Json:
    backlog = metrics.series(metrics.OUTBOX_BACKLOG)
    oldest = metrics.series(metrics.OUTBOX_OLDEST_UNSENT_AGE)
    published = metrics.series(metrics.RELAY_PUBLISHED)
    panels: list[Panel] = [
        timeseries(
            "Due, unsent outbox rows by queue",
            [(f"max by (queue) ({backlog})", "{{queue}}")],
        ),
        timeseries(
            "Age of the oldest due, unsent row by queue",
            [(f"max by (queue) ({oldest})", "{{queue}}")],
            unit="s",
            lines_at=(300.0,),
            description="The OutboxRelayStalled alert fires above the line for 5 minutes.",
        ),
        timeseries(
            "Messages published per second by queue",
            [(f"sum by (queue) (rate({published}[{RATE}]))", "{{queue}}")],
            unit="ops",
            width=24,
        ),
    ]
    return dashboard(
        "zerocancer-outbox",
        "ZeroCancer / Outbox and relay",
        "Rows waiting in the outbox and what the relays publish.",
        panels,
    )


def matching() -> Json:
    bucket = metrics.series(metrics.MATCHING_RUN_DURATION, "bucket")
    count = metrics.series(metrics.MATCHING_RUN_DURATION, "count")
    completion = metrics.series(metrics.MATCHING_TRIGGER_TO_COMPLETION, "bucket")
    first = 'attempt="first"'
    panels: list[Panel] = [
        stat(
            "Error budget remaining (runs < 5 s)",
            f'{BUDGET_REMAINING_RECORD}{{slo="{MATCHING_RUN_LATENCY.name}"}}',
            unit="percentunit",
            steps=[("red", None), ("orange", 0.0), ("green", 0.25)],
            decimals=1,
            width=6,
        ),
        stat(
            "First attempts within 5 s (30 d)",
            f'1 - {error_ratio_record("30d")}{{slo="{MATCHING_RUN_LATENCY.name}"}}',
            unit="percentunit",
            decimals=2,
            width=6,
        ),
        stat(
            "Runs in the last 24 h",
            f"sum(increase({count}[24h]))",
            unit="short",
            decimals=0,
            width=6,
        ),
        stat(
            "Runs over 5 s in the last 24 h (first attempts)",
            f"sum(increase({count}{{{first}}}[24h]))"
            f" - sum(increase({bucket}{{{first},{le_matcher(5.0)}}}[24h]))",
            unit="short",
            decimals=0,
            steps=[("green", None), ("orange", 1.0)],
            width=6,
        ),
        timeseries(
            "Run duration (first attempts)",
            [
                (_quantile(0.99, bucket, "trigger", first), "p99 {{trigger}}"),
                (_quantile(0.5, bucket, "trigger", first), "p50 {{trigger}}"),
            ],
            unit="s",
            lines_at=(5.0,),
        ),
        timeseries(
            "Runs per hour by outcome and attempt",
            [(f"sum by (outcome, attempt) (increase({count}[1h]))", "{{outcome}} {{attempt}}")],
        ),
        timeseries(
            "Trigger to completion, retries included (p99 by trigger)",
            [(_quantile(0.99, completion, "trigger"), "{{trigger}}")],
            unit="s",
            width=24,
            description="Reported beside the SLO (spec README decision 6); not an SLO itself.",
        ),
    ]
    return dashboard(
        "zerocancer-matching",
        "ZeroCancer / Matching runs",
        "Waitlist matching run durations against the 5 s objective.",
        panels,
        time_from="now-7d",
    )


def dashboards() -> dict[str, Json]:
    """File name (under dashboards/) -> dashboard model."""
    return {
        "slo-overview.json": slo_overview(),
        "edge.json": edge(),
        "jobs.json": jobs(),
        "outbox.json": outbox(),
        "matching.json": matching(),
    }


def datasource_provisioning() -> Json:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": "http://prometheus:9090",
                "isDefault": True,
                "editable": False,
            }
        ],
    }


def dashboard_provisioning() -> Json:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "zerocancer",
                "folder": FOLDER,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }
