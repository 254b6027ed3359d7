"""WorkerSettings: the worker, relay and scheduler configuration, read once from the environment.

Names of the existing deployment are kept (DATABASE_URL, SMTP_*, FRONTEND_URL, WAITLIST_*); new
ones are BROKER_URL, REDIS_URL, STORAGE_DIR, SMTP_FROM, APP_TIMEZONE and SCHEDULE_*. Without
BROKER_URL the embedded defaults apply: Dramatiq's in-process StubBroker and in-memory limiter
state, and, without SMTP_HOST, emails written as .eml files under ./var/outbox-mail
(MAIL_OUTBOX_DIR, or ZEROCANCER_MAIL_DIR as ``zerocancer dev`` sets it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Frontend base used under embedded defaults when FRONTEND_URL is unset.
EMBEDDED_FRONTEND_URL = "http://localhost:3000"


class SettingsError(ValueError):
    """The environment is missing or misstates a setting."""


@dataclass(frozen=True)
class WorkerSettings:
    database_url: str | None = None
    broker_url: str | None = None
    broker_max_priority: int | None = None
    redis_url: str | None = None
    rate_limit_prefix: str = "zerocancer:rl"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_secure: bool = False
    smtp_user: str | None = None
    smtp_pass: str | None = None
    smtp_from: str | None = None
    smtp_timeout: float = 30.0
    smtp_connections: int = 2
    frontend_url: str = EMBEDDED_FRONTEND_URL
    storage_dir: Path = Path("var/storage")
    mail_outbox_dir: Path = Path("var/outbox-mail")
    db_pool_size: int = 10
    job_heartbeat_seconds: float = 10.0
    app_timezone: str = "Africa/Lagos"
    waitlist_matching_interval_hours: int = 18
    schedule_matching_enabled: bool = True
    schedule_monthly_payouts_enabled: bool = True
    schedule_token_purge_enabled: bool = True

    @property
    def embedded(self) -> bool:
        """True under embedded defaults (no BROKER_URL): in-process broker and limiter state."""
        return self.broker_url is None

    @property
    def mail_from(self) -> str:
        """The From header: SMTP_FROM, else the SMTP login (as the reference), else no-reply."""
        return self.smtp_from or self.smtp_user or "ZeroCancer <no-reply@zerocancer.local>"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def integer(name: str, default: int, low: int = 0, high: int | None = None) -> int:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"{name} must be an integer, not {raw!r}") from None
            if value < low or (high is not None and value > high):
                raise SettingsError(f"{name} must be between {low} and {high}, not {value}")
            return value

        def flag(name: str, default: bool) -> bool:
            raw = text(name)
            if raw is None:
                return default
            return raw.lower() in {"1", "true", "yes", "on"}

        broker_url = text("BROKER_URL")
        frontend_url = text("FRONTEND_URL")
        if frontend_url is None:
            if broker_url is not None:
                # D-EM-6: links must never fall back to localhost or "undefined" in production.
                raise SettingsError("FRONTEND_URL is required (email links are built from it)")
            frontend_url = EMBEDDED_FRONTEND_URL
            log.info("FRONTEND_URL unset: embedded default %s", frontend_url)
        secure = flag("SMTP_SECURE", False)
        max_priority = text("BROKER_MAX_PRIORITY")
        return cls(
            database_url=text("DATABASE_URL"),
            broker_url=broker_url,
            broker_max_priority=integer("BROKER_MAX_PRIORITY", 0, 1, 255) if max_priority else None,
            redis_url=text("REDIS_URL"),
            rate_limit_prefix=text("RATE_LIMIT_PREFIX") or "zerocancer:rl",
            smtp_host=text("SMTP_HOST"),
            smtp_port=integer("SMTP_PORT", 465 if secure else 587, 1, 65535),
            smtp_secure=secure,
            smtp_user=text("SMTP_USER"),
            smtp_pass=text("SMTP_PASS"),
            smtp_from=text("SMTP_FROM"),
            smtp_connections=integer("SMTP_CONNECTIONS", 2, 1, 64),
            frontend_url=frontend_url.rstrip("/"),
            storage_dir=Path(text("STORAGE_DIR") or "var/storage"),
            mail_outbox_dir=Path(
                text("MAIL_OUTBOX_DIR") or text("ZEROCANCER_MAIL_DIR") or "var/outbox-mail"
            ),
            db_pool_size=integer("WORKER_DB_POOL_SIZE", 10, 1, 200),
            job_heartbeat_seconds=float(integer("JOB_HEARTBEAT_SECONDS", 10, 1, 3600)),
            app_timezone=text("APP_TIMEZONE") or "Africa/Lagos",
            waitlist_matching_interval_hours=integer(
                "WAITLIST_MATCHING_INTERVAL_HOURS", 18, 1, 168
            ),
            schedule_matching_enabled=flag("SCHEDULE_MATCHING_ENABLED", True),
            schedule_monthly_payouts_enabled=flag("SCHEDULE_MONTHLY_PAYOUTS_ENABLED", True),
            schedule_token_purge_enabled=flag("SCHEDULE_TOKEN_PURGE_ENABLED", True),
        )

    def describe(self) -> str:
        """One log line saying which defaults apply (never secrets)."""
        broker = "embedded StubBroker" if self.embedded else "RabbitMQ"
        limits = "Redis" if self.redis_url else "in-memory"
        mail = (
            f"SMTP {self.smtp_host}:{self.smtp_port}"
            if self.smtp_host
            else (f".eml files in {self.mail_outbox_dir}")
        )
        return f"broker: {broker}; limiter state: {limits}; mail: {mail}"


_current: WorkerSettings | None = None


def use(settings: WorkerSettings) -> None:
    """Makes ``settings`` the ones capabilities see (``build_broker`` calls this)."""
    global _current
    _current = settings


def current() -> WorkerSettings:
    """The settings of this process: those given to ``use``, else read from the environment."""
    global _current
    if _current is None:
        _current = WorkerSettings.from_env()
    return _current
