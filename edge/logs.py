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
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


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
