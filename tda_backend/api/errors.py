"""Error responses: one handler per service error class, and ``ValueError`` as 422.

422 bodies have FastAPI's validation shape (``detail`` is a list of ``{loc, msg, type}``) so that
clients read every invalid-value error the same way; the other errors carry ``detail`` as a string.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tda_backend.api.limits import retry_after_header
from tda_backend.services.errors import (
    ConflictError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    StorageFullError,
    TooManyRequestsError,
    UnsupportedFormatError,
)
from tda_backend.services.telemetry import get_logger

log = get_logger(__name__)

_STATUS: dict[type[Exception], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    LimitExceededError: 413,
    UnsupportedFormatError: 415,
    TooManyRequestsError: 429,
    StorageFullError: 507,
    NotImplementedError: 501,  # an engine build without the requested algorithm
}


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    status = next(code for cls, code in _STATUS.items() if isinstance(exc, cls))
    headers = (
        {"Retry-After": retry_after_header(exc.retry_after)}
        if isinstance(exc, TooManyRequestsError)
        else None
    )
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def _value_error(request: Request, exc: Exception) -> JSONResponse:
    field = exc.field if isinstance(exc, InvalidInputError) else None
    loc = ["body", field] if field and field != "body" else ["body"]
    return JSONResponse(
        {"detail": [{"loc": loc, "msg": str(exc), "type": "value_error"}]}, status_code=422
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    # FastAPI answers 400 for a body it cannot decode at all (bad UTF-8); that is a malformed
    # body like any other, so it gets the same 422 as malformed JSON.
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        return JSONResponse(
            {
                "detail": [
                    {
                        "loc": ["body"],
                        "msg": "body: malformed JSON (not UTF-8 text)",
                        "type": "json_invalid",
                    }
                ]
            },
            status_code=422,
        )
    return await http_exception_handler(request, exc)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # SQLite keeps its file in DATA_DIR: a full disk fails the insert, which is rolled back.
    if "disk is full" in str(exc):
        return JSONResponse(
            {
                "detail": "storage full: the database in DATA_DIR has no space left; nothing was"
                " stored (free space or move DATA_DIR)"
            },
            status_code=507,
        )
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc, path=request.url.path)
    return JSONResponse(
        {"detail": "internal server error; the server log has the details"}, status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    for cls in _STATUS:
        app.add_exception_handler(cls, _service_error)
    app.add_exception_handler(ValueError, _value_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
