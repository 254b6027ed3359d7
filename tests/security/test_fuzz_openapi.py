"""Fuzzing the served API: no input may make the edge fail (5xx) or answer outside its document.

Three layers, all against the security edge (conftest.py) and its served OpenAPI document:

1. `test_fuzz_operation`: schemathesis (4.x) generates requests from the document, positive
   (inputs that fit it) and negative (inputs that do not) for every operation, sent with a
   credential the operation's guard accepts (matrix_table.py says which) so the requests reach
   the handlers. Bounded and reproducible: `MAX_EXAMPLES` per operation, hypothesis
   `derandomize=True`, no example database, no shrinking. Checks: schemathesis'
   `not_a_server_error` and the response-conformance checks against the document, plus a JSON
   envelope for JSON routes. Job-backed operations may answer 503 with `Retry-After` (no worker
   runs here); that is the contract, not a failure.
2. `test_hostile_path_parameters`: fixed nasty values (NUL, traversal, very long, emoji, SQL,
   invalid UTF-8) in every path parameter.
3. `test_hostile_strings_in_queries_and_bodies`: a NUL byte (and invalid UTF-8 for queries) in
   each known query parameter, and in each string field of a valid JSON body.

The document declares few query parameters and bodies, so layers 2 and 3 carry the inputs the
generator cannot know about. Database state: one world per module (world.py) on a truncated
database; examples may add rows, but no check depends on what earlier examples left.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.harness.processes import Process
from tests.sandbox.paystack import PaystackSandbox
from tests.security.conftest import NO_WAIT, reset_database
from tests.security.matrix_table import ANY_TOKEN, CRON, PUBLIC, ROWS, SIGNED, Row
from tests.security.world import KIND, ROLES, World, build_world

#: Generated requests per operation (positive and negative together).
MAX_EXAMPLES = 12
#: Operations not fuzzed: an SSE stream stays open until its credential expires.
NOT_FUZZED = {"GET /api/v1/notifications/stream": "server-sent events: a long-lived stream"}
#: Routes of the router that are not in the document (the documentation UI).
DOCS_UI_PREFIX = "/docs"

CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Holes found by this module, by (operation, layer); each case is a strict xfail. The NUL-byte
# 500s it found on 35 operations are closed by edge/input_guard.py, so none is open.
HOLES: dict[tuple[str, str], str] = {}


def first_row(key: str) -> Row:
    return next(row for row in ROWS if row.key == key)


OPERATION_KEYS = sorted(
    {row.key for row in ROWS if not row.path.startswith(DOCS_UI_PREFIX)} - set(NOT_FUZZED)
)


def caller(row: Row) -> str:
    """A role the row's guard lets through (admins first: they reach the most handlers)."""
    if row.guard in (PUBLIC, SIGNED):
        return "anonymous"
    if row.guard == CRON:
        return "cron_key"
    if row.guard == ANY_TOKEN:
        return "admin"
    assert isinstance(row.guard, frozenset)
    if "admin" in row.guard:
        return "admin"
    return next(role for role in ROLES if KIND.get(role) in row.guard and role not in row.expect)


def may_be_unavailable(row: Row) -> bool:
    """Job-backed: 503 with Retry-After while no worker is alive is the contract."""
    return 503 in row.expected(caller(row))


def header(headers: Any, name: str) -> str:
    """One header of an httpx response or of a schemathesis one (values in lists)."""
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return ""


def assert_no_failure(row: Row, status: int, headers: Any, text: str, where: str) -> None:
    if status == 503 and may_be_unavailable(row):
        assert header(headers, "retry-after"), f"{where}: 503 without Retry-After"
        return
    assert status < 500, f"{where}: {status} {text[:300]}"


def assert_json_envelope(row: Row, status: int, headers: Any, text: str, where: str) -> None:
    content_type = header(headers, "content-type")
    if row.json_response or (status >= 400 and row.guard != SIGNED):
        assert content_type.startswith("application/json"), f"{where}: {status} {content_type}"


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
async def fuzz_world(
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


@pytest.fixture(scope="module")
async def served_schema(sclient: httpx.AsyncClient) -> Any:
    document = (await sclient.get("/docs/openapi.json")).json()
    return schemathesis.openapi.from_dict(document)


def params(keys: list[str], holes: dict[tuple[str, str], str], kind: str) -> Iterator[Any]:
    for key in keys:
        reason = holes.get((key, kind))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(key, id=key, marks=marks)


# ---------------------------------------------------------------------------------------------
# 1. schemathesis


def strategy_for(operation: Any) -> Any:
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    has_inputs = any(
        len(list(container))
        for container in (
            operation.path_parameters,
            operation.query,
            operation.headers,
            operation.body,
        )
    )
    if not has_inputs:
        return positive
    return st.one_of(positive, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))


@pytest.mark.parametrize("key", list(params(OPERATION_KEYS, HOLES, "generated")))
def test_fuzz_operation(
    key: str, served_schema: Any, fuzz_world: World, security_edge: Process
) -> None:
    row = first_row(key)
    method, path = key.split(" ", 1)
    operation = served_schema[path][method]
    headers = {**fuzz_world.headers(caller(row)), **NO_WAIT}

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy_for(operation))
    def fuzz(case: Case) -> None:
        response = case.call(base_url=security_edge.url, headers=headers, timeout=20)
        where = f"{key} {case.formatted_path} body={case.body!r:.200}"
        assert_no_failure(row, response.status_code, response.headers, response.text, where)
        assert_json_envelope(row, response.status_code, response.headers, response.text, where)
        checks = CHECKS if response.status_code == 503 else [not_a_server_error, *CHECKS]
        case.validate_response(response, checks=checks, headers=headers)

    fuzz()


# ---------------------------------------------------------------------------------------------
# 2. hostile path parameters

HOSTILE_SEGMENTS = {
    "nul": "%00",
    "traversal": "..%2F..%2F..%2Fetc%2Fpasswd",
    "long": "a" * 4096,
    "emoji": "%F0%9F%98%80",
    "invalid utf-8": "%FF%FE",
    "sql": "%27%20OR%20%271%27%3D%271",
    "negative number": "-1",
    "huge number": "9" * 40,
    "json": "%7B%22%24ne%22%3Anull%7D",
    "uuid-like": "00000000-0000-0000-0000-000000000000",
}


def with_segment(row: Row, world: World, role: str, param: str, value: str) -> str:
    """The row's path with `value` as `param` and the world's resources for the others."""
    path = row.path
    for name, resource in {**row.ids, **row.own_ids.get(role, {})}.items():
        if name != param:
            path = path.replace("{" + name + "}", world.ids[resource])
    return path.replace("{" + param + "}", value)


PATH_KEYS = sorted(
    {row.key for row in ROWS if "{" in row.path and not row.path.startswith(DOCS_UI_PREFIX)}
    - set(NOT_FUZZED)
)


@pytest.mark.parametrize("key", list(params(PATH_KEYS, HOLES, "path")))
async def test_hostile_path_parameters(
    key: str, fuzz_world: World, sclient: httpx.AsyncClient
) -> None:
    row = first_row(key)
    role = caller(row)
    failures = {}
    for param in [p.strip("{}") for p in row.path.split("/") if p.startswith("{")]:
        for name, value in HOSTILE_SEGMENTS.items():
            url = with_segment(row, fuzz_world, role, param, value)
            kwargs: dict[str, Any] = {"headers": fuzz_world.headers(role)}
            if row.body is not None:
                kwargs["json"] = row.body(fuzz_world, role)
            response = await sclient.request(row.method, httpx.URL(url), **kwargs)
            try:
                where = f"{param}={name}"
                assert_no_failure(row, response.status_code, response.headers, response.text, where)
                assert_json_envelope(
                    row, response.status_code, response.headers, response.text, where
                )
            except AssertionError as error:
                failures[f"{param}={name}"] = str(error)
    assert failures == {}


# ---------------------------------------------------------------------------------------------
# 3. hostile strings in queries and JSON bodies

#: Query parameters some route reads (the document does not declare them).
QUERY_NAMES = (
    "search",
    "state",
    "lga",
    "status",
    "type",
    "screeningType",
    "centerId",
    "patientId",
    "campaignId",
    "userId",
    "actor",
    "queue",
    "level",
    "dateFrom",
    "dateTo",
    "startDate",
    "endDate",
    "from",
    "to",
    "before",
    "period",
    "demandOrder",
    "profileType",
    "isDonation",
    "emailSent",
    "batchReference",
    "format",
    "lastEventId",
    "variant",
)
QUERY_VALUES = {"nul": "a%00b", "invalid utf-8": "%C3%28"}

#: Valid bodies for routes the matrix calls with `{}` (their handlers need real fields).
BODY_TEMPLATES: dict[str, dict[str, Any]] = {
    "POST /api/v1/auth/login": {"email": "a@example.com", "password": "long-enough-1"},
    "POST /api/v1/admin/login": {"email": "a@example.com", "password": "long-enough-1"},
    "POST /api/v1/center/staff/login": {
        "centerId": "c",
        "email": "a@example.com",
        "password": "long-enough-1",
    },
    "POST /api/v1/register/patient": {
        "fullName": "Ada Obi",
        "email": "fuzz-patient@example.com",
        "password": "long-enough-1",
        "phone": "08030000000",
        "gender": "female",
        "dateOfBirth": "1990-05-17",
        "state": "Lagos",
        "localGovernment": "Ikeja",
    },
    "POST /api/v1/register/donor": {
        "fullName": "Chidi Okafor",
        "email": "fuzz-donor@example.com",
        "password": "long-enough-1",
        "phone": "08030000000",
        "organization": "Org",
        "country": "Nigeria",
    },
    "POST /api/v1/register/center": {
        "centerName": "Fuzz Center",
        "email": "fuzz-center@example.com",
        "password": "long-enough-1",
        "phoneNumber": "08030000000",
        "address": "1 Road",
        "state": "Lagos",
        "localGovernment": "Ikeja",
        "services": [],
    },
    "POST /api/v1/payouts/manual": {
        "centerId": "c",
        "amount": 100,
        "transactionIds": ["t"],
        "reason": "r",
    },
}


def body_for(row: Row, world: World, role: str) -> Any:
    if row.key in BODY_TEMPLATES:
        return copy.deepcopy(BODY_TEMPLATES[row.key])
    return row.body(world, role) if row.body is not None else None


def string_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_paths(item, (*path, index))


def replaced(value: Any, path: tuple[Any, ...], new: str) -> Any:
    result = copy.deepcopy(value)
    target = result
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return result


STRING_KEYS = sorted(
    {row.key for row in ROWS if not row.path.startswith(DOCS_UI_PREFIX) and row.guard != SIGNED}
    - set(NOT_FUZZED)
)


@pytest.mark.parametrize("key", list(params(STRING_KEYS, HOLES, "strings")))
async def test_hostile_strings_in_queries_and_bodies(
    key: str, fuzz_world: World, sclient: httpx.AsyncClient
) -> None:
    row = first_row(key)
    role = caller(row)
    headers = fuzz_world.headers(role)
    url = row.url(fuzz_world, role)
    failures = {}

    async def probe(where: str, target: str | httpx.URL, body: Any) -> None:
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
        response = await sclient.request(row.method, target, **kwargs)
        try:
            assert_no_failure(row, response.status_code, response.headers, response.text, where)
            assert_json_envelope(row, response.status_code, response.headers, response.text, where)
        except AssertionError as error:
            failures[where] = str(error)

    template = body_for(row, fuzz_world, role)
    if row.method == "GET":
        for name in QUERY_NAMES:
            for label, value in QUERY_VALUES.items():
                await probe(f"?{name}={label}", httpx.URL(f"{url}?{name}={value}"), None)
    else:
        for path in string_paths(template):
            await probe(f"body{list(path)}=NUL", url, replaced(template, path, "x\x00y"))
    assert failures == {}
