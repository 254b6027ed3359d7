"""Actor policies, declared beside each actor, and ``register`` which turns them into actors.

    @register(SendEmail, EMAIL_POLICY)
    async def send_email(template: str, to: str, context: dict[str, Any]) -> dict[str, Any]: ...

``register`` takes the actor name and queue from the message class (the edge's contract), checks
that the function's parameters are the message's fields, and records the actor. The Dramatiq
actor is declared on the broker built by ``actors.broker.build_broker`` (all registered actors
when it is built, and any registered afterwards at once), so importing a capability module never
creates Dramatiq's default broker.

The function's return value is stored as the job's result (``jobs.result``). The Dramatiq actor
is a wrapper that also claims the job and records its success (``actors.middleware.jobs``).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar

import dramatiq

from actors import rate_limits
from actors.contracts.messages import Message
from actors.errors import PermanentError
from actors.middleware import jobs
from actors.rate_limits import RateLimit

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "ActorPolicy",
    "RateLimit",
    "RegisteredActor",
    "declare",
    "declare_all",
    "register",
    "registered",
]


@dataclass(frozen=True)
class ActorPolicy:
    """How the runtime treats one actor. The queue is the message class's ``queue_name``.

    - ``max_retries``: retries after the first attempt (so ``max_retries + 1`` attempts at most);
      ``retry_for_ms`` also stops retrying that long after the first attempt.
    - ``min_backoff_ms`` / ``max_backoff_ms``: exponential backoff between attempts (Dramatiq
      doubles from the minimum, adds up to 100 % jitter, caps at the maximum).
    - ``time_limit_ms``: the attempt is interrupted (and counts as failed) past this.
    - ``rate_limit``: see ``actors.rate_limits.RateLimit``; a full limit delays, never fails.
    - ``throws``: exceptions that are never retried (``PermanentError`` and subclasses).
    """

    max_retries: int = 3
    min_backoff_ms: int = 15_000
    max_backoff_ms: int = 3_600_000
    time_limit_ms: int = 600_000
    retry_for_ms: int | None = None
    rate_limit: RateLimit | None = None
    priority: int = 0
    throws: tuple[type[BaseException], ...] = (PermanentError,)
    notes: str = ""

    def actor_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "max_retries": self.max_retries,
            "min_backoff": self.min_backoff_ms,
            "max_backoff": self.max_backoff_ms,
            "time_limit": self.time_limit_ms,
            "throws": self.throws,
        }
        if self.retry_for_ms is not None:
            options["retry_for"] = self.retry_for_ms
        return options


@dataclass(eq=False)
class RegisteredActor(Generic[P, R]):
    """An actor function with its message class and policy; callable like the function."""

    message_class: type[Message]
    policy: ActorPolicy
    fn: Callable[P, Awaitable[R]]
    _runner: Callable[..., Awaitable[None]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check_parameters(self.message_class, self.fn)
        self._runner = _runner(self.message_class, self.policy, self.fn)

    @property
    def actor_name(self) -> str:
        return self.message_class.actor_name

    @property
    def queue_name(self) -> str:
        return self.message_class.queue_name

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
        return self.fn(*args, **kwargs)

    def declare(self, broker: dramatiq.Broker) -> dramatiq.Actor[..., None]:
        """Declares this actor on ``broker`` (once) and returns the Dramatiq actor."""
        existing = broker.actors.get(self.actor_name)
        if existing is not None:
            return existing
        decorator = dramatiq.actor(
            actor_name=self.actor_name,
            queue_name=self.queue_name,
            priority=self.policy.priority,
            broker=broker,
            **self.policy.actor_options(),
        )
        return decorator(self._runner)


_lock = threading.Lock()
_registry: dict[str, RegisteredActor[Any, Any]] = {}
_broker: dramatiq.Broker | None = None


def register(
    message_class: type[Message], policy: ActorPolicy
) -> Callable[[Callable[P, Awaitable[R]]], RegisteredActor[P, R]]:
    """Registers the decorated async function as the actor for ``message_class``."""

    def decorator(fn: Callable[P, Awaitable[R]]) -> RegisteredActor[P, R]:
        entry = RegisteredActor(message_class, policy, fn)
        with _lock:
            previous = _registry.get(entry.actor_name)
            if previous is not None and previous.fn is not fn:
                raise ValueError(f"actor {entry.actor_name!r} is registered twice")
            _registry[entry.actor_name] = entry
            broker = _broker
        if broker is not None:
            entry.declare(broker)
        return entry

    return decorator


def declare(
    broker: dramatiq.Broker,
    message_class: type[Message],
    policy: ActorPolicy,
    fn: Callable[..., Awaitable[Any]],
) -> dramatiq.Actor[..., None]:
    """Declares an actor on ``broker`` without registering it globally (tests, tools)."""
    return RegisteredActor(message_class, policy, fn).declare(broker)


def declare_all(broker: dramatiq.Broker) -> None:
    """Declares every registered actor on ``broker``, and later registrations as they come."""
    global _broker
    with _lock:
        _broker = broker
        entries = list(_registry.values())
    for entry in entries:
        entry.declare(broker)


def registered() -> list[RegisteredActor[Any, Any]]:
    """Every registered actor, by actor name."""
    with _lock:
        return [_registry[name] for name in sorted(_registry)]


def _check_parameters(message_class: type[Message], fn: Callable[..., Any]) -> None:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"actor {fn.__qualname__} must be an async function")
    parameters = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    fields = list(message_class.field_names())
    if parameters != fields:
        raise TypeError(
            f"actor {fn.__qualname__} takes {parameters}, but {message_class.__name__} "
            f"has fields {fields}"
        )


def _runner(
    message_class: type[Message], policy: ActorPolicy, fn: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[None]]:
    name = message_class.actor_name
    limit = policy.rate_limit

    # The job's claim and success update run here, in the actor's coroutine, rather than in
    # JobTracking's hooks: one hand-over from the worker thread to the event loop per message
    # instead of three. JobTracking still writes failures (only its after-hook knows whether
    # Retries gave up). The claim comes before the rate limit, as the hooks did.
    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> None:
        job = await jobs.begin_job()
        if limit is None:
            result = await fn(*args, **kwargs)
        else:
            async with rate_limits.slot(name, limit):
                result = await fn(*args, **kwargs)
        await jobs.finish_job(job, result)

    setattr(run, jobs.TRACKS_JOB, True)
    return run
