"""Prometheus rules rendered from ``slos.py``: recording rules and burn-rate alerts.

For every SLO (one rule group each, so recording rules are evaluated before the alerts
that read them):
- ``slo:sli_error:ratio_rate<window>{slo=...}``: the error ratio over 5m, 30m, 1h, 6h, 3d
  and the SLO window (30d);
- ``slo:objective:ratio`` and ``slo:error_budget_remaining:ratio`` for dashboards;
- the multi-window, multi-burn-rate alerts of the SRE workbook (chapter 5, "Alerting on
  SLOs", table 5-8): a burn rate ``b`` spends ``b * long_window / 30d`` of the budget,
  and the short window (1/12 of the long one) makes the alert stop soon after the
  problem does.

Beside them, operational alerts that no SLO covers: a target not scraped, a worker that
stopped beating, an outbox that stopped draining, an open circuit breaker, a dead job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from monitoring import metrics
from monitoring.slos import SLO, SLOS, format_number
from monitoring.yamltext import Node

#: Windows with an error-ratio recording rule (besides the SLO window itself).
WINDOWS: Final = ("5m", "30m", "1h", "6h", "3d")
#: Scrape jobs in prometheus.yml; MetricsTargetDown watches these.
SCRAPE_JOBS: Final = ("edge", "worker", "relay")
#: Where each alert's runbook lives, relative to the repository root.
RUNBOOK: Final = "docs/operations-alerts.md"


@dataclass(frozen=True, slots=True)
class BurnRateAlert:
    """One row of the workbook's table: fires when both windows burn faster than ``factor``."""

    suffix: str
    severity: str
    factor: float
    long_window: str
    short_window: str
    budget_spent: str

    def threshold(self, slo: SLO) -> str:
        return f"({format_number(self.factor)} * (1 - {format_number(slo.objective)}))"


BURN_RATE_ALERTS: Final = (
    BurnRateAlert("FastBurn", "page", 14.4, "1h", "5m", "2% of the 30-day budget in 1 hour"),
    BurnRateAlert("SlowBurn", "page", 6.0, "6h", "30m", "5% of the 30-day budget in 6 hours"),
    BurnRateAlert("BudgetErosion", "ticket", 1.0, "3d", "6h", "10% of the 30-day budget in 3 days"),
)


def error_ratio_record(window: str) -> str:
    """Name of the recording rule holding an SLO's error ratio over ``window``."""
    return f"slo:sli_error:ratio_rate{window}"


OBJECTIVE_RECORD: Final = "slo:objective:ratio"
BUDGET_REMAINING_RECORD: Final = "slo:error_budget_remaining:ratio"


def burn_alert_name(slo: SLO, alert: BurnRateAlert) -> str:
    return f"{slo.alert_prefix}{alert.suffix}"


def runbook_url(alert_name: str) -> str:
    return f"{RUNBOOK}#{alert_name.lower()}"


def slo_rule_groups() -> dict[str, Node]:
    """The content of rules/slo.rules.yml."""
    return {"groups": [_slo_group(slo) for slo in SLOS]}


def _slo_group(slo: SLO) -> dict[str, Node]:
    selector = f'{{slo="{slo.name}"}}'
    labels = {"slo": slo.name}
    rules: list[Node] = [
        {
            "record": error_ratio_record(window),
            "expr": slo.sli.error_ratio(window),
            "labels": labels,
        }
        for window in (*WINDOWS, slo.window)
    ]
    rules.append(
        {
            "record": OBJECTIVE_RECORD,
            "expr": f"vector({format_number(slo.objective)})",
            "labels": labels,
        }
    )
    rules.append(
        {
            "record": BUDGET_REMAINING_RECORD,
            "expr": (
                f"1 - {error_ratio_record(slo.window)}{selector}"
                f" / (1 - {format_number(slo.objective)})"
            ),
            "labels": labels,
        }
    )
    for alert in BURN_RATE_ALERTS:
        rules.append(_burn_alert(slo, alert, selector))
    return {"name": f"slo-{slo.name}", "rules": rules}


def _burn_alert(slo: SLO, alert: BurnRateAlert, selector: str) -> dict[str, Node]:
    name = burn_alert_name(slo, alert)
    threshold = alert.threshold(slo)
    return {
        "alert": name,
        "expr": (
            f"{error_ratio_record(alert.long_window)}{selector} > {threshold}\n"
            f"and\n"
            f"{error_ratio_record(alert.short_window)}{selector} > {threshold}"
        ),
        "labels": {"severity": alert.severity, "slo": slo.name},
        "annotations": burn_annotations(slo, alert),
    }


def burn_annotations(slo: SLO, alert: BurnRateAlert) -> dict[str, str]:
    """Static text only: promtool unit tests compare annotations exactly."""
    objective = format_number(slo.objective * 100)
    return {
        "summary": (
            f"{slo.title}: error budget burning {format_number(alert.factor)}x too fast "
            f"over {alert.long_window} and {alert.short_window}"
        ),
        "description": (
            f"Bad events ({slo.bad_event}) exceed {format_number(alert.factor)} times the "
            f"{objective}% objective's error budget over both {alert.long_window} and "
            f"{alert.short_window}; at this rate {alert.budget_spent} is gone."
        ),
        "runbook_url": runbook_url(burn_alert_name(slo, alert)),
    }


@dataclass(frozen=True, slots=True)
class OperationalAlert:
    name: str
    severity: str
    expr: str
    for_: str
    summary: str
    #: The label the summary names, so tests can expand ``{{ $labels.<label> }}``.
    subject_label: str


def operational_alerts() -> tuple[OperationalAlert, ...]:
    heartbeat = metrics.series(metrics.WORKER_HEARTBEAT)
    oldest = metrics.series(metrics.OUTBOX_OLDEST_UNSENT_AGE)
    breaker = metrics.series(metrics.CIRCUIT_BREAKER_STATE)
    dead = metrics.series(metrics.JOB_DEAD_LETTERS)
    jobs = "|".join(SCRAPE_JOBS)
    return (
        OperationalAlert(
            "MetricsTargetDown",
            "page",
            f'up{{job=~"{jobs}"}} == 0',
            "5m",
            "Prometheus cannot scrape {{ $labels.instance }} (job {{ $labels.job }})",
            "instance",
        ),
        OperationalAlert(
            "WorkerHeartbeatStale",
            "page",
            f"time() - max by (worker) ({heartbeat}) > 120",
            "2m",
            "Worker {{ $labels.worker }} has not sent a heartbeat for over 2 minutes",
            "worker",
        ),
        OperationalAlert(
            "OutboxRelayStalled",
            "page",
            f"max by (queue) ({oldest}) > 300",
            "5m",
            "Outbox rows for queue {{ $labels.queue }} have waited over 5 minutes to be published",
            "queue",
        ),
        OperationalAlert(
            "CircuitBreakerOpen",
            "ticket",
            f"max by (breaker) ({breaker}) == {int(metrics.BreakerState.OPEN)}",
            "5m",
            "Circuit breaker {{ $labels.breaker }} has been open for 5 minutes",
            "breaker",
        ),
        OperationalAlert(
            "JobDeadLettered",
            "ticket",
            f"sum by (actor, queue) (increase({dead}[15m])) > 0",
            "0m",
            "Jobs of actor {{ $labels.actor }} went dead after exhausting their retries",
            "actor",
        ),
    )


def operations_rule_groups() -> dict[str, Node]:
    """The content of rules/operations.rules.yml."""
    rules: list[Node] = []
    for alert in operational_alerts():
        rule: dict[str, Node] = {"alert": alert.name, "expr": alert.expr}
        if alert.for_ != "0m":
            rule["for"] = alert.for_
        rule["labels"] = {"severity": alert.severity}
        rule["annotations"] = {"summary": alert.summary, "runbook_url": runbook_url(alert.name)}
        rules.append(rule)
    return {"groups": [{"name": "operations", "rules": rules}]}


def alert_names() -> list[str]:
    """Every alert the rendered files define, in file order."""
    names = [burn_alert_name(slo, alert) for slo in SLOS for alert in BURN_RATE_ALERTS]
    return names + [alert.name for alert in operational_alerts()]
