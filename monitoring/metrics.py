"""Every metric ZeroCancer exports: name, help, labels and buckets, in one place.

Names follow ``zerocancer_<area>_<what>_<unit>``. Labels carry route templates, actor and
queue names and small enumerations, never ids.

Import order: this module calls ``monitoring.exposition.prepare_from_environment()``
before it imports ``prometheus_client``, so importing it first thing in a process is
enough. A launcher that wipes the directory calls ``prepare_from_environment(wipe=True)``
before importing this module (see ``monitoring.exposition``).

Gauges declare how the multiprocess collector combines processes (``multiprocess_mode``):
``max`` for timestamps (a dead process's last heartbeat stays visible, so staleness is
seen), ``livemax`` for breaker states (the worst state among running processes) and
``livemostrecent`` for values several relays measure from the same database.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

from monitoring.exposition import prepare_from_environment

# Must run before prometheus_client is imported (baseline §6 pitfalls 10-11).
prepare_from_environment()

from prometheus_client import Counter, Gauge, Histogram  # noqa: E402 - see the line above
from prometheus_client.metrics import MetricWrapperBase  # noqa: E402 - see above

#: Values of the ``slo_class`` label on HTTP metrics. crud: answered from the database by
#: the edge (SLO 0.1 s); analytics: waits for an analytics job (2 s); matching: waits for
#: a matching run (its SLO is on the run, see MATCHING_RUN_DURATION); other: the rest
#: (uploads, PDFs, the notification stream, /metrics), no latency SLO.
SLO_CLASSES: Final = ("crud", "analytics", "matching", "other")

#: Values of the ``outcome`` label of JOB_OUTCOMES. One per attempt: ``retried`` = this
#: attempt failed and another follows; ``failed`` = permanent error, not retried; ``dead``
#: = retries exhausted (also counted in JOB_DEAD_LETTERS).
JOB_OUTCOME_VALUES: Final = ("succeeded", "failed", "retried", "dead")

#: Values of the ``attempt`` label of MATCHING_RUN_DURATION.
MATCHING_ATTEMPT_VALUES: Final = ("first", "retry")

#: Values of the ``outcome`` label of MATCHING_RUN_DURATION.
MATCHING_OUTCOME_VALUES: Final = ("succeeded", "failed")


class BreakerState(IntEnum):
    """Values of CIRCUIT_BREAKER_STATE."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


#: Request latency edges; 0.1, 2 and 5 s are the crud, analytics and matching thresholds,
#: 30 s is the longest synchronous wait for a job before the edge answers 202.
HTTP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
#: Job wait and run edges: the same SLO thresholds, up to the 10-minute actor time limit.
JOB_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
#: Matching run edges: 5 s is the SLO, 600 s the actor's time limit.
MATCHING_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
#: Trigger to completion includes queueing and retries with 60 s backoff.
MATCHING_COMPLETION_BUCKETS: Final = (
    0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip

# --- edge -------------------------------------------------------------------------------

#: Observed by the edge's request middleware once per response. ``route`` is the route
#: template (``/api/v1/appointment/<id>``), ``"unmatched"`` for 404s without a route;
#: ``status`` the numeric code as a string.
HTTP_REQUEST_DURATION: Final = Histogram(
    "zerocancer_http_request_duration_seconds",
    "Time from request received to response sent, by route template.",
    ("route", "method", "status", "slo_class"),
    buckets=HTTP_BUCKETS,
)
#: Incremented beside HTTP_REQUEST_DURATION with the same labels.
HTTP_REQUESTS: Final = Counter(
    "zerocancer_http_requests_total",
    "Responses sent, by route template, method, status code and SLO class.",
    ("route", "method", "status", "slo_class"),
)

#: Set by the edge: one breaker per dependency it guards (``workers``, ``analytics``...).
CIRCUIT_BREAKER_STATE: Final = Gauge(
    "zerocancer_circuit_breaker_state",
    "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
    ("breaker",),
    multiprocess_mode="livemax",
)

# --- jobs (worker) ----------------------------------------------------------------------

#: From the moment the message became due (enqueue time, or its eta when delayed or
#: retried) to the actor starting.
JOB_ENQUEUE_TO_START: Final = Histogram(
    "zerocancer_job_enqueue_to_start_seconds",
    "Time a due job waited before an actor started it.",
    ("actor", "queue"),
    buckets=JOB_BUCKETS,
)
JOB_RUN_DURATION: Final = Histogram(
    "zerocancer_job_run_duration_seconds",
    "Time one attempt of an actor ran, whatever its outcome.",
    ("actor", "queue"),
    buckets=JOB_BUCKETS,
)
#: Once per attempt, with ``outcome`` in JOB_OUTCOME_VALUES.
JOB_OUTCOMES: Final = Counter(
    "zerocancer_job_outcomes_total",
    "Job attempts by outcome: succeeded, failed (permanent), retried, dead.",
    ("actor", "queue", "outcome"),
)
JOB_RETRIES: Final = Counter(
    "zerocancer_job_retries_total",
    "Job attempts that failed and were scheduled again.",
    ("actor", "queue"),
)
JOB_DEAD_LETTERS: Final = Counter(
    "zerocancer_job_dead_letters_total",
    "Jobs that exhausted their retries and went to the dead-letter queue.",
    ("actor", "queue"),
)
#: ``set_to_current_time()`` every few seconds (at most 30 s apart) by each worker; the
#: ``worker`` label is a stable name (host name or configured name), not a pid.
WORKER_HEARTBEAT: Final = Gauge(
    "zerocancer_worker_heartbeat_timestamp_seconds",
    "Unix time of the worker's last heartbeat.",
    ("worker",),
    multiprocess_mode="max",
)

# --- outbox and relay -------------------------------------------------------------------

#: Set by every relay loop per queue (0 for queues with nothing pending): unsent rows
#: whose ``available_at`` has passed.
OUTBOX_BACKLOG: Final = Gauge(
    "zerocancer_outbox_backlog_messages",
    "Outbox rows that are due and not yet sent.",
    ("queue",),
    multiprocess_mode="livemostrecent",
)
OUTBOX_OLDEST_UNSENT_AGE: Final = Gauge(
    "zerocancer_outbox_oldest_unsent_age_seconds",
    "Age of the oldest due, unsent outbox row (0 when none).",
    ("queue",),
    multiprocess_mode="livemostrecent",
)
#: Incremented after the broker confirmed the publish and the row was marked sent.
RELAY_PUBLISHED: Final = Counter(
    "zerocancer_relay_published_messages_total",
    "Outbox messages published to the broker with a confirm.",
    ("queue",),
)

# --- matching ---------------------------------------------------------------------------

#: One observation per run attempt (spec README decision 6: the SLO is on the first
#: attempt's own duration). ``trigger``: schedule, event, cron, admin.
MATCHING_RUN_DURATION: Final = Histogram(
    "zerocancer_matching_run_duration_seconds",
    "Duration of one waitlist matching run attempt.",
    ("trigger", "attempt", "outcome"),
    buckets=MATCHING_BUCKETS,
)
#: Reported beside the SLO: from the job's creation to its final completion.
MATCHING_TRIGGER_TO_COMPLETION: Final = Histogram(
    "zerocancer_matching_trigger_to_completion_seconds",
    "Time from a matching run being triggered to its completion, retries included.",
    ("trigger",),
    buckets=MATCHING_COMPLETION_BUCKETS,
)

#: Every metric above, for tests and dashboards.
ALL_METRICS: Final[tuple[MetricWrapperBase, ...]] = (
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    CIRCUIT_BREAKER_STATE,
    JOB_ENQUEUE_TO_START,
    JOB_RUN_DURATION,
    JOB_OUTCOMES,
    JOB_RETRIES,
    JOB_DEAD_LETTERS,
    WORKER_HEARTBEAT,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_UNSENT_AGE,
    RELAY_PUBLISHED,
    MATCHING_RUN_DURATION,
    MATCHING_TRIGGER_TO_COMPLETION,
)


def series(metric: MetricWrapperBase, part: str = "") -> str:
    """The name of a series as scraped: ``_total`` for counters, ``_bucket|_count|_sum``.

    >>> series(HTTP_REQUEST_DURATION, "bucket")
    'zerocancer_http_request_duration_seconds_bucket'
    """
    family = next(iter(metric.describe()))
    if family.type == "counter":
        if part:
            raise ValueError(f"a counter has one series, not {part!r}")
        return f"{family.name}_total"
    if family.type == "histogram":
        if part not in ("bucket", "count", "sum"):
            raise ValueError(f"a histogram series is bucket, count or sum, not {part!r}")
        return f"{family.name}_{part}"
    if part:
        raise ValueError(f"a {family.type} has one series, not {part!r}")
    return family.name


def series_names() -> frozenset[str]:
    """Every series name the metrics above produce (without ``_created``)."""
    names: set[str] = set()
    for metric in ALL_METRICS:
        family = next(iter(metric.describe()))
        if family.type == "histogram":
            names.update(series(metric, part) for part in ("bucket", "count", "sum"))
        else:
            names.add(series(metric))
    return frozenset(names)
