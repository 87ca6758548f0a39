"""One fuzz input through the upload parsers: shared by the atheris target (fuzz_parsing.py) and
the pytest replay of its corpus (test_parsing_fuzz.py)."""

from __future__ import annotations

import numpy as np

from tda_backend.models.data import DataKind, SourceFormat
from tda_backend.services import parsing
from tda_backend.services.errors import (
    InvalidInputError,
    LimitExceededError,
    UnsupportedFormatError,
)

FORMATS: tuple[SourceFormat, ...] = ("csv", "tsv", "npy", "json")
KINDS: tuple[DataKind, ...] = ("point_cloud", "distance_matrix")
# The file names and content types a client may send, with hostile ones among them.
NAMES = ("data.csv", "x.tsv", "a.npy", "d.json", "../../etc/passwd", "noext", "", "C:\\x.npy")
MEDIA = ("text/csv", "application/octet-stream", "application/json", "", "text/plain; a=b")
LIMITS = parsing.Limits(max_points=200, max_dimensions=50)
CLIENT_ERRORS = (InvalidInputError, LimitExceededError, UnsupportedFormatError)


def check_one(data: bytes) -> None:
    """Parse ``data`` as the first byte says; raise anything but a client error."""
    if not data:
        return
    control, content = data[0], data[1:]
    kind = KINDS[(control >> 7) & 1]
    try:
        if control & 0x40:
            # The detection path: a file name and content type chosen by the control byte.
            fmt = parsing.detect_format(
                NAMES[control % len(NAMES)], MEDIA[(control >> 3) % len(MEDIA)], content[:8]
            )
        else:
            fmt = FORMATS[control % len(FORMATS)]
        array, declared = parsing.parse_upload(content, fmt)
        array = parsing.validate_array(array, declared or kind, LIMITS)
    except CLIENT_ERRORS:
        return
    assert array.dtype == np.float64
    assert array.ndim == 2
    assert 0 < array.shape[0] <= LIMITS.max_points
    assert bool(np.isfinite(array).all())
    # What is stored reads back identically.
    again = parsing.from_npy_bytes(parsing.to_npy_bytes(array))
    assert np.array_equal(again, array)
