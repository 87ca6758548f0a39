"""The service layer's errors. The API maps each to one HTTP status (see ``api/errors.py``).

Every message names the field at fault and what to do about it: it goes to the client as is.
"""

from __future__ import annotations


class InvalidInputError(ValueError):
    """A value the client sent is wrong (422). ``field`` is the field's name when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(LookupError):
    """No such object, or not the caller's (404)."""


class ConflictError(Exception):
    """The object is not in a state that allows the request (409)."""


class LimitExceededError(Exception):
    """The request is larger than a configured limit allows (413)."""


class UnsupportedFormatError(Exception):
    """The upload's type is not one the service reads (415)."""


class TooManyRequestsError(Exception):
    """The caller is over a per-key limit (429); ``retry_after`` is a hint in seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageFullError(OSError):
    """``DATA_DIR`` has no space left (507): nothing was stored."""
