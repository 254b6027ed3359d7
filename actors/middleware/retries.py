"""PolicyRetries: Dramatiq's Retries plus two rules of our actor policies.

- A rate-limited attempt (``RateLimitedError``) is enqueued again after the limiter's delay
  without using up a retry: waiting for capacity is not a failure. So is a message whose job is
  running elsewhere (``JobBusyError``, raised by JobTracking's claim).
- ``retry_for`` (actor option, ms): no retry is scheduled past that long after the message's
  first attempt (e.g. transactional email: retried until 24 h after the first attempt).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.common import compute_backoff
from dramatiq.middleware import Retries
from dramatiq.middleware.retries import DEFAULT_MAX_BACKOFF

from actors.errors import RateLimitedError
from actors.middleware.jobs import JobBusyError

log = logging.getLogger(__name__)

#: Option key holding the time (ms) of a message's first attempt; it travels with retries.
FIRST_ATTEMPT_OPTION = "zc_first_attempt"
#: Option key counting how often a message waited for its rate limit.
RATE_LIMITED_OPTION = "zc_rate_limited"


class PolicyRetries(Retries):
    @property
    def actor_options(self) -> set[str]:
        return {*super().actor_options, "retry_for"}

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        message.options.setdefault(FIRST_ATTEMPT_OPTION, int(time.time() * 1000))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if isinstance(exception, RateLimitedError):
            message.options[RATE_LIMITED_OPTION] = message.options.get(RATE_LIMITED_OPTION, 0) + 1
            broker.enqueue(message, delay=exception.delay or 1_000)  # type: ignore[arg-type]
            return
        if isinstance(exception, JobBusyError):
            broker.enqueue(message, delay=exception.delay or 1_000)  # type: ignore[arg-type]
            return
        if exception is not None and self._past_retry_window(broker, message, exception):
            log.warning("retry window of message %s is over", message.message_id)
            message.fail()
            return
        super().after_process_message(  # type: ignore[no-untyped-call]
            broker, message, result=result, exception=exception
        )

    def _past_retry_window(
        self, broker: dramatiq.Broker, message: MessageProxy, exception: BaseException
    ) -> bool:
        actor = broker.get_actor(message.actor_name)
        retry_for = message.options.get("retry_for", actor.options.get("retry_for"))
        first = message.options.get(FIRST_ATTEMPT_OPTION)
        if not retry_for or first is None:
            return False
        throws = message.options.get("throws") or actor.options.get("throws")
        if throws and isinstance(exception, throws):
            return False  # Retries fails it anyway, with its own log line
        retries = message.options.get("retries", 0)
        min_backoff = message.options.get(
            "min_backoff", actor.options.get("min_backoff", self.min_backoff)
        )
        max_backoff = message.options.get(
            "max_backoff", actor.options.get("max_backoff", self.max_backoff)
        )
        # The earliest the next attempt could run: no jitter, so this errs on the side of trying.
        _, delay = compute_backoff(
            retries,
            factor=min_backoff,
            max_backoff=min(max_backoff, DEFAULT_MAX_BACKOFF),
            jitter=False,
        )
        return int(time.time() * 1000) + delay > int(first) + int(retry_for)
