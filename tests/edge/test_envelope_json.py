"""The wire JSON encoder: ujson where its text equals the stdlib's, the stdlib otherwise."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from edge.envelope import _default, dumps


def reference(value: object) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize(
    "value",
    [
        {"amount": 1e-05, "small": 0.00001234, "big": 1e21, "plain": 15000.5},
        {"name": "Ọ̀ṣun Adébáyọ̀ — ₦", "path": "a/b", "quote": 'say "hi"', "nl": "x\ny"},
        {"when": datetime(2025, 7, 29, 16, 38, 17, 123000, tzinfo=UTC), "n": None, "ok": True},
        {"price": Decimal("15000.50"), "list": [1, 2.5, "3"], "nested": {"a": [{}]}},
        [float(i) / 7 for i in range(20)],
    ],
)
def test_the_text_is_the_stdlib_encoders(value: object) -> None:
    assert dumps(value) == reference(value)


def test_what_neither_can_encode_fails_as_the_stdlib_does() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})
