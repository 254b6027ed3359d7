"""The contract's JSON envelopes: `{"ok": true, "data": ...}` and the paginated form.

Responses are serialised with `dumps`, which writes datetimes as ISO-8601 UTC with exactly
three fractional digits and `Z` (the production columns are naive UTC TIMESTAMP(3)), enums as
their values and pydantic models by alias, so handlers can hand over rows' values directly.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import ujson
from pydantic import BaseModel
from sanic.response import HTTPResponse
from sanic.response import json as json_response


def iso(moment: datetime) -> str:
    """`2025-07-29T16:38:17.123Z`: naive values are taken as UTC (as the database stores them)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


#: The stdlib encoder `dumps` must match byte for byte (and falls back to).
_STDLIB = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":"))
#: ujson writes floats below 1e-4 with a one-digit exponent (`1e-5`) where the stdlib writes
#: `1e-05`: a negative exponent that ends where a number ends (a delimiter or the end, also
#: with the spaced separators of `edge.logs`) sends the value to the stdlib. Inside a string
#: that shape is rare (a match there only costs the slower encoder); ids like `...3e-4b2c...`
#: do not match. The pattern starts with literal text on purpose: it runs over whole pages,
#: where `\de-\d` took 0.15-0.25 ms.
SHORT_NEGATIVE_EXPONENT = re.compile(r"e-\d+(?:[,}\]]|$)")


def dumps(value: Any, **kwargs: Any) -> str:
    """JSON text for the wire (compact, UTF-8, contract date format).

    Encoded with ujson (a Sanic dependency) when its text is the stdlib's: otherwise (a float
    in exponent notation below 1e-4, or anything ujson refuses) with the stdlib encoder, so the
    text, and the errors, are exactly `json.dumps(value, default=_default, ensure_ascii=False,
    separators=(",", ":"))`'s.
    """
    try:
        text: str = ujson.dumps(
            value, default=_default, ensure_ascii=False, escape_forward_slashes=False
        )
    except Exception:
        return _STDLIB.encode(value)
    if "e-" in text and SHORT_NEGATIVE_EXPONENT.search(text):
        return _STDLIB.encode(value)
    return text


def respond(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> HTTPResponse:
    """A JSON response with the edge's serialiser."""
    return json_response(dict(body), status=status, headers=dict(headers or {}), dumps=dumps)


#: `ok()` without data sends `"data": {}` (as the contract's empty answers do).
_EMPTY: Any = object()


def ok(
    data: Any = _EMPTY,
    message: str | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTTPResponse:
    """`{"ok": true, "message"?: message, "data": data}`; no data is sent as `{}`."""
    body: dict[str, Any] = {"ok": True}
    if message is not None:
        body["message"] = message
    body["data"] = {} if data is _EMPTY else data
    return respond(body, status=status, headers=headers)


def paginated(
    items: Sequence[Any],
    page: int,
    limit: int,
    total: int,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTTPResponse:
    """`{"ok": true, "data": [...], "page", "limit", "total", "totalPages"}`."""
    pages = math.ceil(total / limit) if limit > 0 else 0
    body = {
        "ok": True,
        "data": list(items),
        "page": page,
        "limit": limit,
        "total": total,
        "totalPages": pages,
    }
    return respond(body, status=status, headers=headers)
