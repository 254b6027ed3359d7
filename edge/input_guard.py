"""Refuses NUL characters anywhere in a request's path, query or JSON body, with a 400.

PostgreSQL cannot store U+0000 in text, so a NUL that reached a query would fail there as a
500; refusing it once at the door covers every route and every field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from sanic import Request, Sanic

from edge.errors import ValidationFailed
from edge.validation import refuse_nul_in_json

#: What a NUL looks like in a raw path or query: percent-encoded or raw.
_ENCODED_NUL = (b"%00", b"\x00")


def nul_in_url(request: Request) -> str | None:
    """The part of the URL that carries a NUL ('path', 'query'), or None."""
    if b"\x00" in unquote_to_bytes(request.path):
        return "path"
    if any(marker in request.query_string.encode() for marker in _ENCODED_NUL):
        return "query"
    return None


def setup_input_guard(app: Sanic[Any, Any]) -> None:
    def refuse_nul(request: Request) -> None:
        part = nul_in_url(request)
        if part is not None:
            raise ValidationFailed(f"The request {part} contains a NUL character")
        # Streaming routes read their body later and check it in json_body.
        if "json" in (request.content_type or "") and request.body:
            refuse_nul_in_json(request.body)

    # After the request id (priority 1000) so the refusal is logged with it.
    app.register_middleware(refuse_nul, "request", priority=800)
