"""A small, deterministic YAML writer for the generated rule and provisioning files.

Only what those files need: mappings, lists, strings, numbers and booleans. Multi-line
strings (PromQL) become literal blocks so the checked-in rules stay readable; other
strings are plain when that is unambiguous, else single-quoted. We write YAML ourselves
because no YAML library is among the project's dependencies, and the output must be
byte-for-byte stable for ``python -m monitoring check``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias

# Plain scalars: no leading indicator, no ": " and no trailing ":" (both start a mapping).
_PLAIN = re.compile(r"[A-Za-z_/](?:[A-Za-z0-9_./:-]*[A-Za-z0-9_./-])?")
# Words YAML 1.1 or 1.2 readers may turn into booleans or null.
_RESERVED = frozenset(
    {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}  # compared lowercased
)

Node: TypeAlias = "Mapping[str, Node] | Sequence[Node] | str | int | float | bool"


def dump(data: Node, *, header: str = "") -> str:
    """YAML text for ``data``; ``header`` lines are written first as comments."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.extend(_node(data, 0))
    return "\n".join(lines) + "\n"


def _node(value: Node, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        lines: list[str] = []
        for key, item in value.items():
            lines.extend(_entry(pad + _scalar_key(key) + ":", item, indent))
        return lines
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:
            if _is_collection(item) and item:
                inner = _node(item, indent + 2)
                inner[0] = pad + "- " + inner[0][indent + 2 :]
                lines.extend(inner)
            else:
                lines.extend(_entry(pad + "-", item, indent))
        return lines
    return [pad + _scalar(value, indent)]


def _entry(prefix: str, item: Node, indent: int) -> list[str]:
    if _is_collection(item) and item:
        return [prefix, *_node(item, indent + 2)]
    if isinstance(item, str) and "\n" in item:
        chomp = "|" if item.endswith("\n") else "|-"
        body = item[:-1] if item.endswith("\n") else item
        if body.startswith(" "):
            raise ValueError("a literal block may not start with a space (needs an indicator)")
        block_pad = " " * (indent + 2)
        return [f"{prefix} {chomp}"] + [
            (block_pad + line) if line else "" for line in body.split("\n")
        ]
    if _is_collection(item):
        return [f"{prefix} {'{}' if isinstance(item, Mapping) else '[]'}"]
    return [f"{prefix} {_scalar(item, indent)}"]


def _is_collection(value: Node) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, str)
    )


def _scalar_key(key: str) -> str:
    return _scalar(key, 0)


def _scalar(value: Node, indent: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot write {type(value).__name__} as a YAML scalar")
    if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    if value.startswith(" ") or value.endswith(" ") or any(ch in value for ch in "\n\t\r"):
        raise ValueError(f"unsupported string for a single-quoted scalar: {value!r}")
    return "'" + value.replace("'", "''") + "'"
