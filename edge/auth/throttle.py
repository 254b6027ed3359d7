"""Sliding-window limits: login failures, profile probes and account e-mails (auth.md 3.1, 4.1).

- `LOGIN_FAILURES`: 10 failures per (client IP, lower-cased e-mail) in 15 minutes lock out user,
  center, staff and admin login for that pair until the window frees up; a success resets it.
- `PROFILE_PROBES`: 20 `POST /register/check-profiles` per client IP a minute.
- `ACCOUNT_EMAILS`: 5 reset or verification e-mails per account (and kind) an hour; beyond
  that the endpoints answer as usual and send nothing.

Where the state lives (chosen, not accidental):
- With `REDIS_URL` set (production, tests), in Redis: one sorted set per key, shared by every
  edge process and replica, expiring with its window. Keys are SHA-256 digests, so no e-mail
  address is stored in Redis.
- Without it (embedded defaults, one process), in this process's memory. That is per process:
  with several edge processes an attacker gets N times the budget, which is why production sets
  REDIS_URL. The start-up log says which one is in use.
- If Redis fails, the limiter lets the request through and logs a warning: throttling is a
  brake on guessing, and an outage of it must not lock every user out.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("zerocancer.edge.throttle")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    limit: int
    window: int  # seconds


LOGIN_FAILURES = Rule("login", limit=10, window=15 * 60)
PROFILE_PROBES = Rule("check-profiles", limit=20, window=60)
ACCOUNT_EMAILS = Rule("account-email", limit=5, window=60 * 60)


class Limiter(Protocol):
    clock: Callable[[], float]

    async def hits(self, key: str, window: int) -> list[float]:
        """Times of the hits within the window, oldest first."""

    async def add(self, key: str, window: int) -> None: ...

    async def add_if_below(self, key: str, window: int, limit: int) -> bool:
        """Records a hit unless `limit` hits are already in the window."""

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryLimiter:
    """In-process state (embedded defaults): see the module docstring for the trade-off."""

    #: Above this many keys, a write first drops every key whose window has passed.
    MAX_KEYS = 100_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._windows: dict[str, int] = {}

    def _live(self, key: str, window: int, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - window:
            hits.popleft()
        if not hits:
            self._hits.pop(key, None)
            self._windows.pop(key, None)
        return hits

    def _sweep(self, now: float) -> None:
        for key in list(self._hits):
            self._live(key, self._windows.get(key, 0), now)

    async def hits(self, key: str, window: int) -> list[float]:
        return list(self._live(key, window, self.clock()))

    async def add(self, key: str, window: int) -> None:
        now = self.clock()
        if len(self._hits) >= self.MAX_KEYS:
            self._sweep(now)
        self._live(key, window, now)
        self._hits.setdefault(key, deque()).append(now)
        self._windows[key] = window

    async def add_if_below(self, key: str, window: int, limit: int) -> bool:
        if len(await self.hits(key, window)) >= limit:
            return False
        await self.add(key, window)
        return True

    async def reset(self, key: str) -> None:
        self._hits.pop(key, None)
        self._windows.pop(key, None)

    async def close(self) -> None:
        self._hits.clear()


class RedisLimiter:
    """Shared state in Redis sorted sets (score = hit time)."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis_asyncio

        self.clock: Callable[[], float] = time.time  # shared by processes: wall clock
        self._redis: Any = redis_asyncio.Redis.from_url(url, socket_timeout=2.0)

    async def hits(self, key: str, window: int) -> list[float]:
        now = self.clock()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, 0, now - window)
            pipe.zrange(key, 0, -1, withscores=True)
            _, members = await pipe.execute()
        return [float(score) for _, score in members]

    async def add(self, key: str, window: int) -> None:
        now = self.clock()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {f"{now}:{secrets.token_hex(4)}": now})
            pipe.expire(key, window)
            await pipe.execute()

    async def add_if_below(self, key: str, window: int, limit: int) -> bool:
        now = self.clock()
        member = f"{now}:{secrets.token_hex(4)}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, 0, now - window)
            pipe.zadd(key, {member: now})
            pipe.zcard(key)
            pipe.expire(key, window)
            _, _, count, _ = await pipe.execute()
        if int(count) > limit:
            await self._redis.zrem(key, member)
            return False
        return True

    async def reset(self, key: str) -> None:
        await self._redis.delete(key)

    async def close(self) -> None:
        await self._redis.aclose()


class Throttle:
    """The rules above on top of a limiter; every method fails open on limiter errors."""

    PREFIX = "zc:throttle"

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        self.shared = isinstance(limiter, RedisLimiter)

    def key(self, rule: Rule, *parts: str) -> str:
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        return f"{self.PREFIX}:{rule.name}:{digest}"

    async def retry_after(self, rule: Rule, *parts: str) -> int | None:
        """Seconds until a new attempt is allowed, or None when the rule is not exceeded."""
        try:
            hits = await self.limiter.hits(self.key(rule, *parts), rule.window)
        except Exception:
            log.warning(
                "throttle %s unavailable; letting the request through", rule.name, exc_info=True
            )
            return None
        if len(hits) < rule.limit:
            return None
        # The window frees up when the hit that put the count at the limit expires.
        oldest_that_counts = hits[len(hits) - rule.limit]
        return max(1, math.ceil(oldest_that_counts + rule.window - self.limiter.clock()))

    async def hit(self, rule: Rule, *parts: str) -> None:
        try:
            await self.limiter.add(self.key(rule, *parts), rule.window)
        except Exception:
            log.warning("throttle %s unavailable; hit not recorded", rule.name, exc_info=True)

    async def allow(self, rule: Rule, *parts: str) -> bool:
        """Records one use and says whether it is within the limit."""
        try:
            return await self.limiter.add_if_below(self.key(rule, *parts), rule.window, rule.limit)
        except Exception:
            log.warning(
                "throttle %s unavailable; letting the request through", rule.name, exc_info=True
            )
            return True

    async def reset(self, rule: Rule, *parts: str) -> None:
        try:
            await self.limiter.reset(self.key(rule, *parts))
        except Exception:
            log.warning("throttle %s unavailable; counter not reset", rule.name, exc_info=True)

    async def close(self) -> None:
        await self.limiter.close()


def build_throttle(redis_url: str | None) -> Throttle:
    """Redis-backed when `redis_url` is set, else in-process (see the module docstring)."""
    if redis_url:
        return Throttle(RedisLimiter(redis_url))
    return Throttle(MemoryLimiter())
