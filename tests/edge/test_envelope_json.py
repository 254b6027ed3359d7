"""The wire JSON encoder: ujson where its text equals the stdlib's, the stdlib otherwise."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge import envelope
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
        1e-05,
        [-2.5e-07, {"a": [3e-06]}],
        {"id": "a9f7e3e-4b2c", "note": "x:5e-5,y", "amount": 4.5e-05},
    ],
)
def test_the_text_is_the_stdlib_encoders(value: object) -> None:
    assert dumps(value) == reference(value)


@settings(max_examples=300, derandomize=True)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
)
def test_any_json_value_is_encoded_as_the_stdlib_does(value: object) -> None:
    assert dumps(value) == reference(value)


def test_ids_that_look_like_exponents_keep_the_fast_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(value: object) -> str:
        raise AssertionError("fell back to the stdlib encoder")

    monkeypatch.setattr(envelope._STDLIB, "encode", refuse)
    page = [{"id": "0a3d7213-4fb3-d6c0-24db-4c510bc1605b", "ref": "c3e-4f", "price": 9500.0}]
    assert dumps(page) == reference(page)


def test_what_neither_can_encode_fails_as_the_stdlib_does() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})
