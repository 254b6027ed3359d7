"""JobMetrics: the job metrics of ``monitoring.metrics`` observed for every message, and the
worker's metrics server.

Per attempt: ``zerocancer_job_enqueue_to_start_seconds`` (from the moment the message was due:
its timestamp, or its ``eta`` when delayed or retried), ``zerocancer_job_run_duration_seconds``
and one ``zerocancer_job_outcomes_total`` increment:

- ``succeeded``: the actor returned;
- ``failed``: a permanent error (``PermanentError`` or the actor's ``throws``), never retried;
- ``retried``: it failed and another attempt is scheduled (also ``zerocancer_job_retries_total``);
- ``dead``: it failed and its retries (or retry window) are exhausted (also
  ``zerocancer_job_dead_letters_total``: the message goes to the dead-letter queue).

A rate-limited attempt (``RateLimitedError``) only waited for capacity: its run is observed but
it has no outcome (JobTracking does not count it as an attempt either). Neither has a message
whose job was running elsewhere (``JobBusyError``): it is simply tried again later.

Every ``(actor, queue)`` label set is created at worker boot, at zero. Prometheus's ``rate()``
needs two samples of a series: a series born at 1 on the first failure would read as "no
failures" until the next one.

Import order (BASELINE.md pitfalls 10-11): this module imports ``monitoring.metrics`` only inside
the hooks, so building the broker never creates metric objects before the launcher prepared the
multiprocess directory. Must come after ``JobTracking`` and before ``PolicyRetries`` in the
middleware list: ``emit_after`` runs in reverse order, so ``after_process_message`` here sees
whether the retry middleware gave up (``message.failed``).

``serve_metrics`` is the Dramatiq fork function that ``zerocancer worker --metrics-port`` adds:
one process serving ``/metrics`` for every worker process of this machine (multiprocess mode).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware

from actors.errors import PermanentError, RateLimitedError
from actors.middleware.jobs import JobBusyError

log = logging.getLogger(__name__)

#: Environment variables through which ``zerocancer worker`` hands the metrics server's address
#: to its fork process (Dramatiq fork functions take no arguments).
METRICS_PORT_ENV = "ZEROCANCER_WORKER_METRICS_PORT"
METRICS_HOST_ENV = "ZEROCANCER_WORKER_METRICS_HOST"

#: ``zerocancer_job_outcomes_total`` outcomes (``monitoring.metrics.JOB_OUTCOME_VALUES``).
SUCCEEDED, FAILED, RETRIED, DEAD = "succeeded", "failed", "retried", "dead"


class JobMetrics(Middleware):
    """Observes the job metrics of every message (see the module docstring)."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    # --- worker lifecycle ----------------------------------------------------------------

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from monitoring import metrics

        for actor_name in sorted(broker.get_declared_actors()):
            labels = {"actor": actor_name, "queue": broker.get_actor(actor_name).queue_name}
            metrics.JOB_ENQUEUE_TO_START.labels(**labels)
            metrics.JOB_RUN_DURATION.labels(**labels)
            metrics.JOB_RETRIES.labels(**labels)
            metrics.JOB_DEAD_LETTERS.labels(**labels)
            for outcome in metrics.JOB_OUTCOME_VALUES:
                metrics.JOB_OUTCOMES.labels(**labels, outcome=outcome)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from monitoring.exposition import mark_process_dead

        mark_process_dead(os.getpid())

    # --- per message ---------------------------------------------------------------------

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        from monitoring import metrics

        now = time.time()
        due_ms = max(int(message.message_timestamp), int(message.options.get("eta") or 0))
        metrics.JOB_ENQUEUE_TO_START.labels(**_labels(message)).observe(
            max(0.0, now - due_ms / 1000)
        )
        with self._lock:
            self._started[message.message_id] = time.perf_counter()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        from monitoring import metrics

        with self._lock:
            started = self._started.pop(message.message_id, None)
        labels = _labels(message)
        if started is not None:
            metrics.JOB_RUN_DURATION.labels(**labels).observe(time.perf_counter() - started)
        outcome = outcome_of(broker, message, exception)
        if outcome is None:
            return
        metrics.JOB_OUTCOMES.labels(**labels, outcome=outcome).inc()
        if outcome == RETRIED:
            metrics.JOB_RETRIES.labels(**labels).inc()
        elif outcome == DEAD:
            metrics.JOB_DEAD_LETTERS.labels(**labels).inc()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        from monitoring import metrics

        with self._lock:
            self._started.pop(message.message_id, None)
        if message.failed:
            # Dropped before it ran by another middleware that gave up on it (e.g. AgeLimit):
            # JobTracking marks the job dead and the message goes to the dead-letter queue.
            labels = _labels(message)
            metrics.JOB_OUTCOMES.labels(**labels, outcome=DEAD).inc()
            metrics.JOB_DEAD_LETTERS.labels(**labels).inc()


def outcome_of(
    broker: dramatiq.Broker, message: MessageProxy, exception: BaseException | None
) -> str | None:
    """The outcome label of one attempt (None: a rate-limit wait, not an attempt)."""
    if exception is None:
        return SUCCEEDED
    if isinstance(exception, (RateLimitedError, JobBusyError)):
        return None
    throws: Any = message.options.get("throws")
    if not throws:
        try:
            throws = broker.get_actor(message.actor_name).options.get("throws")
        except Exception:  # an actor unknown here: judge by the error alone
            throws = None
    if isinstance(exception, PermanentError) or (throws and isinstance(exception, throws)):
        return FAILED
    return DEAD if message.failed else RETRIED


def _labels(message: MessageProxy) -> dict[str, str]:
    return {"actor": message.actor_name, "queue": message.queue_name}


# --- the metrics server ---------------------------------------------------------------------


def check_metrics_dir() -> Path | None:
    """The multiprocess directory the worker processes share, with last run's files removed.

    Runs in the ``zerocancer worker`` launcher before Dramatiq forks the worker processes.
    ``monitoring.exposition.prepare_from_environment(wipe=True)`` would refuse here: importing
    the capabilities already created the metric objects (``actors.matching`` imports
    ``monitoring.metrics``). None of them holds a value file yet (every metric has labels and
    the launcher observes nothing), so only files of earlier processes are removed; files of
    this process, should any exist, are kept. Returns None when no directory is configured.
    """
    from monitoring.exposition import multiprocess_dir, prepare_from_environment

    prepare_from_environment()
    directory = multiprocess_dir()
    if directory is None:
        return None
    own = f"_{os.getpid()}.db"
    for stale in directory.glob("*.db"):
        if not stale.name.endswith(own):
            stale.unlink(missing_ok=True)
    return directory


def serve_metrics() -> int:
    """Dramatiq fork function: serve ``/metrics`` of every worker process until SIGTERM."""
    from monitoring.exposition import start_metrics_server

    port = int(os.environ[METRICS_PORT_ENV])
    host = os.environ.get(METRICS_HOST_ENV) or "127.0.0.1"
    server, _thread = start_metrics_server(port, host)
    log.info("worker metrics on http://%s:%d/metrics", host, server.server_port)
    try:
        while True:
            time.sleep(3600)  # SIGTERM ends this process (Dramatiq's fork signal handler)
    finally:
        server.shutdown()
        server.server_close()
