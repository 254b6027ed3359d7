"""Rate limits for actors: Dramatiq's limiters over Redis, or in memory under embedded defaults.

The limiter backends are synchronous (redis-py), so every call is made in a thread: an async
actor must not block the worker's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from dramatiq.rate_limits import (
    BucketRateLimiter,
    ConcurrentRateLimiter,
    RateLimiter,
    RateLimiterBackend,
    WindowRateLimiter,
)
from dramatiq.rate_limits.backends import StubBackend

from actors.errors import RateLimitedError

if TYPE_CHECKING:
    from actors.settings import WorkerSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimit:
    """One actor's limit.

    - ``concurrent``: at most ``limit`` runs at the same time across all workers
      (``ConcurrentRateLimiter``; ``ttl_ms`` frees a slot whose holder died).
    - ``window``: at most ``limit`` runs per sliding ``window_s`` seconds (``WindowRateLimiter``).
    - ``bucket``: at most ``limit`` runs per fixed ``window_s``-second bucket
      (``BucketRateLimiter``).

    When the limit is full the message is tried again after ``retry_delay_ms``.
    """

    kind: Literal["concurrent", "window", "bucket"]
    limit: int
    window_s: int = 1
    ttl_ms: int = 900_000
    retry_delay_ms: int = 1_000
    key: str | None = None

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s < 1 or self.retry_delay_ms < 0:
            raise ValueError("rate limits need limit >= 1, window_s >= 1, retry_delay_ms >= 0")

    def describe(self) -> str:
        if self.kind == "concurrent":
            return f"{self.limit} at a time"
        return f"{self.limit} per {self.window_s} s ({self.kind})"


_state_lock = threading.Lock()
_backend: RateLimiterBackend | None = None
_prefix = "zerocancer:rl"
_limiters: dict[tuple[str, RateLimit], RateLimiter] = {}


def configure(settings: WorkerSettings) -> RateLimiterBackend:
    """Chooses the backend: Redis when REDIS_URL is set, else in memory (one process only)."""
    global _backend, _prefix
    backend: RateLimiterBackend
    if settings.redis_url:
        from dramatiq.rate_limits.backends import RedisBackend

        backend = RedisBackend(url=settings.redis_url)
    else:
        if not settings.embedded:
            log.warning("REDIS_URL unset: rate limits are kept per worker process only")
        backend = StubBackend()  # type: ignore[no-untyped-call]
    with _state_lock:
        _backend = backend
        _prefix = settings.rate_limit_prefix
        _limiters.clear()
    return backend


def backend() -> RateLimiterBackend:
    global _backend
    with _state_lock:
        if _backend is None:
            _backend = StubBackend()  # type: ignore[no-untyped-call]
        return _backend


def limiter(name: str, limit: RateLimit) -> RateLimiter:
    """The (cached) limiter for ``limit`` under key ``<prefix>:<limit.key or name>``."""
    current = backend()
    with _state_lock:
        found = _limiters.get((name, limit))
        if found is not None and found.backend is current:
            return found
        key = f"{_prefix}:{limit.key or name}"
        made: RateLimiter
        if limit.kind == "concurrent":
            made = ConcurrentRateLimiter(  # type: ignore[no-untyped-call]
                current, key, limit=limit.limit, ttl=limit.ttl_ms
            )
        elif limit.kind == "window":
            made = WindowRateLimiter(  # type: ignore[no-untyped-call]
                current, key, limit=limit.limit, window=limit.window_s
            )
        else:
            made = BucketRateLimiter(  # type: ignore[no-untyped-call]
                current, key, limit=limit.limit, bucket=limit.window_s * 1000
            )
        _limiters[(name, limit)] = made
        return made


@asynccontextmanager
async def slot(name: str, limit: RateLimit) -> AsyncIterator[None]:
    """Holds one slot of ``limit`` for the body; raises ``RateLimitedError`` when it is full."""
    manager: AbstractContextManager[bool] = limiter(name, limit).acquire(raise_on_failure=False)
    acquired = await asyncio.to_thread(manager.__enter__)
    try:
        if not acquired:
            raise RateLimitedError(limit.key or name, limit.retry_delay_ms)
        yield
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)


async def take(key: str, *, limit: int, per_s: int) -> bool:
    """Counts one event under ``key`` in a fixed ``per_s``-second bucket; False past ``limit``.

    Used for caps that skip work instead of delaying it (the hourly per-address email cap).
    """
    bucket = BucketRateLimiter(  # type: ignore[no-untyped-call]
        backend(), f"{_prefix}:{key}", limit=limit, bucket=per_s * 1000
    )
    manager: AbstractContextManager[bool] = bucket.acquire(raise_on_failure=False)
    acquired = await asyncio.to_thread(manager.__enter__)
    await asyncio.to_thread(manager.__exit__, None, None, None)
    return bool(acquired)
