"""Account helpers shared by the auth services: e-mail identity, lookups, one-time tokens.

E-mail addresses (D-AUTH-18 / D-DM-14): new rows store them trimmed and lower-cased; lookups
compare case-insensitively, and when legacy rows differ only by case the exact match wins.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from actors.contracts.outbox import Requester
from edge.auth.tokens import IssuedTokens
from edge.services import emails
from models.base import utc_now

RowT = TypeVar("RowT", bound=Model)

#: One-time token lifetimes and sizes (auth.md 2.6).
EMAIL_VERIFICATION_TTL = dt.timedelta(hours=24)
USER_RESET_TTL = dt.timedelta(minutes=30)
STAFF_INVITE_TTL = dt.timedelta(days=7)
STAFF_RESET_TTL = dt.timedelta(hours=1)
ADMIN_RESET_TTL = dt.timedelta(hours=1)
HEX64_BYTES = 32
ADMIN_TOKEN_BYTES = 12


def normalise_email(email: str) -> str:
    """How new rows store an e-mail address."""
    return email.strip().lower()


def one_time_token(nbytes: int = HEX64_BYTES) -> str:
    """CSPRNG bytes as lowercase hex (64 chars by default; 24 for admin resets)."""
    return secrets.token_hex(nbytes)


def expires_in(ttl: dt.timedelta) -> dt.datetime:
    return utc_now() + ttl


async def mail_reset_token(
    token_model: type[Model],
    owner: dict[str, str],
    *,
    address: str,
    template: str,
    ttl: dt.timedelta,
    nbytes: int = HEX64_BYTES,
) -> None:
    """Replaces the owner's reset tokens (`owner`: the token model's owner field and id) with a
    new one and queues its e-mail to `address`, in one transaction."""
    token = one_time_token(nbytes)
    async with in_transaction() as conn:
        await token_model.filter(**owner).using_db(conn).delete()
        await token_model.create(**owner, token=token, expires_at=expires_in(ttl), using_db=conn)
        await emails.send_email(
            template, address, {"token": token}, using_db=conn, requested_by=Requester("system")
        )


def is_expired(expires_at: dt.datetime | None) -> bool:
    """NULL never expires (invites); otherwise expired once `expires_at` is not in the future."""
    return expires_at is not None and expires_at <= utc_now()


async def find_by_email(
    model: type[RowT],
    email: str,
    *,
    using_db: BaseDBAsyncClient | None = None,
    **filters: Any,
) -> RowT | None:
    """The row with this e-mail (case-insensitive; an exact match wins among legacy twins)."""
    email = email.strip()
    query = model.filter(email__iexact=email, **filters)
    if using_db is not None:
        query = query.using_db(using_db)
    rows = await query.limit(10)
    for row in rows:
        if getattr(row, "email", None) == email:
            return row
    return rows[0] if rows else None


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A successful login: who (as the response shows it) and the tokens to hand out."""

    account_id: str
    email: str
    full_name: str | None
    profile: str
    tokens: IssuedTokens
    center_id: str | None = None
