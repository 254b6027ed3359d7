"""bcrypt password hashing compatible with the reference's bcryptjs (auth.md 2.5).

- Cost 10, `$2b$`; `$2a$`, `$2b$` and `$2y$` hashes verify (existing rows).
- The password is UTF-8 encoded and truncated to its first 72 bytes before hashing and before
  verifying: bcryptjs truncates silently, and pyca/bcrypt >= 5 raises instead, so without the
  cut a long password that works today would stop working.
- Hashing costs ~50-100 ms of CPU, so it runs in the default thread pool, never on the loop.
- Verifying against a missing account still runs bcrypt on a fixed dummy hash, so the answer's
  timing does not tell whether the account exists (D-AUTH-5).
"""

from __future__ import annotations

import asyncio
import secrets

import bcrypt

#: bcrypt cost of the reference (bcryptjs `hash(password, 10)`).
BCRYPT_COST = 10
#: bcrypt reads at most this many bytes of the password.
MAX_PASSWORD_BYTES = 72

_dummy_hash: bytes | None = None


def password_bytes(password: str) -> bytes:
    return password.encode("utf-8")[:MAX_PASSWORD_BYTES]


def hash_password_sync(password: str, *, rounds: int = BCRYPT_COST) -> str:
    return bcrypt.hashpw(password_bytes(password), bcrypt.gensalt(rounds, prefix=b"2b")).decode()


def verify_password_sync(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password_bytes(password), password_hash.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        # Not a bcrypt hash (e.g. the system user's unusable value): nothing can match it.
        return False


def _verify_dummy(password: str) -> bool:
    # Built on first use, in the worker thread; two threads racing both build a valid one.
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password_sync(secrets.token_hex(16)).encode()
    verify_password_sync(password, _dummy_hash.decode())
    return False


async def hash_password(password: str) -> str:
    """A `$2b$10$` hash of the password's first 72 UTF-8 bytes, computed off the loop."""
    return await asyncio.to_thread(hash_password_sync, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether the password matches; with `None` (no such account) it checks a dummy hash,
    taking the same time, and answers False."""
    if password_hash is None:
        return await asyncio.to_thread(_verify_dummy, password)
    return await asyncio.to_thread(verify_password_sync, password, password_hash)
