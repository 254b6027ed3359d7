"""Bounded streaming `multipart/form-data` reader for result uploads (appointments.md §4.7).

Sanic would otherwise buffer the whole body in memory before the handler runs; the upload route
is a streaming route instead and feeds the body through `MultipartReader`, which yields one part
at a time and hands file bytes to the caller in chunks as they arrive.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

#: Longest header block accepted for one part.
MAX_PART_HEADER_BYTES = 16 * 1024


class MultipartError(Exception):
    """The body is not well-formed multipart data."""


@dataclass(frozen=True, slots=True)
class PartHeaders:
    name: str
    filename: str | None
    content_type: str | None


_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a `multipart/form-data` content type, or None."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    match = _BOUNDARY.search(content_type)
    if not match:
        return None
    value = match.group(1) or match.group(2)
    if not value or len(value) > 200:
        return None
    return value.encode("latin-1")


def _parse_disposition(value: str) -> dict[str, str]:
    """Parameters of a Content-Disposition header (quoted strings, `filename*` UTF-8 form)."""
    from urllib.parse import unquote

    params: dict[str, str] = {}
    for match in re.finditer(r';\s*([A-Za-z0-9_*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', value):
        key = match.group(1).lower()
        raw = match.group(2).strip()
        if raw.startswith('"') and raw.endswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if key == "filename*":
            _, _, encoded = raw.partition("''")
            params["filename"] = unquote(encoded or raw, encoding="utf-8", errors="replace")
            continue
        params.setdefault(key, raw)
    return params


class MultipartReader:
    """Reads parts from a chunk source: `next_part()`, then `read()` until it returns None."""

    def __init__(self, read: Callable[[], Awaitable[bytes | None]], boundary: bytes) -> None:
        self._read = read
        # Every delimiter after the first is `CRLF--boundary`; seeding the buffer with CRLF
        # lets the first one (at the very start of the body) match the same way.
        self._buffer = bytearray(b"\r\n")
        self._delimiter = b"\r\n--" + boundary
        self._eof = False
        self._state = "preamble"  # preamble -> (headers -> body)* -> done

    async def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = await self._read()
        if chunk is None:
            self._eof = True
            return False
        self._buffer.extend(chunk)
        return True

    async def _skip_to_delimiter(self) -> None:
        while True:
            index = self._buffer.find(self._delimiter)
            if index >= 0:
                del self._buffer[: index + len(self._delimiter)]
                return
            keep = len(self._delimiter) - 1
            if len(self._buffer) > keep:
                del self._buffer[: len(self._buffer) - keep]
            if not await self._fill():
                raise MultipartError("multipart boundary not found")

    async def _after_delimiter(self) -> bool:
        """Consumes what follows a delimiter: True when a part follows, False at the end."""
        while len(self._buffer) < 2:
            if not await self._fill():
                raise MultipartError("truncated multipart body")
        if self._buffer[:2] == b"--":
            self._state = "done"
            return False
        # Transport padding (spaces/tabs) may precede the line break.
        while True:
            index = self._buffer.find(b"\r\n")
            if index >= 0:
                if self._buffer[:index].strip(b" \t"):
                    raise MultipartError("malformed multipart delimiter")
                del self._buffer[: index + 2]
                return True
            if len(self._buffer) > 1024 or not await self._fill():
                raise MultipartError("malformed multipart delimiter")

    async def next_part(self) -> PartHeaders | None:
        """Headers of the next part, or None after the closing delimiter."""
        if self._state == "body":
            while await self.read() is not None:
                pass
        if self._state == "done":
            return None
        if self._state == "preamble":
            await self._skip_to_delimiter()
            if not await self._after_delimiter():
                return None
        while True:
            index = self._buffer.find(b"\r\n\r\n")
            if index >= 0:
                break
            if self._buffer.startswith(b"\r\n"):
                index = -2  # a part without headers
                break
            if len(self._buffer) > MAX_PART_HEADER_BYTES or not await self._fill():
                raise MultipartError("malformed multipart part headers")
        raw = bytes(self._buffer[: max(index, 0)])
        del self._buffer[: index + 4]
        headers: dict[str, str] = {}
        for line in raw.decode("utf-8", errors="replace").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        if not disposition.lower().startswith("form-data"):
            raise MultipartError("multipart part without form-data disposition")
        params = _parse_disposition(disposition)
        self._state = "body"
        return PartHeaders(
            name=params.get("name", ""),
            filename=params.get("filename"),
            content_type=headers.get("content-type"),
        )

    async def read(self) -> bytes | None:
        """Next chunk of the current part's body, or None at its end."""
        if self._state != "body":
            return None
        while True:
            index = self._buffer.find(self._delimiter)
            if index >= 0:
                chunk = bytes(self._buffer[:index])
                del self._buffer[: index + len(self._delimiter)]
                self._state = "headers"
                if not await self._after_delimiter():
                    self._state = "done"
                return chunk or None
            keep = len(self._delimiter) - 1
            if len(self._buffer) > keep:
                chunk = bytes(self._buffer[: len(self._buffer) - keep])
                del self._buffer[: len(self._buffer) - keep]
                return chunk
            if not await self._fill():
                raise MultipartError("truncated multipart body")

    async def read_text(self, limit: int) -> str:
        """The current part's body as UTF-8 text; longer than `limit` bytes is an error."""
        data = bytearray()
        while (chunk := await self.read()) is not None:
            data.extend(chunk)
            if len(data) > limit:
                raise MultipartError("multipart text field too long")
        return data.decode("utf-8", errors="replace")
