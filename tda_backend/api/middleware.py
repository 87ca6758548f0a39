"""Per-request context: request id, body size limit, access log and HTTP metrics (pure ASGI)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tda_backend.services.errors import LimitExceededError
from tda_backend.services.telemetry import HTTP_LATENCY, HTTP_REQUESTS, get_logger

log = get_logger("tda_backend.access")

REQUEST_ID_HEADER = "x-request-id"
# A client's id is echoed into headers and logs: accept only short, plain tokens.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_QUIET_PATHS = frozenset({"/health", "/metrics"})


class RouteTemplates:
    """Maps a request path to its route's template (``/api/v1/tda/jobs/{job_id}``) and methods.

    Metrics get one series per route rather than per id; a 405 gets an ``Allow`` header listing
    every method of the path (the router alone names only those of its first matching route).
    """

    def __init__(self, routes: Callable[[], dict[str, set[str]]]) -> None:
        self._source = routes
        self._compiled: list[tuple[re.Pattern[str], str, str]] | None = None

    def _routes(self) -> list[tuple[re.Pattern[str], str, str]]:
        if self._compiled is None:
            self._compiled = [
                (
                    re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(t)) + "$"),
                    t,
                    ", ".join(sorted(methods)),
                )
                for t, methods in self._source().items()
            ]
        return self._compiled

    def __call__(self, path: str) -> tuple[str, str]:
        """The template and the ``Allow`` value of ``path``; ("unmatched", "") if none."""
        return next(
            ((t, allow) for pattern, t, allow in self._routes() if pattern.match(path)),
            ("unmatched", ""),
        )


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, route_of: RouteTemplates) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        offered = headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = offered if _VALID_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [(b"x-request-id", request_id.encode("latin-1"))]
                headers = list(message.get("headers", []))
                if status == 405:
                    allow = self.route_of(scope["path"])[1]
                    headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
                    extra.append((b"allow", allow.encode("latin-1")))
                message["headers"] = headers + extra
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise LimitExceededError(self._too_large())
            return message

        try:
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._reject_too_large(send_with_id)
                return
            await self.app(scope, limited_receive, send_with_id)
        finally:
            template = self.route_of(scope["path"])[0]
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], template).observe(elapsed)
            if scope["path"] not in _QUIET_PATHS or status >= 400:
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )

    def _too_large(self) -> str:
        limit_mb = self.max_body_bytes / (1024 * 1024)
        return f"body: larger than the upload limit of about {limit_mb:.0f} MB (MAX_UPLOAD_MB)"

    async def _reject_too_large(self, send: Send) -> None:
        body = ('{"detail":"' + self._too_large() + '"}').encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
