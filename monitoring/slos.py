"""Service level objectives as data: what is measured, the objective and its window.

Every SLI is an error ratio, bad events over all events, built from the metric objects in
``monitoring.metrics`` so that a renamed metric changes the rules with it.

Objectives:
- Availability (edge, worker): 99.9 % over 30 days.
- Latency: the architecture states them as p99 bounds (crud < 0.1 s, analytics < 2 s,
  matching run < 5 s). We express each as "at least 99 % of requests (runs) finish within
  the threshold" over 30 days, which is the same statement without estimating a quantile
  from buckets: the threshold is a bucket edge, so the count under it is exact. 99.9 %
  would turn single GC pauses on a 2-core machine into pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from monitoring import metrics

if TYPE_CHECKING:
    from prometheus_client.metrics import MetricWrapperBase

#: Every SLO is judged over this rolling window.
SLO_WINDOW: Final = "30d"


def format_number(value: float) -> str:
    """Exact, short text for a number in PromQL and YAML: 6.0 -> '6', 0.999 -> '0.999'."""
    number = round(float(value), 9)  # hides float noise such as 0.999 * 100
    return str(int(number)) if number.is_integer() else repr(number)


def le_matcher(threshold: float) -> str:
    """A matcher for the bucket whose upper edge is ``threshold``.

    prometheus_client writes ``le="2.0"``; Prometheus 3 normalises classic-histogram
    ``le`` values on ingestion and other clients write ``le="2"``. The regex accepts both.
    """
    client_text = repr(float(threshold))  # what prometheus_client's floatToGoString writes
    forms = {client_text, format_number(threshold)}
    if len(forms) == 1:
        return f'le="{client_text}"'
    pattern = "|".join(re.escape(form).replace("\\", "\\\\") for form in sorted(forms))
    return f'le=~"{pattern}"'


@dataclass(frozen=True, slots=True)
class EventRatioSLI:
    """Bad events over all events, both counted by counters (selectors without ranges)."""

    bad: str
    total: str

    def error_ratio(self, window: str) -> str:
        # "or vector(0)": no bad series yet must read as 0 %, not as "no data".
        return (
            f"(sum(rate({self.bad}[{window}])) or vector(0))\n/\nsum(rate({self.total}[{window}]))"
        )


@dataclass(frozen=True, slots=True)
class ThresholdSLI:
    """Observations above a histogram bucket edge over all observations."""

    histogram: MetricWrapperBase
    matchers: str
    threshold: float

    def error_ratio(self, window: str) -> str:
        bucket = metrics.series(self.histogram, "bucket")
        count = metrics.series(self.histogram, "count")
        good = f"{bucket}{{{self.matchers},{le_matcher(self.threshold)}}}"
        total = f"{count}{{{self.matchers}}}"
        return f"1 - (\n  sum(rate({good}[{window}]))\n/\n  sum(rate({total}[{window}]))\n)"


@dataclass(frozen=True, slots=True)
class SLO:
    """One objective. ``name`` is the ``slo`` label on recording rules and alerts."""

    name: str
    title: str
    objective: float
    sli: EventRatioSLI | ThresholdSLI
    #: What counts as a bad event, for dashboards and the runbook.
    bad_event: str
    window: str = SLO_WINDOW

    @property
    def error_budget(self) -> float:
        """The fraction of events allowed to be bad over the window."""
        return 1 - self.objective

    @property
    def alert_prefix(self) -> str:
        """PascalCase of the name: edge-latency-crud -> EdgeLatencyCrud."""
        return "".join(part.capitalize() for part in self.name.split("-"))


_HTTP_REQUESTS = metrics.series(metrics.HTTP_REQUESTS)
_JOB_OUTCOMES = metrics.series(metrics.JOB_OUTCOMES)

EDGE_AVAILABILITY: Final = SLO(
    name="edge-availability",
    title="Edge availability",
    objective=0.999,
    sli=EventRatioSLI(bad=f'{_HTTP_REQUESTS}{{status=~"5.."}}', total=_HTTP_REQUESTS),
    bad_event="a response with a 5xx status (503 fallbacks included)",
)
WORKER_AVAILABILITY: Final = SLO(
    name="worker-availability",
    title="Worker availability",
    objective=0.999,
    # Attempts that will be retried are neither good nor bad yet: only final outcomes count.
    sli=EventRatioSLI(
        bad=f'{_JOB_OUTCOMES}{{outcome=~"failed|dead"}}',
        total=f'{_JOB_OUTCOMES}{{outcome=~"succeeded|failed|dead"}}',
    ),
    bad_event="a job that failed permanently or went dead after its retries",
)
EDGE_LATENCY_CRUD: Final = SLO(
    name="edge-latency-crud",
    title="CRUD latency < 0.1 s",
    objective=0.99,
    sli=ThresholdSLI(metrics.HTTP_REQUEST_DURATION, 'slo_class="crud"', 0.1),
    bad_event="a crud-class request answered in more than 0.1 s",
)
EDGE_LATENCY_ANALYTICS: Final = SLO(
    name="edge-latency-analytics",
    title="Analytics latency < 2 s",
    objective=0.99,
    sli=ThresholdSLI(metrics.HTTP_REQUEST_DURATION, 'slo_class="analytics"', 2.0),
    bad_event="an analytics request answered in more than 2 s",
)
MATCHING_RUN_LATENCY: Final = SLO(
    name="matching-run-latency",
    title="Matching run < 5 s",
    objective=0.99,
    sli=ThresholdSLI(metrics.MATCHING_RUN_DURATION, 'attempt="first"', 5.0),
    bad_event="a matching run whose first attempt took more than 5 s",
)

SLOS: Final = (
    EDGE_AVAILABILITY,
    WORKER_AVAILABILITY,
    EDGE_LATENCY_CRUD,
    EDGE_LATENCY_ANALYTICS,
    MATCHING_RUN_LATENCY,
)
