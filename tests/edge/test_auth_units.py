"""Tokens, passwords, cookies, API keys and the throttle on plain values (no services)."""

from __future__ import annotations

import time
from dataclasses import replace

import bcrypt
import jwt
import pytest

from edge.auth.api_keys import match_key
from edge.auth.passwords import hash_password, verify_password, verify_password_sync
from edge.auth.throttle import MemoryLimiter, Rule, Throttle
from edge.auth.tokens import (
    Claims,
    TokenError,
    decode,
    decode_access,
    decode_refresh,
    encode,
    issue_tokens,
)
from edge.settings import EdgeSettings

SETTINGS = EdgeSettings(
    database_url="postgresql://unused",
    jwt_token_secret="unit-test-secret-0123456789abcdef-0123",
    frontend_url="http://frontend.test",
    cron_api_key="cron-key",
    partner_api_keys=(("acme", "acme-key"), ("beta", "beta-key")),
)


# -- tokens -------------------------------------------------------------------------------------


def test_issued_tokens_carry_the_reference_claims_plus_typ_iat_and_jti():
    tokens = issue_tokens(SETTINGS, id="u1", email="a@b.co", profile="PATIENT", now=1_700_000_000)
    header = jwt.get_unverified_header(tokens.access)
    assert header == {"alg": "HS256", "typ": "JWT"}
    access = jwt.decode(
        tokens.access,
        SETTINGS.jwt_token_secret,
        algorithms=["HS256"],
        options={"verify_exp": False},
    )
    refresh = jwt.decode(
        tokens.refresh,
        SETTINGS.jwt_token_secret,
        algorithms=["HS256"],
        options={"verify_exp": False},
    )
    assert access == {
        "id": "u1",
        "email": "a@b.co",
        "profile": "PATIENT",
        "typ": "access",
        "iat": 1_700_000_000,
        "exp": 1_700_000_300,
    }
    assert refresh["typ"] == "refresh"
    assert refresh["exp"] - refresh["iat"] == 604_800
    assert len(refresh["jti"]) == 32
    assert int(refresh["jti"], 16) >= 0


def test_staff_tokens_carry_staff_id_and_admin_logins_may_choose_the_access_lifetime():
    tokens = issue_tokens(
        SETTINGS, id="c1", email="s@b.co", profile="CENTER_STAFF", staff_id="s1", access_ttl=28_800
    )
    claims = decode_access(SETTINGS, tokens.access)
    assert claims.staff_id == "s1"
    assert claims.exp - (claims.iat or 0) == 28_800
    assert claims.subject_type == "staff"
    assert claims.subject_id == "s1"


def test_access_and_refresh_tokens_are_not_interchangeable_but_legacy_tokens_are():
    tokens = issue_tokens(SETTINGS, id="u1", email="a@b.co", profile="DONOR")
    with pytest.raises(TokenError):
        decode_access(SETTINGS, tokens.refresh)
    with pytest.raises(TokenError):
        decode_refresh(SETTINGS, tokens.access)
    legacy = jwt.encode(
        {"id": "u1", "email": "a@b.co", "profile": "DONOR", "exp": int(time.time()) + 60},
        SETTINGS.jwt_token_secret,
        algorithm="HS256",
    )
    assert decode_access(SETTINGS, legacy).typ is None
    assert decode_refresh(SETTINGS, legacy).id == "u1"


def test_expired_future_and_foreign_tokens_do_not_verify():
    now = int(time.time())
    expired = Claims(id="u", email="e", profile="PATIENT", exp=now - 1, iat=now - 10)
    future = Claims(id="u", email="e", profile="PATIENT", exp=now + 600, iat=now + 300)
    for claims in (expired, future):
        with pytest.raises(TokenError):
            decode(SETTINGS, encode(SETTINGS, claims))
    other = replace(SETTINGS, jwt_token_secret="another-secret-0123456789abcdef-0123")
    with pytest.raises(TokenError):
        decode(SETTINGS, encode(other, replace(expired, exp=now + 60, iat=now)))
    with pytest.raises(TokenError):
        decode(SETTINGS, "not.a.token")


def test_the_previous_secret_still_verifies_during_rotation():
    old = replace(SETTINGS, jwt_token_secret="old-secret-0123456789abcdef0123-456789")
    token = issue_tokens(old, id="u1", email="a@b.co", profile="ADMIN").access
    rotated = replace(SETTINGS, jwt_token_secret_previous=old.jwt_token_secret)
    assert decode(rotated, token).profile == "ADMIN"
    with pytest.raises(TokenError):
        decode(SETTINGS, token)


# -- passwords ----------------------------------------------------------------------------------


async def test_passwords_hash_with_cost_10_and_2b_prefix():
    hashed = await hash_password("s3cret-pass")
    assert hashed.startswith("$2b$10$")
    assert len(hashed) == 60
    assert await verify_password("s3cret-pass", hashed)
    assert not await verify_password("wrong-pass", hashed)


async def test_passwords_are_cut_at_72_bytes_like_bcryptjs():
    long_password = "é" * 40  # 80 UTF-8 bytes
    hashed = await hash_password(long_password)
    assert await verify_password(long_password, hashed)
    assert await verify_password("é" * 36 + "x", hashed)  # same first 72 bytes


def test_2a_and_2y_hashes_of_existing_rows_verify():
    hashed = bcrypt.hashpw(b"legacy-pass", bcrypt.gensalt(4)).decode()
    for prefix in ("$2a$", "$2y$"):
        assert verify_password_sync("legacy-pass", prefix + hashed[4:])
    assert not verify_password_sync("legacy-pass", "not-a-bcrypt-hash")


async def test_a_missing_account_is_checked_against_a_dummy_hash():
    assert await verify_password("anything", None) is False


# -- API keys -----------------------------------------------------------------------------------


def test_api_keys_match_in_constant_time_and_fail_closed():
    assert match_key(SETTINGS, "cron-key", "cron") == "cron"
    assert match_key(SETTINGS, "cron-kez", "cron") is None
    assert match_key(SETTINGS, None, "cron") is None
    assert match_key(replace(SETTINGS, cron_api_key=None), "cron-key", "cron") is None
    assert match_key(SETTINGS, "beta-key", "partner") == "beta"
    assert match_key(SETTINGS, "cron-key", "partner") is None


# -- throttle -----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_throttle_counts_within_the_window_and_says_when_it_frees_up():
    clock = FakeClock()
    throttle = Throttle(MemoryLimiter(clock))
    rule = Rule("probe", limit=3, window=60)
    for _ in range(3):
        assert await throttle.retry_after(rule, "ip", "a@b.co") is None
        await throttle.hit(rule, "ip", "a@b.co")
        clock.now += 10
    assert await throttle.retry_after(rule, "ip", "a@b.co") == 30
    assert await throttle.retry_after(rule, "ip", "other@b.co") is None
    clock.now += 31
    assert await throttle.retry_after(rule, "ip", "a@b.co") is None
    await throttle.reset(rule, "ip", "a@b.co")
    assert await throttle.limiter.hits(throttle.key(rule, "ip", "a@b.co"), 60) == []


async def test_allow_records_uses_up_to_the_limit():
    throttle = Throttle(MemoryLimiter())
    rule = Rule("emails", limit=2, window=3600)
    assert [await throttle.allow(rule, "acct") for _ in range(3)] == [True, True, False]


async def test_the_redis_limiter_shares_state_and_expires_keys(redis_url):
    from edge.auth.throttle import RedisLimiter

    throttle = Throttle(RedisLimiter(redis_url))
    rule = Rule("unit-redis", limit=2, window=60)
    key_parts = ("ip", f"user-{time.time_ns()}")
    try:
        assert await throttle.allow(rule, *key_parts)
        await throttle.hit(rule, *key_parts)
        retry_after = await throttle.retry_after(rule, *key_parts)
        assert retry_after is not None
        assert 1 <= retry_after <= 60
        assert not await throttle.allow(rule, *key_parts)
        await throttle.reset(rule, *key_parts)
        assert await throttle.retry_after(rule, *key_parts) is None
    finally:
        await throttle.close()


async def test_a_failing_limiter_lets_requests_through():
    class Broken(MemoryLimiter):
        async def hits(self, key: str, window: int) -> list[float]:
            raise ConnectionError("redis down")

        async def add_if_below(self, key: str, window: int, limit: int) -> bool:
            raise ConnectionError("redis down")

    throttle = Throttle(Broken())
    rule = Rule("broken", limit=1, window=60)
    assert await throttle.retry_after(rule, "x") is None
    assert await throttle.allow(rule, "x") is True


def test_every_account_email_names_an_existing_template():
    from pathlib import Path

    from edge.services import emails

    templates = Path(__file__).resolve().parents[2] / "actors" / "emails" / "templates"
    names = [
        value
        for key, value in vars(emails).items()
        if key.isupper() and isinstance(value, str) and not key.startswith("_")
    ]
    assert len(names) == 7
    for name in names:
        assert (templates / name / "subject.txt").is_file(), name
