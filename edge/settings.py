"""Edge settings: read once from the environment into a frozen object (old names kept).

| variable | default |
|---|---|
| `DATABASE_URL` | embedded: `postgresql://postgres@127.0.0.1:5432/zerocancer`; else required |
| `JWT_TOKEN_SECRET` | embedded: a fixed development secret; else required, not a placeholder |
| `JWT_TOKEN_SECRET_PREVIOUS` | none (accepted for verification only, for rotation) |
| `FRONTEND_URL` | embedded: `http://localhost:3000`; else required |
| `CRON_API_KEY` | none: the cron endpoints then answer 401 (fail closed) |
| `PARTNER_API_KEYS` | none; `name=key,name=key` |
| `AUTH_COOKIE_SECURE` | `true` |
| `REDIS_URL` | none: limiter state then lives in the process (`edge.auth.throttle`) |
| `BROKER_URL` | none: no relay in the edge (the embedded worker relays in-process) |
| `EDGE_RELAY` | `on`: every edge process relays the outbox (`edge.relay_task`); `off`: none |
| `ZEROCANCER_EMBEDDED` | `false` |

Attributes are the lower_snake names (`JWT_TOKEN_SECRET` -> `jwt_token_secret`).

Embedded mode (`ZEROCANCER_EMBEDDED=1`, set by `zerocancer dev`) allows the defaults above and
the log says which ones are in use. Outside it a missing or default secret is refused, so a
production edge can never sign tokens with a secret published in this repository.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

log = logging.getLogger("zerocancer.edge")

#: Signing secret used only in embedded mode; refused everywhere else.
EMBEDDED_JWT_SECRET = "zerocancer-embedded-development-secret-not-for-production"  # noqa: S105
#: Values that people paste as placeholders; refused outside embedded mode like a missing one.
PLACEHOLDER_SECRETS = frozenset(
    {EMBEDDED_JWT_SECRET, "secret", "changeme", "changethis", "jwt-secret", "your-secret"}
)
#: RFC 7518 3.2: an HS256 key should have at least 256 bits (a shorter one is only logged).
MIN_SECRET_BYTES = 32
EMBEDDED_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/zerocancer"
EMBEDDED_FRONTEND_URL = "http://localhost:3000"

#: Access-token lifetime for user, center and staff logins and for every refresh (auth.md 2.1).
ACCESS_TOKEN_TTL = 300
#: Access-token lifetime issued by admin login only.
ADMIN_ACCESS_TOKEN_TTL = 28_800
#: Refresh-token and refresh-cookie lifetime (sliding: each refresh issues a new one).
REFRESH_TOKEN_TTL = 604_800

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class SettingsError(Exception):
    """The environment cannot run an edge; the message says what to set."""


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _partner_keys(raw: str) -> tuple[tuple[str, str], ...]:
    keys: list[tuple[str, str]] = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, key = item.partition("=")
        if not sep or not name.strip() or not key.strip():
            raise SettingsError("PARTNER_API_KEYS must look like name=key,name=key")
        keys.append((name.strip(), key.strip()))
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    database_url: str
    jwt_token_secret: str
    frontend_url: str
    jwt_token_secret_previous: str | None = None
    cron_api_key: str | None = None
    partner_api_keys: tuple[tuple[str, str], ...] = ()
    auth_cookie_secure: bool = True
    redis_url: str | None = None
    broker_url: str | None = None
    edge_relay: bool = True
    embedded: bool = False
    access_token_ttl: int = ACCESS_TOKEN_TTL
    admin_access_token_ttl: int = ADMIN_ACCESS_TOKEN_TTL
    refresh_token_ttl: int = REFRESH_TOKEN_TTL
    #: Names of the embedded defaults in use, for the start-up log line.
    defaults_in_use: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EdgeSettings:
        """Reads the environment; raises `SettingsError` with a clear message when it can't run."""
        embedded = _flag(environ, "ZEROCANCER_EMBEDDED", False)
        defaults: list[str] = []

        def required(name: str, embedded_default: str) -> str:
            value = environ.get(name, "").strip()
            if value:
                return value
            if embedded:
                defaults.append(name)
                return embedded_default
            raise SettingsError(
                f"{name} is not set. Set it, or run with ZEROCANCER_EMBEDDED=1 "
                "(zerocancer dev) to use the embedded development defaults."
            )

        database_url = required("DATABASE_URL", EMBEDDED_DATABASE_URL)
        secret = required("JWT_TOKEN_SECRET", EMBEDDED_JWT_SECRET)
        if not embedded and secret in PLACEHOLDER_SECRETS:
            raise SettingsError(
                "JWT_TOKEN_SECRET is a default or placeholder value; refusing to sign tokens "
                "with it outside embedded mode. Set a long random secret "
                "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)."
            )
        frontend_url = required("FRONTEND_URL", EMBEDDED_FRONTEND_URL).rstrip("/")
        return cls(
            database_url=database_url,
            jwt_token_secret=secret,
            jwt_token_secret_previous=environ.get("JWT_TOKEN_SECRET_PREVIOUS", "").strip() or None,
            frontend_url=frontend_url,
            cron_api_key=environ.get("CRON_API_KEY", "").strip() or None,
            partner_api_keys=_partner_keys(environ.get("PARTNER_API_KEYS", "")),
            auth_cookie_secure=_flag(environ, "AUTH_COOKIE_SECURE", True),
            redis_url=environ.get("REDIS_URL", "").strip() or None,
            broker_url=environ.get("BROKER_URL", "").strip() or None,
            edge_relay=_flag(environ, "EDGE_RELAY", True),
            embedded=embedded,
            defaults_in_use=tuple(defaults),
        )

    def log_summary(self) -> None:
        """Logs what start-up operators need to know, never a secret value."""
        if self.defaults_in_use:
            log.warning(
                "embedded mode: using development defaults for %s; never serve production "
                "like this",
                ", ".join(self.defaults_in_use),
            )
        if len(self.jwt_token_secret.encode()) < MIN_SECRET_BYTES:
            log.warning(
                "JWT_TOKEN_SECRET is shorter than %d bytes; HS256 wants at least that many",
                MIN_SECRET_BYTES,
            )
        if self.cron_api_key is None:
            log.warning("CRON_API_KEY is not set: the cron trigger endpoints are disabled (401)")
        if not self.auth_cookie_secure:
            log.warning("AUTH_COOKIE_SECURE=false: refresh cookie sent without Secure (dev only)")
        if self.redis_url is None:
            log.info("REDIS_URL is not set: login throttling state is kept per process")
