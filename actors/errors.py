"""Errors raised by actors, and how the runtime treats them.

    Exception
    ├── PermanentError            not retried (listed in every actor's ``throws=``); job -> dead
    │   ├── UnknownTemplateError  SendEmail names a template that does not exist
    │   ├── InvalidMessageError   arguments the actor can never process (missing context, ...)
    │   └── EmailRejectedError    the SMTP server refused the message permanently (5xx)
    └── dramatiq.Retry            expected wait, not logged as an error; delay chosen by the raiser
        └── RateLimitedError      the actor's rate limit is full; tried again shortly, and the
                                  wait does not use up the actor's retries

Everything else is retried with the actor's backoff until its retries run out (job -> dead).
"""

from __future__ import annotations

import dramatiq


class PermanentError(Exception):
    """Retrying cannot help: the job goes straight to ``dead``."""


class UnknownTemplateError(PermanentError):
    """No email template of that name."""


class InvalidMessageError(PermanentError):
    """The message's arguments cannot be processed (e.g. a required context value is missing)."""


class EmailRejectedError(PermanentError):
    """The SMTP server answered with a permanent (5xx) error."""


class RateLimitedError(dramatiq.Retry):
    """The actor's rate limit is full; the message is enqueued again after ``delay`` ms."""

    def __init__(self, key: str, delay: int) -> None:
        super().__init__(f"rate limit {key!r} is full", delay=delay)
        self.key = key
