"""Reading uploads into float64 arrays, and checking them before anything is stored.

Formats: CSV/TSV (with or without a header row; comma, tab, semicolon or whitespace separated),
``.npy`` (read with pickling disabled, header checked before any allocation) and JSON (an array of
rows, or an object with ``data``). Every rejection says where the problem is.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import numpy as np
import numpy.typing as npt

from tda_backend.models.data import DataKind, SourceFormat
from tda_backend.services.errors import (
    InvalidInputError,
    LimitExceededError,
    UnsupportedFormatError,
)

FloatArray = npt.NDArray[np.float64]
# numpy.lib.format has type hints only from NumPy 2.2 on, and apache-flink's pins (the streaming
# extra) keep NumPy at 2.1: used through Any, it type-checks the same under both.
_npy_format: Any = np.lib.format

NPY_MAGIC = b"\x93NUMPY"
_EXTENSIONS: dict[str, SourceFormat] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".npy": "npy",
    ".json": "json",
}
_CONTENT_TYPES: dict[str, SourceFormat] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/plain": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/x-npy": "npy",
    "application/npy": "npy",
}
# How far from exact a distance matrix may be and still count as symmetric (text round-trips).
_SYMMETRY_RTOL = 1e-9
_SYMMETRY_ATOL = 1e-12


@dataclass(frozen=True)
class Limits:
    max_points: int
    max_dimensions: int


def detect_format(filename: str | None, content_type: str | None, head: bytes) -> SourceFormat:
    """The upload's format: by file extension, else by content type, else by content."""
    suffix = PurePath(filename).suffix.lower() if filename else ""
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    media = (content_type or "").split(";")[0].strip().lower()
    if media in _CONTENT_TYPES:
        return _CONTENT_TYPES[media]
    if head.startswith(NPY_MAGIC):
        return "npy"
    what = f"extension {suffix!r}" if suffix else f"content type {media or 'none'!r}"
    raise UnsupportedFormatError(
        f"file: unsupported type ({what}); send CSV/TSV (.csv, .tsv), NumPy (.npy) or JSON (.json)"
    )


def parse_upload(content: bytes, fmt: SourceFormat) -> tuple[FloatArray, DataKind | None]:
    """Parse an upload; also return the kind when the content itself declares one (JSON)."""
    if not content.strip():
        raise InvalidInputError("file: the upload is empty", field="file")
    if fmt == "npy":
        return _parse_npy(content), None
    if fmt == "json":
        return parse_json_document(load_json(content, field="file"), field="file")
    return _parse_delimited(content, tab_only=fmt == "tsv"), None


def load_json(content: bytes, *, field: str) -> Any:
    """``json.loads`` with every way it can fail on client bytes reported as a client error."""
    try:
        return json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{field}: malformed JSON ({exc})", field=field) from None
    except RecursionError:
        # Thousands of nested brackets exhaust the decoder's recursion (found by fuzzing).
        raise InvalidInputError(f"{field}: JSON nested too deeply", field=field) from None


def parse_json_document(document: Any, *, field: str) -> tuple[FloatArray, DataKind | None]:
    """A JSON array of rows (or of numbers), or an object ``{"data": ..., "kind": ...}``."""
    kind: DataKind | None = None
    if isinstance(document, dict):
        unknown = set(document) - {"data", "kind", "name"}
        if unknown:
            raise InvalidInputError(
                f"{field}: unknown key(s) {sorted(unknown)}; expected data, kind, name", field=field
            )
        if "data" not in document:
            raise InvalidInputError(f"{field}: the object has no 'data' array", field=field)
        raw_kind = document.get("kind", "point_cloud")
        if raw_kind not in ("point_cloud", "distance_matrix"):
            raise InvalidInputError(
                f"kind: must be 'point_cloud' or 'distance_matrix', not {raw_kind!r}", field="kind"
            )
        kind = raw_kind
        document = document["data"]
        field = f"{field}.data" if field != "body" else "data"
    if not isinstance(document, list):
        raise InvalidInputError(f"{field}: expected an array of rows", field=field)
    return _rows_to_array(document, field), kind


def _rows_to_array(rows: list[Any], field: str) -> FloatArray:
    if not rows:
        raise InvalidInputError(f"{field}: no rows", field=field)
    flat = not isinstance(rows[0], list)
    width = 1 if flat else len(rows[0])
    for i, row in enumerate(rows):
        items = [row] if flat else row
        if not flat and not isinstance(row, list):
            raise InvalidInputError(f"{field}: row {i + 1} is not an array", field=field)
        if len(items) != width:
            raise InvalidInputError(
                f"{field}: row {i + 1} has {len(items)} values, row 1 has {width} (ragged)",
                field=field,
            )
        for j, value in enumerate(items):
            # bool is an int in Python, but true/false in a point cloud is a mistake.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInputError(
                    f"{field}: row {i + 1}, column {j + 1}: {json.dumps(value)} is not a number",
                    field=field,
                )
            # JSON integers are unbounded; beyond about 1.8e308 there is no float for them.
            if isinstance(value, int) and value.bit_length() > 1000 and not _fits_float(value):
                raise InvalidInputError(
                    f"{field}: row {i + 1}, column {j + 1}: an integer of"
                    f" {len(str(value))} digits is beyond the range of a float",
                    field=field,
                )
    array = np.asarray(rows, dtype=np.float64)
    return array.reshape(-1, 1) if flat else array


def _fits_float(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _parse_npy(content: bytes) -> FloatArray:
    stream = io.BytesIO(content)
    try:
        version = _npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = _npy_format.read_array_header_1_0(stream)
        else:
            shape, fortran_order, dtype = _npy_format.read_array_header_2_0(stream)
    except Exception as exc:
        # numpy tokenizes and literal_evals the header: besides ValueError a malformed one can
        # raise TokenError, SyntaxError, TypeError or RecursionError (found by fuzzing).
        raise InvalidInputError(
            f"file: not a valid .npy file ({type(exc).__name__}: {exc})", field="file"
        ) from None
    if dtype.hasobject:
        raise InvalidInputError(
            "file: the .npy holds Python objects (it would need unpickling, which is never done);"
            " save a numeric array",
            field="file",
        )
    if dtype.fields is not None or dtype.kind not in "iuf":
        raise InvalidInputError(
            f"file: the .npy has dtype {dtype}; expected integers or floats", field="file"
        )
    # Check the declared size against the bytes present before numpy allocates anything.
    expected = math.prod(shape) * dtype.itemsize
    present = len(content) - stream.tell()
    if expected != present:
        raise InvalidInputError(
            f"file: the .npy header declares shape {shape} ({expected} bytes) but"
            f" {present} bytes follow it",
            field="file",
        )
    array = np.frombuffer(content, dtype=dtype, offset=stream.tell())
    array = array.reshape(shape, order="F" if fortran_order else "C")
    return np.asarray(array, dtype=np.float64)


def _parse_delimited(content: bytes, *, tab_only: bool) -> FloatArray:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"file: not UTF-8 text ({exc.reason} at byte {exc.start})", field="file"
        ) from None
    numbered = [
        (n, line.strip())
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise InvalidInputError("file: no data rows", field="file")
    delimiter = "\t" if tab_only else _sniff_delimiter(numbered[0][1])

    def split(line: str) -> list[str]:
        return [t.strip() for t in line.split(delimiter)] if delimiter else line.split()

    if not any(_is_number(t) for t in split(numbered[0][1])):
        numbered = numbered[1:]  # a header row: names, no numbers
        if not numbered:
            raise InvalidInputError("file: a header row but no data rows", field="file")
    rows = [split(line) for _, line in numbered]
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        pass
    # Slow path, only to say exactly what is wrong.
    width = len(rows[0])
    for (line_no, _), row in zip(numbered, rows, strict=True):
        if len(row) != width:
            raise InvalidInputError(
                f"file: line {line_no} has {len(row)} values, the first row has {width} (ragged)",
                field="file",
            )
        for j, token in enumerate(row):
            if not _is_number(token):
                raise InvalidInputError(
                    f"file: line {line_no}, column {j + 1}: {token!r} is not a number",
                    field="file",
                )
    raise InvalidInputError("file: could not read the table", field="file")


def _sniff_delimiter(line: str) -> str | None:
    for candidate in (",", "\t", ";"):
        if candidate in line:
            return candidate
    return None


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def validate_array(array: FloatArray, kind: DataKind, limits: Limits) -> FloatArray:
    """Check shape, finiteness, limits and (for a matrix) distance axioms; return a 2-D array."""
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise InvalidInputError(
            f"data: expected a 2-D table, got {array.ndim} dimensions", field="data"
        )
    n, d = array.shape
    if n == 0 or d == 0:
        raise InvalidInputError(f"data: empty table (shape {n}x{d})", field="data")
    if n > limits.max_points:
        raise LimitExceededError(
            f"data: {n} rows exceed the limit of {limits.max_points} (MAX_POINTS)"
        )
    if kind == "point_cloud" and d > limits.max_dimensions:
        raise LimitExceededError(
            f"data: {d} columns exceed the limit of {limits.max_dimensions} (MAX_DIMENSIONS)"
        )
    finite = np.isfinite(array)
    if not finite.all():
        i, j = (int(k) for k in np.argwhere(~finite)[0])
        raise InvalidInputError(
            f"data: row {i + 1}, column {j + 1} is {array[i, j]}; only finite numbers are accepted",
            field="data",
        )
    if kind == "distance_matrix":
        _check_distance_matrix(array)
    return np.ascontiguousarray(array, dtype=np.float64)


def _check_distance_matrix(matrix: FloatArray) -> None:
    n, m = matrix.shape
    if n != m:
        raise InvalidInputError(
            f"data: a distance matrix must be square, got {n}x{m}", field="data"
        )
    if (matrix < 0).any():
        i, j = (int(k) for k in np.argwhere(matrix < 0)[0])
        raise InvalidInputError(
            f"data: distance ({i + 1}, {j + 1}) is negative ({matrix[i, j]})", field="data"
        )
    diagonal = np.diagonal(matrix)
    if (diagonal != 0).any():
        i = int(np.flatnonzero(diagonal)[0])
        raise InvalidInputError(
            f"data: the diagonal of a distance matrix must be zero; ({i + 1}, {i + 1}) is"
            f" {diagonal[i]}",
            field="data",
        )
    asymmetric = ~np.isclose(matrix, matrix.T, rtol=_SYMMETRY_RTOL, atol=_SYMMETRY_ATOL)
    if asymmetric.any():
        i, j = (int(k) for k in np.argwhere(asymmetric)[0])
        raise InvalidInputError(
            f"data: a distance matrix must be symmetric; ({i + 1}, {j + 1}) is {matrix[i, j]}"
            f" but ({j + 1}, {i + 1}) is {matrix[j, i]}",
            field="data",
        )


def to_npy_bytes(array: FloatArray) -> bytes:
    """The canonical stored form: little-endian float64, C order, .npy version 1.0."""
    buffer = io.BytesIO()
    _npy_format.write_array(
        buffer, np.ascontiguousarray(array, dtype="<f8"), version=(1, 0), allow_pickle=False
    )
    return buffer.getvalue()


def from_npy_bytes(content: bytes) -> FloatArray:
    return _parse_npy(content)
