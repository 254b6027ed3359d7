"""Structured JSON logging for the edge: one JSON object per line on stdout.

Every record of the `zerocancer.*` and `sanic.*` loggers is written as
`{"ts", "level", "logger", "msg", ...extra}`; `extra=` keys (request_id, status, ...) become
fields. Nothing here knows about requests: `edge.access` supplies the fields.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any

import ujson

from edge.envelope import SHORT_NEGATIVE_EXPONENT

#: Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return encode_entry(entry)


#: `json.dumps(entry, default=str, ensure_ascii=False)`, built once.
_STDLIB = json.JSONEncoder(default=str, ensure_ascii=False)
#: Value types ujson writes exactly as the stdlib does (floats: see below).
_PLAIN = frozenset({str, int, float, bool})


def encode_entry(entry: dict[str, Any]) -> str:
    """`json.dumps(entry, default=str, ensure_ascii=False)`, byte for byte: with ujson when
    every value is a plain str/int/float/bool or a list of str (the access line), else (or when
    ujson's text could differ, or it refuses the value) with the stdlib encoder."""
    for value in entry.values():
        kind = type(value)
        if kind in _PLAIN:
            continue
        if kind is list and all(type(item) is str for item in value):
            continue
        return _STDLIB.encode(entry)
    try:
        text: str = ujson.dumps(
            entry, ensure_ascii=False, escape_forward_slashes=False, separators=(", ", ": ")
        )
    except Exception:
        return _STDLIB.encode(entry)
    if "e-" in text and SHORT_NEGATIVE_EXPONENT.search(text):
        return _STDLIB.encode(entry)
    return text


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for Sanic's `log_config=`: JSON lines on stdout."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    logger = {"level": level, "handlers": ["stdout"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": handler},
        "loggers": {
            "zerocancer": logger,
            "sanic.root": logger,
            "sanic.error": logger,
            "sanic.server": logger,
            "sanic.websockets": logger,
            "sanic.access": {**logger, "level": "WARNING"},
        },
    }
