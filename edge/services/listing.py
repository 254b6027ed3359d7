"""The list shape of the donor and admin routes: the items under their key plus paging keys."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def page_body(
    key: str, items: Sequence[Any], *, page: int, size: int, total: int
) -> dict[str, Any]:
    """`{key: items, "page", "pageSize", "total", "totalPages": ceil(total / pageSize)}`."""
    return {
        key: list(items),
        "page": page,
        "pageSize": size,
        "total": total,
        "totalPages": math.ceil(total / size) if size > 0 else 0,
    }


def offset(page: int, size: int) -> int:
    return (page - 1) * size
