"""CircuitBreaker: whether the edge may enqueue a job and wait for it, per actor.

- Job outcomes: ``failure_threshold`` consecutive failures or timeouts of an actor's jobs open
  its circuit; after ``reset_seconds`` one request goes through as a half-open probe (success
  closes the circuit, failure opens it again); the others get the fallback meanwhile.
- Worker heartbeats: an actor is unavailable while no worker consuming its queue has a fresh row
  in ``worker_heartbeats`` (each worker process writes one every ~10 s, see
  ``actors.middleware.heartbeat``). That table and not ``jobs.heartbeat_at``: the latter moves
  only while a job runs, so an idle, healthy worker would look dead. Ages are computed by the
  database (``now() - beat_at``), so edge and worker clocks never meet. Reads are cached for two
  seconds; a failed read lets requests through (the enqueue then says what is wrong).

States go to ``zerocancer_circuit_breaker_state``: ``{breaker=<actor>}`` (open while its workers
are away too) and ``{breaker="workers"}`` (open while no worker at all is alive).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tortoise import connections

from monitoring import metrics
from monitoring.metrics import BreakerState

log = logging.getLogger("zerocancer.edge.breaker")

#: How long a read of ``worker_heartbeats`` is reused.
HEARTBEAT_CACHE_SECONDS = 2.0
#: Name of the breaker that is open while no worker at all is alive.
WORKERS_BREAKER = "workers"

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class WorkersSeen:
    """What ``worker_heartbeats`` said at the last read."""

    fresh: int
    #: Queues consumed by a fresh worker; None when a fresh worker consumes every queue.
    queues: frozenset[str] | None
    #: Seconds since the newest heartbeat of any worker (None: no row at all).
    newest_age: float | None
    #: The read failed: nothing is known (the breaker then lets requests through).
    error: str | None = None

    def serves(self, queue: str) -> bool:
        if self.error is not None:
            return True
        if self.fresh == 0:
            return False
        return self.queues is None or queue in self.queues


HeartbeatReader = Callable[[float], Awaitable[WorkersSeen]]

_HEARTBEATS_SQL = """
SELECT queues, EXTRACT(EPOCH FROM (now() - beat_at))::float8 AS age
FROM worker_heartbeats ORDER BY beat_at DESC LIMIT 1000
"""


async def read_heartbeats(stale_seconds: float) -> WorkersSeen:
    """Workers with a heartbeat younger than ``stale_seconds`` (database clock on both sides)."""
    rows = await connections.get("default").execute_query_dict(_HEARTBEATS_SQL)
    fresh = [row for row in rows if float(row["age"]) <= stale_seconds]
    queues: set[str] = set()
    every = False
    for row in fresh:
        consumed = list(row["queues"] or [])
        every = every or not consumed
        queues.update(consumed)
    return WorkersSeen(
        fresh=len(fresh),
        queues=None if every else frozenset(queues),
        newest_age=max(0.0, float(rows[0]["age"])) if rows else None,
    )


@dataclass(frozen=True, slots=True)
class Admission:
    """Whether a request may enqueue and wait, and, if not, when to come back."""

    allowed: bool
    probe: bool = False
    retry_after: int = 0
    reason: str = ""


@dataclass(slots=True)
class _Circuit:
    queue: str
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False


class CircuitBreaker:
    """Per-actor breaker on job outcomes, gated by worker heartbeats (module docstring)."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        stale_seconds: float = 30.0,
        unavailable_retry_after: int = 15,
        cache_seconds: float = HEARTBEAT_CACHE_SECONDS,
        clock: Clock = time.monotonic,
        read_workers: HeartbeatReader = read_heartbeats,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.stale_seconds = stale_seconds
        self.unavailable_retry_after = unavailable_retry_after
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._read_workers = read_workers
        self._circuits: dict[str, _Circuit] = {}
        self._seen: WorkersSeen | None = None
        self._seen_at = -math.inf
        self._read_lock = asyncio.Lock()

    # -- heartbeats --

    async def workers(self, *, refresh: bool = False) -> WorkersSeen:
        """The last read of ``worker_heartbeats``, re-read when older than the cache time."""
        if not refresh and self._fresh_enough():
            assert self._seen is not None
            return self._seen
        async with self._read_lock:
            if refresh or not self._fresh_enough():
                try:
                    seen = await self._read_workers(self.stale_seconds)
                except Exception as error:
                    log.warning("worker heartbeats unreadable: %s", type(error).__name__)
                    seen = WorkersSeen(0, None, None, error=type(error).__name__)
                self._seen, self._seen_at = seen, self._clock()
                self._export_all()
        assert self._seen is not None
        return self._seen

    def _fresh_enough(self) -> bool:
        return self._seen is not None and self._clock() - self._seen_at < self.cache_seconds

    # -- decisions --

    def register(self, actor: str, queue: str) -> None:
        """Makes an actor known (its gauge exists from now on)."""
        if actor not in self._circuits:
            self._circuits[actor] = _Circuit(queue)
            self._export(actor)

    async def admit(self, actor: str, queue: str) -> Admission:
        """May a request for ``actor`` enqueue and wait now? A half-open circuit admits one
        probe at a time; the caller then reports ``record_success``/``record_failure`` (or
        ``release`` when it gave up without an outcome)."""
        self.register(actor, queue)
        seen = await self.workers()
        circuit = self._circuits[actor]
        if not seen.serves(queue):
            self._export(actor)
            return Admission(False, retry_after=self.unavailable_retry_after, reason="no_workers")
        now = self._clock()
        if circuit.state == BreakerState.OPEN:
            remaining = circuit.opened_at + self.reset_seconds - now
            if remaining > 0:
                return Admission(False, retry_after=max(1, math.ceil(remaining)), reason="open")
            circuit.state = BreakerState.HALF_OPEN
            circuit.probing = False
        if circuit.state == BreakerState.HALF_OPEN:
            if circuit.probing:
                return Admission(False, retry_after=1, reason="probing")
            circuit.probing = True
            self._export(actor)
            return Admission(True, probe=True)
        self._export(actor)
        return Admission(True)

    def record_success(self, actor: str) -> None:
        circuit = self._circuits.get(actor)
        if circuit is None:
            return
        if circuit.state != BreakerState.CLOSED:
            log.info("circuit breaker for %s closed", actor)
        circuit.state, circuit.failures, circuit.probing = BreakerState.CLOSED, 0, False
        self._export(actor)

    def record_failure(self, actor: str, reason: str = "failed") -> None:
        """One failed or timed-out job of ``actor``."""
        circuit = self._circuits.get(actor)
        if circuit is None:
            return
        circuit.failures += 1
        reopen = circuit.state == BreakerState.HALF_OPEN
        if reopen or (
            circuit.state == BreakerState.CLOSED and circuit.failures >= self.failure_threshold
        ):
            circuit.state, circuit.opened_at = BreakerState.OPEN, self._clock()
            log.warning(
                "circuit breaker for %s opened after %d consecutive failures (last: %s)",
                actor,
                circuit.failures,
                reason,
            )
        circuit.probing = False
        self._export(actor)

    def release(self, actor: str) -> None:
        """The probe ended without an outcome (e.g. the client went away): let another try."""
        circuit = self._circuits.get(actor)
        if circuit is not None:
            circuit.probing = False

    def state(self, actor: str) -> BreakerState:
        """The state exported for ``actor``: open while its workers are away, too."""
        circuit = self._circuits.get(actor)
        if circuit is None:
            return BreakerState.CLOSED
        if self._seen is not None and not self._seen.serves(circuit.queue):
            return BreakerState.OPEN
        if circuit.state == BreakerState.OPEN and self._clock() >= (
            circuit.opened_at + self.reset_seconds
        ):
            return BreakerState.HALF_OPEN
        return circuit.state

    def _export(self, actor: str) -> None:
        metrics.CIRCUIT_BREAKER_STATE.labels(breaker=actor).set(self.state(actor))

    def _export_all(self) -> None:
        seen = self._seen
        workers_down = seen is not None and seen.error is None and seen.fresh == 0
        state = BreakerState.OPEN if workers_down else BreakerState.CLOSED
        metrics.CIRCUIT_BREAKER_STATE.labels(breaker=WORKERS_BREAKER).set(state)
        for actor in self._circuits:
            self._export(actor)
