"""Log lines (edge.logs): ujson where its text equals the stdlib's, the stdlib otherwise."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.logs import encode_entry


def reference(entry: dict[str, object]) -> str:
    return json.dumps(entry, default=str, ensure_ascii=False)


@settings(max_examples=300, derandomize=True)
@given(
    st.dictionaries(
        st.text(),
        st.text()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.booleans()
        | st.lists(st.text()),
        max_size=6,
    )
)
def test_a_line_is_the_stdlib_encoders_text(entry: dict[str, object]) -> None:
    assert encode_entry(entry) == reference(entry)


def test_small_floats_keep_the_stdlib_exponent() -> None:
    entry = {"duration_ms": 1e-05, "ratio": [2.5e-07], "id": "a9f7e3e-4b2c"}
    assert encode_entry(entry) == reference(entry)
