"""Who may call what: every served operation x every role, with other users' resource ids.

The table (matrix_table.py) must have a row for every operation of the served OpenAPI document
and for every route of the app's router (the docs UI routes are in the router only): a route
added without a row fails `test_the_table_covers_every_*`. Each (row, role) is one case; holes
found in the code are strict xfails naming the defect and its location.

One world (world.py) is built per module on a freshly truncated database; every request goes to
the security edge (conftest.py) through a client that keeps no cookies.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from edge.app import create_app
from tests.conftest import TEST_ENV
from tests.sandbox.paystack import PaystackSandbox
from tests.security.conftest import reset_database
from tests.security.matrix_table import ANONYMOUS, ANY_TOKEN, CRON, PUBLIC, ROWS, SIGNED, Row
from tests.security.world import KIND, ROLES, World, build_world

#: Routes of the router that the OpenAPI document leaves out (the documentation UI itself).
DOCS_UI = frozenset(
    {
        "GET /docs",
        "GET /docs/redoc",
        "GET /docs/openapi.json",
    }
)
_PARAM = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)(?::[^>]*)?>")


@pytest.fixture(scope="module")
async def world(
    orm: None,
    database_url: str,
    security_storage: Any,
    paystack_sandbox: PaystackSandbox,
    sclient: httpx.AsyncClient,
) -> World:
    await reset_database(database_url)
    paystack_sandbox.reset()
    paystack_sandbox.webhook_url = None
    return await build_world(security_storage, paystack_sandbox)


async def send(
    client: httpx.AsyncClient,
    world: World,
    row: Row,
    role: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """The row's request as `role` (with other credentials when `headers` is given)."""
    headers = world.headers(role) if headers is None else dict(headers)
    kwargs: dict[str, Any] = {"headers": headers, "params": dict(row.query)}
    if row.body is not None:
        kwargs["json"] = row.body(world, role)
    elif row.content is not None:
        kwargs["content"] = row.content
        headers["content-type"] = "application/json"
    url = row.url(world, role)
    if row.stream:
        async with client.stream(row.method, url, **kwargs) as streamed:
            # The status line and headers are the answer; an event stream is left unread.
            if streamed.status_code != 200:
                await streamed.aread()
                return httpx.Response(
                    streamed.status_code, headers=streamed.headers, content=streamed.content
                )
            return httpx.Response(streamed.status_code, headers=streamed.headers)
    return await client.request(row.method, url, **kwargs)


# ---------------------------------------------------------------------------------------------
# The table covers the app


def table_keys() -> set[str]:
    return {row.key for row in ROWS}


def router_operations() -> set[str]:
    app = create_app(name="zerocancer-security-routes")
    found = set()
    for route in app.router.routes:
        path = _PARAM.sub(r"{\1}", route.uri if route.uri.startswith("/") else "/" + route.uri)
        found.update(f"{method} {path}" for method in route.methods)
    return found


async def test_the_table_covers_every_operation_of_the_served_document(
    sclient: httpx.AsyncClient,
) -> None:
    document = (await sclient.get("/docs/openapi.json")).json()
    served = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert served - table_keys() == set(), "operations without a row in matrix_table.py"
    assert table_keys() - served - DOCS_UI == set(), "rows for operations no longer served"


def test_the_table_covers_every_route_of_the_router() -> None:
    routes = router_operations()
    assert routes - table_keys() == set(), "routes without a row in matrix_table.py"
    assert table_keys() - routes == set(), "rows for routes that no longer exist"


def test_every_row_names_its_parameters_and_expectations() -> None:
    for row in ROWS:
        for param in re.findall(r"{([^}]+)}", row.path):
            every = [row.own_ids.get(role, {}).get(param) or row.ids.get(param) for role in ROLES]
            assert all(every), f"{row.name}: no resource for {{{param}}}"
        for role in ROLES:
            assert row.expected(role), f"{row.name}: no expectation for {role}"
        assert set(row.holes) <= set(ROLES)
        assert set(row.expect) <= set(ROLES)
    names = [row.name for row in ROWS]
    assert len(names) == len(set(names)), "duplicate rows"


# ---------------------------------------------------------------------------------------------
# The matrix


def cases() -> Iterator[Any]:
    for row in ROWS:
        for role in ROLES:
            marks = []
            if role in row.holes:
                marks.append(pytest.mark.xfail(strict=True, reason=row.holes[role]))
            yield pytest.param(row, role, id=f"{row.name} | {role}", marks=marks)


def guarded(row: Row) -> bool:
    return row.guard not in (PUBLIC, CRON, SIGNED)


def assert_guard_answer(row: Row, role: str, response: httpx.Response) -> None:
    """The guard's own 401/403 bodies (auth.md 2.4) where the guard is what refused."""
    if not guarded(row) or role in row.expect:
        return
    refused_by_guard = role in ANONYMOUS or (
        isinstance(row.guard, frozenset) and KIND[role] not in row.guard
    )
    if not refused_by_guard:
        return
    body = response.json()
    if response.status_code == 401:
        assert body["ok"] is False
        assert body["err_code"] in ("invalid_request", "invalid_token")
        assert response.headers["www-authenticate"].startswith("Bearer ")
    else:
        assert response.status_code == 403
        assert body == {
            "ok": False,
            "message": "Forbidden: actor mismatch",
            "error": "Forbidden: actor mismatch",
        }


@pytest.mark.parametrize(("row", "role"), list(cases()))
async def test_matrix(row: Row, role: str, world: World, sclient: httpx.AsyncClient) -> None:
    response = await send(sclient, world, row, role)
    status = response.status_code
    expected = row.expected(role)
    assert status in expected, (
        f"{row.name} as {role}: expected {expected}, got {status}: {response.text[:400]}"
    )
    if status == 503:
        assert response.headers.get("retry-after"), "503 without Retry-After"
    content_type = response.headers.get("content-type", "")
    if row.json_response or (status >= 400 and row.guard != SIGNED):
        assert content_type.startswith("application/json"), content_type
    assert_guard_answer(row, role, response)
    if row.check is not None and 200 <= status < 300:
        row.check(world, role, response)


# ---------------------------------------------------------------------------------------------
# Tokens that must never pass a guard


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bad_tokens(world: World, role: str) -> dict[str, dict[str, str]]:
    """Credentials of `role`'s account that the guard must refuse with 401."""
    good = world.tokens[role]["Authorization"].split()[1]
    claims = jwt.decode(good, options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    forged = jwt.encode(claims, "another-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    future = jwt.encode(
        {**claims, "iat": int(time.time()) + 3600},
        world.secret,
        algorithm="HS256",
    )
    return {
        "expired": world.bearer(role, ttl=-60),
        "refresh token as bearer (D-AUTH-3)": world.bearer(role, typ="refresh"),
        "wrong secret": {"Authorization": f"Bearer {forged}"},
        "alg none": {"Authorization": f"Bearer {unsigned}"},
        "issued in the future": {"Authorization": f"Bearer {future}"},
        "tampered payload": {
            "Authorization": "Bearer "
            + ".".join(
                [good.split(".")[0], _b64({**claims, "exp": claims["exp"] + 1}), good.split(".")[2]]
            )
        },
        "three words": {"Authorization": f"Bearer {good} extra"},
        "empty": {"Authorization": ""},
    }


def allowed_role(row: Row) -> str:
    if row.guard == ANY_TOKEN:
        return "admin"
    assert isinstance(row.guard, frozenset)
    return next(role for role in ROLES if KIND.get(role) in row.guard and role not in row.expect)


@pytest.mark.parametrize("row", [row for row in ROWS if guarded(row)], ids=lambda row: row.name)
async def test_bad_tokens_are_refused_with_401(
    row: Row, world: World, sclient: httpx.AsyncClient
) -> None:
    role = allowed_role(row)
    refused = {}
    for name, headers in bad_tokens(world, role).items():
        response = await send(sclient, world, row, role, headers)
        refused[name] = response.status_code
    assert refused == dict.fromkeys(refused, 401), refused


@pytest.mark.parametrize(
    "row",
    [row for row in ROWS if isinstance(row.guard, frozenset)],
    ids=lambda row: row.name,
)
async def test_a_token_without_profile_is_forbidden(
    row: Row, world: World, sclient: httpx.AsyncClient
) -> None:
    """auth.md 2.4 step 3: a valid token whose profile is missing is 403, not 401 nor a pass."""
    role = allowed_role(row)
    claims = jwt.decode(
        world.tokens[role]["Authorization"].split()[1], options={"verify_signature": False}
    )
    claims.pop("profile")
    token = jwt.encode(claims, world.secret, algorithm="HS256")
    response = await send(sclient, world, row, role, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 403, response.text


# ---------------------------------------------------------------------------------------------
# Cookie credentials: only a refresh token, only where the contract reads the cookie


def cookie(token_headers: dict[str, str]) -> dict[str, str]:
    return {"Cookie": f"refreshToken={token_headers['Authorization'].split()[1]}"}


async def status_of(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str]
) -> int:
    async with client.stream(method, url, headers=headers) as response:
        return response.status_code


async def test_the_refresh_cookie_opens_only_the_cookie_routes(
    world: World, sclient: httpx.AsyncClient
) -> None:
    """receipts.md 6.2 (PDF download) and notifications.md 3.4 (stream) read the refresh
    cookie; an access token in the cookie, or the cookie on any other route, is no credential."""
    refresh = cookie(world.bearer("patient", typ="refresh", ttl=600))
    access = cookie(world.bearer("patient", ttl=600))
    other = cookie(world.bearer("other_patient", typ="refresh", ttl=600))
    pdf = f"/api/receipts/{world.ids['tx_appt']}/pdf"
    stream = "/api/v1/notifications/stream"
    me = "/api/v1/auth/me"
    answers = {
        "pdf with refresh cookie": await status_of(sclient, "GET", pdf, refresh),
        "pdf with access token as cookie": await status_of(sclient, "GET", pdf, access),
        "pdf with another patient's cookie": await status_of(sclient, "GET", pdf, other),
        "stream with refresh cookie": await status_of(sclient, "GET", stream, refresh),
        "stream with access token as cookie": await status_of(sclient, "GET", stream, access),
        "me with refresh cookie": await status_of(sclient, "GET", me, refresh),
    }
    assert answers == {
        "pdf with refresh cookie": 200,
        "pdf with access token as cookie": 401,
        "pdf with another patient's cookie": 404,
        "stream with refresh cookie": 200,
        "stream with access token as cookie": 401,
        "me with refresh cookie": 401,
    }


async def test_a_logged_out_refresh_cookie_no_longer_opens_the_stream(
    world: World, sclient: httpx.AsyncClient
) -> None:
    refresh = cookie(world.bearer("other_patient", typ="refresh", ttl=600))
    stream = "/api/v1/notifications/stream"
    assert await status_of(sclient, "GET", stream, refresh) == 200

    logout = await sclient.post("/api/v1/auth/logout", headers=refresh)

    assert logout.status_code == 200
    assert await status_of(sclient, "GET", stream, refresh) == 401
    refreshed = await sclient.post("/api/v1/auth/refresh", headers=refresh)
    assert refreshed.status_code == 403


# ---------------------------------------------------------------------------------------------
# Signed download links (appointments.md 3.4, 4.20)


def file_link(
    file_id: str, *, scope: str, expires: int | None = None, key: bytes | None = None
) -> str:
    from edge.storage import derive_signing_key, sign

    key = key or derive_signing_key(TEST_ENV["JWT_TOKEN_SECRET"])
    expires = int(time.time()) + 600 if expires is None else expires
    signature = sign(key, file_id, expires, scope)
    return (
        f"/api/v1/appointment/files/{file_id}/content"
        f"?expires={expires}&scope={scope}&signature={signature}"
    )


async def test_signed_links_are_bound_to_file_scope_and_time(
    world: World, sclient: httpx.AsyncClient
) -> None:
    live, deleted = world.ids["file_view"], world.ids["file_deleted_stable"]
    good = file_link(live, scope="active")
    other_file = good.replace(live, world.ids["file_delete_center"])
    widened = file_link(deleted, scope="active").replace("scope=active", "scope=all")
    answers = {
        "valid": (await sclient.get(good)).status_code,
        "used for another file": (await sclient.get(other_file)).status_code,
        "expired": (await sclient.get(file_link(live, scope="active", expires=1))).status_code,
        "wrong key": (
            await sclient.get(file_link(live, scope="active", key=b"not-the-signing-key"))
        ).status_code,
        "scope widened by hand": (await sclient.get(widened)).status_code,
        "deleted file, active scope": (
            await sclient.get(file_link(deleted, scope="active"))
        ).status_code,
        "deleted file, all scope": (await sclient.get(file_link(deleted, scope="all"))).status_code,
        "unknown scope": (await sclient.get(file_link(live, scope="admin"))).status_code,
        "signature without expiry": (
            await sclient.get(good.split("?")[0] + "?scope=active&signature=00")
        ).status_code,
    }
    assert answers == {
        "valid": 200,
        "used for another file": 403,
        "expired": 403,
        "wrong key": 403,
        "scope widened by hand": 403,
        "deleted file, active scope": 404,
        "deleted file, all scope": 200,
        "unknown scope": 403,
        "signature without expiry": 403,
    }


# ---------------------------------------------------------------------------------------------
# Origins and mass assignment


@pytest.mark.parametrize("method", ["OPTIONS", "GET"])
async def test_cors_answers_only_the_frontend_origin(
    method: str, world: World, sclient: httpx.AsyncClient
) -> None:
    """auth.md 2.3: one origin with credentials; other origins get no Allow-Origin."""
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    extra = preflight if method == "OPTIONS" else world.headers("patient")
    frontend = TEST_ENV["FRONTEND_URL"]
    trusted = await sclient.request(
        method, "/api/v1/auth/me", headers={"Origin": frontend, **extra}
    )
    evil = await sclient.request(
        method, "/api/v1/auth/me", headers={"Origin": "https://evil.example", **extra}
    )
    assert trusted.headers.get("access-control-allow-origin") == frontend
    assert trusted.headers.get("access-control-allow-credentials") == "true"
    assert "access-control-allow-origin" not in evil.headers
    assert "access-control-allow-credentials" not in evil.headers


async def test_campaign_updates_ignore_fields_the_donor_may_not_set(
    world: World, sclient: httpx.AsyncClient
) -> None:
    """Mass assignment: owner, status and money are not writable through the update body."""
    from models.campaigns import DonationCampaign

    campaign_id = world.ids["campaign_a"]
    before = await DonationCampaign.get(id=campaign_id)
    response = await sclient.patch(
        f"/api/v1/donor/campaigns/{campaign_id}",
        headers=world.headers("donor"),
        json={
            "campaignId": campaign_id,
            "title": "Still mine",
            "donorId": world.accounts["other_donor"].id,
            "status": "COMPLETED",
            "totalAmount": 10**9,
            "availableAmount": 10**9,
            "id": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert response.status_code == 200, response.text
    after = await DonationCampaign.get(id=campaign_id)
    assert after.title == "Still mine"
    assert (after.donor_id, after.status) == (before.donor_id, before.status)
    assert (after.total_amount, after.available_amount) == (
        before.total_amount,
        before.available_amount,
    )
