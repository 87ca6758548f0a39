"""The upload parsers under generated input: the atheris corpus and crash inputs replayed, and
hypothesis-generated uploads (structured and raw bytes) in every format.

Each input must end in a validated array or a client error (422, 413, 415); see parsing_target.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from parsing_target import check_one

HERE = Path(__file__).parent
KEPT = sorted((HERE / "corpus" / "parsing").iterdir()) + sorted(
    (HERE / "regressions" / "parsing").iterdir()
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("path", KEPT, ids=[p.name for p in KEPT])
def test_kept_inputs_replay(path: Path) -> None:
    check_one(path.read_bytes())


def test_found_by_fuzzing() -> None:
    """Inputs that once escaped as 500s: a .npy header numpy's tokenizer chokes on, JSON nested
    past the recursion limit, a JSON integer beyond float range."""
    check_one(next((HERE / "regressions" / "parsing").iterdir()).read_bytes())
    check_one(b"\x03" + b"[" * 100_000 + b"]" * 100_000)
    check_one(b"\x03[[" + b"9" * 400 + b", 2]]")


@FUZZ
@given(st.binary(max_size=2048))
def test_raw_bytes(data: bytes) -> None:
    check_one(data)


@FUZZ
@given(st.integers(0, 255), st.binary(max_size=64))
def test_mangled_npy(control: int, tail: bytes) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(6.0).reshape(3, 2))
    header = buffer.getvalue()
    cut = control % len(header)
    check_one(bytes([2]) + header[:cut] + tail + header[cut:])


@FUZZ
@given(
    hnp.arrays(
        dtype=st.sampled_from(["<f8", ">f4", "<i2", "u1", "<f2", "?", "<c8", "<m8[s]"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=6),
    ),
    st.booleans(),
)
def test_npy_of_any_dtype_and_shape(array: np.ndarray, fortran: bool) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.asfortranarray(array) if fortran else array, allow_pickle=False)
    check_one(bytes([2]) + buffer.getvalue())


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=30,
)


@FUZZ
@given(_JSON_VALUES, st.sampled_from([3, 3 | 0x80]))
def test_json_documents(document: object, control: int) -> None:
    check_one(bytes([control]) + json.dumps(document).encode())


@FUZZ
@given(
    st.lists(
        st.lists(st.sampled_from(["0", "1.5", "-2e3", "nan", "inf", "x", "", " ", "1e999"])),
        max_size=8,
    ),
    st.sampled_from([",", "\t", ";", " "]),
    st.integers(0, 255),
)
def test_delimited_text(rows: list[list[str]], delimiter: str, control: int) -> None:
    text = "\n".join(delimiter.join(row) for row in rows)
    check_one(bytes([control & ~0x03 | (control & 1)]) + text.encode())
