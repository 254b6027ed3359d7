"""promtool unit tests for the rendered rules (``rules/*.test.yml``).

The input series are written the way the edge and the worker will expose them (label
sets spelled out here, not derived from the SLI expressions), so a selector that drifts
from what the processes emit makes ``promtool test rules`` fail. Each SLO gets distractor
series that a too-wide selector would count: slow analytics requests next to crud ones,
slow matching retries next to first attempts, retried job attempts next to final ones.

Scenarios (one promtool test group each, all SLOs at once, 1000 events a minute):
- rules/slo.test.yml: a steady burn for 3 days at 20x, 10x, 3x and 0.5x the error budget;
  each alert fires exactly when its factor (14.4, 6, 1) is exceeded over both windows.
- rules/slo-burst.test.yml: clean for 6 hours, a 2-hour burst at 40x, then clean again.
  Nothing fires before the burst, everything fires at its end, and 35 minutes later the
  pages have stopped (their short windows are clean although the long ones are still
  over the thresholds) while the ticket still fires.

The steady file is evaluated hourly and the burst file every 5 minutes: no SLO alert uses
``for``, and evaluating three days of 30-day-window rules every few minutes would take
promtool half a minute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from monitoring import metrics
from monitoring.rules import (
    BURN_RATE_ALERTS,
    BurnRateAlert,
    burn_alert_name,
    burn_annotations,
    error_ratio_record,
    operational_alerts,
    runbook_url,
)
from monitoring.slos import (
    EDGE_AVAILABILITY,
    EDGE_LATENCY_ANALYTICS,
    EDGE_LATENCY_CRUD,
    MATCHING_RUN_LATENCY,
    SLO,
    SLOS,
    WORKER_AVAILABILITY,
    format_number,
)
from monitoring.yamltext import Node

#: Events per minute in every SLO scenario.
TRAFFIC: Final = 1000
#: A phase: (minutes, burn rate as a multiple of the SLO's error budget).
Phase = tuple[int, float]


#: Which burn-rate alerts (by suffix) must fire at a minute of a scenario; all others
#: must be quiet.
Check = tuple[int, frozenset[str]]

ALL: Final = frozenset({"FastBurn", "SlowBurn", "BudgetErosion"})
NONE: Final[frozenset[str]] = frozenset()
THREE_DAYS: Final = 3 * 24 * 60


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    phases: tuple[Phase, ...]
    checks: tuple[Check, ...]


def _steady(burn: float, firing: frozenset[str], what: str) -> Scenario:
    name = f"{format_number(burn)}x burn for 3 days: {what}"
    return Scenario(name, ((THREE_DAYS, burn),), ((THREE_DAYS, firing),))


STEADY_SCENARIOS: Final = (
    _steady(20.0, ALL, "both pages and the ticket fire"),
    _steady(10.0, frozenset({"SlowBurn", "BudgetErosion"}), "the slow page and the ticket fire"),
    _steady(3.0, frozenset({"BudgetErosion"}), "only the ticket fires"),
    _steady(0.5, NONE, "within budget, nothing fires"),
)
BURST_SCENARIOS: Final = (
    Scenario(
        "40x burst from 6h to 8h: quiet before, all fire at its end, pages stop 35m after",
        ((360, 0.0), (120, 40.0), (35, 0.0)),
        ((360, NONE), (480, ALL), (515, frozenset({"BudgetErosion"}))),
    ),
)


def _counter_values(phases: tuple[Phase, ...], per_minute: float | tuple[float, ...]) -> str:
    """promtool expanding notation for a counter growing ``per_minute[i]`` in phase i."""
    rates = per_minute if isinstance(per_minute, tuple) else (per_minute,) * len(phases)
    segments: list[str] = []
    value = 0.0
    for index, ((minutes, _), rate) in enumerate(zip(phases, rates, strict=True)):
        start = value if index == 0 else value + rate
        count = minutes if index == 0 else minutes - 1
        segments.append(f"{format_number(start)}+{format_number(rate)}x{count}")
        value = start + rate * count
    return " ".join(segments)


def _bad_per_minute(slo: SLO, phases: tuple[Phase, ...]) -> tuple[float, ...]:
    return tuple(burn * slo.error_budget * TRAFFIC for _, burn in phases)


def _series(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{name}{{{inner}}}"


def _input_series(phases: tuple[Phase, ...]) -> list[Node]:
    out: list[Node] = []

    def add(name: str, labels: dict[str, str], per_minute: float | tuple[float, ...]) -> None:
        out.append({"series": _series(name, labels), "values": _counter_values(phases, per_minute)})

    def good(bad: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(TRAFFIC - b for b in bad)

    edge = {"job": "edge", "instance": "edge:8000"}
    worker = {"job": "worker", "instance": "worker:9191"}

    # Edge availability: 200s and 500s on one route.
    requests = metrics.series(metrics.HTTP_REQUESTS)
    bad = _bad_per_minute(EDGE_AVAILABILITY, phases)
    route = {"route": "/api/v1/appointment", "method": "GET", "slo_class": "crud"}
    add(requests, {**edge, **route, "status": "200"}, good(bad))
    add(requests, {**edge, **route, "status": "500"}, bad)

    # Worker availability: final outcomes, plus retried attempts that count neither way.
    outcomes = metrics.series(metrics.JOB_OUTCOMES)
    bad = _bad_per_minute(WORKER_AVAILABILITY, phases)
    half = tuple(b / 2 for b in bad)
    job = {"actor": "send_email", "queue": "email"}
    add(outcomes, {**worker, **job, "outcome": "succeeded"}, good(bad))
    add(outcomes, {**worker, **job, "outcome": "failed"}, half)
    add(outcomes, {**worker, **job, "outcome": "dead"}, half)
    add(outcomes, {**worker, **job, "outcome": "retried"}, 300.0)

    # Latency: le values as prometheus_client writes them.
    bucket = metrics.series(metrics.HTTP_REQUEST_DURATION, "bucket")
    count = metrics.series(metrics.HTTP_REQUEST_DURATION, "count")
    crud = {**edge, "route": "/api/v1/appointment", "method": "GET", "status": "200"}
    crud = {**crud, "slo_class": "crud"}
    bad = _bad_per_minute(EDGE_LATENCY_CRUD, phases)
    add(count, crud, float(TRAFFIC))
    add(bucket, {**crud, "le": "0.1"}, good(bad))
    add(bucket, {**crud, "le": "2.0"}, float(TRAFFIC))  # every crud request is under 2 s
    # Half the analytics requests are slower than 0.1 s: counted as crud events (either
    # side of the ratio), they would move the crud SLI.
    analytics = {**edge, "route": "/api/v1/analytics/dashboard", "method": "GET"}
    analytics = {**analytics, "status": "200", "slo_class": "analytics"}
    bad = _bad_per_minute(EDGE_LATENCY_ANALYTICS, phases)
    add(count, analytics, float(TRAFFIC))
    add(bucket, {**analytics, "le": "0.1"}, TRAFFIC / 2)
    add(bucket, {**analytics, "le": "2.0"}, good(bad))

    # Matching: first attempts carry the SLO; retries (half of them slow) must not count.
    bucket = metrics.series(metrics.MATCHING_RUN_DURATION, "bucket")
    count = metrics.series(metrics.MATCHING_RUN_DURATION, "count")
    first = {**worker, "trigger": "schedule", "attempt": "first", "outcome": "succeeded"}
    retry = {**first, "attempt": "retry"}
    bad = _bad_per_minute(MATCHING_RUN_LATENCY, phases)
    add(count, first, float(TRAFFIC))
    add(bucket, {**first, "le": "5.0"}, good(bad))
    add(count, retry, float(TRAFFIC))
    add(bucket, {**retry, "le": "5.0"}, TRAFFIC / 2)
    return out


def _burn_expectation(slo: SLO, alert: BurnRateAlert, firing: bool) -> list[Node]:
    if not firing:
        return []
    labels = {"severity": alert.severity, "slo": slo.name}
    return [{"exp_labels": labels, "exp_annotations": burn_annotations(slo, alert)}]


def _in_band(record: str, slo: SLO, low: float, high: float, minute: int) -> Node:
    """A promql test that ``record`` lies strictly between low and high (floats are fuzzy)."""
    selector = f'{record}{{slo="{slo.name}"}}'
    return {
        "expr": (
            f"({selector} > bool {format_number(low)}) * ({selector} < bool {format_number(high)})"
        ),
        "eval_time": f"{minute}m",
        "exp_samples": [{"labels": f'{{slo="{slo.name}"}}', "value": 1}],
    }


def _slo_test_group(scenario: Scenario) -> dict[str, Node]:
    alert_tests: list[Node] = [
        {
            "eval_time": f"{minute}m",
            "alertname": burn_alert_name(slo, alert),
            "exp_alerts": _burn_expectation(slo, alert, alert.suffix in firing),
        }
        for minute, firing in scenario.checks
        for slo in SLOS
        for alert in BURN_RATE_ALERTS
    ]
    group: dict[str, Node] = {
        "name": scenario.name,
        "interval": "1m",
        "input_series": _input_series(scenario.phases),
        "alert_rule_test": alert_tests,
    }
    if scenario is STEADY_SCENARIOS[0]:
        # The recorded ratios themselves: 20x the budget in the shortest and longest window.
        group["promql_expr_test"] = [
            _in_band(
                error_ratio_record(window),
                slo,
                19.9 * slo.error_budget,
                20.1 * slo.error_budget,
                THREE_DAYS,
            )
            for slo in SLOS
            for window in ("5m", "3d")
        ]
    return group


def slo_tests(scenarios: tuple[Scenario, ...], evaluation_interval: str) -> dict[str, Node]:
    """The content of rules/slo.test.yml and rules/slo-burst.test.yml."""
    return {
        "rule_files": ["slo.rules.yml"],
        "evaluation_interval": evaluation_interval,
        "tests": [_slo_test_group(scenario) for scenario in scenarios],
    }


# --- operational alerts -----------------------------------------------------------------

_LABEL_REF = re.compile(r"\{\{ \$labels\.(\w+) \}\}")


def _expanded(alert_name: str, labels: dict[str, str]) -> dict[str, str]:
    alert = next(a for a in operational_alerts() if a.name == alert_name)
    summary = _LABEL_REF.sub(lambda m: labels[m.group(1)], alert.summary)
    return {"summary": summary, "runbook_url": runbook_url(alert_name)}


def _firing(alert_name: str, labels: dict[str, str]) -> list[Node]:
    severity = next(a.severity for a in operational_alerts() if a.name == alert_name)
    return [
        {
            "exp_labels": {**labels, "severity": severity},
            "exp_annotations": _expanded(alert_name, labels),
        }
    ]


def _alert_test(alert_name: str, minute: int, labels: dict[str, str] | None) -> Node:
    return {
        "eval_time": f"{minute}m",
        "alertname": alert_name,
        "exp_alerts": _firing(alert_name, labels) if labels is not None else [],
    }


def operations_tests() -> dict[str, Node]:
    """The content of rules/operations.test.yml (30 minutes of data, 1-minute samples)."""
    heartbeat = metrics.series(metrics.WORKER_HEARTBEAT)
    oldest = metrics.series(metrics.OUTBOX_OLDEST_UNSENT_AGE)
    breaker = metrics.series(metrics.CIRCUIT_BREAKER_STATE)
    dead = metrics.series(metrics.JOB_DEAD_LETTERS)
    edge = {"job": "edge", "instance": "edge:8000"}
    worker = {"job": "worker", "instance": "worker:9191"}
    relay = {"job": "relay", "instance": "relay:9192"}
    series: list[tuple[str, dict[str, str], str]] = [
        # The worker target stops answering at minute 11; edge stays up; a job we do not
        # own is down all along and must not page.
        ("up", worker, "1x10 0x20"),
        ("up", edge, "1x30"),
        ("up", {"job": "node", "instance": "node:9100"}, "0x30"),
        # w1 beats every minute; w2's last beat is at minute 10.
        (heartbeat, {**worker, "worker": "w1"}, "0+60x30"),
        (heartbeat, {**worker, "worker": "w2"}, "0+60x10 600x20"),
        # The email queue's oldest row ages a minute per minute; pdf drains.
        (oldest, {**relay, "queue": "email"}, "0+60x30"),
        (oldest, {**relay, "queue": "pdf"}, "0x30"),
        # The workers breaker opens at minute 11; analytics is only half-open.
        (breaker, {**edge, "breaker": "workers"}, "0x10 2x20"),
        (breaker, {**edge, "breaker": "analytics"}, "1x30"),
        # One send_email job goes dead at minute 11.
        (dead, {**worker, "actor": "send_email", "queue": "email"}, "0x10 1x20"),
        (dead, {**worker, "actor": "render_receipt", "queue": "pdf"}, "0x30"),
    ]
    tests: list[Node] = [
        # Down since minute 11, "for: 5m": pending at 14, firing at 30.
        _alert_test("MetricsTargetDown", 14, None),
        _alert_test("MetricsTargetDown", 30, worker),
        # w2's age passes 120 s after minute 12, "for: 2m".
        _alert_test("WorkerHeartbeatStale", 12, None),
        _alert_test("WorkerHeartbeatStale", 30, {"worker": "w2"}),
        # Over 300 s from minute 6, "for: 5m".
        _alert_test("OutboxRelayStalled", 8, None),
        _alert_test("OutboxRelayStalled", 30, {"queue": "email"}),
        # Open from minute 11, "for: 5m".
        _alert_test("CircuitBreakerOpen", 14, None),
        _alert_test("CircuitBreakerOpen", 30, {"breaker": "workers"}),
        # Fires while the dead letter is within the last 15 minutes, then resolves.
        _alert_test("JobDeadLettered", 10, None),
        _alert_test("JobDeadLettered", 20, {"actor": "send_email", "queue": "email"}),
        _alert_test("JobDeadLettered", 30, None),
    ]
    return {
        "rule_files": ["operations.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": "operational alerts fire on the broken series only",
                "interval": "1m",
                "input_series": [
                    {"series": _series(name, labels), "values": values}
                    for name, labels, values in series
                ],
                "alert_rule_test": tests,
            }
        ],
    }
