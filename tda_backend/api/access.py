"""The API-key gate in front of ``/api/v1``: with ``API_KEYS`` set, a request without a known
``X-API-Key`` is answered 401 before routing reads its body.

The ``get_owner`` dependency checks the same key and documents it in OpenAPI; this gate only makes
sure nothing else (a malformed body's 422, say) answers a stranger first.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

_HEADER = b"x-api-key"


class ApiKeyGate:
    def __init__(self, app: ASGIApp, *, keys: frozenset[str], prefix: str) -> None:
        self.app = app
        self.keys = [key.encode() for key in keys]
        self.prefix = prefix

    def known(self, offered: bytes | None) -> bool:
        # Compared with every key in constant time, so timing tells nothing about which matched.
        matches = [hmac.compare_digest(key, offered or b"") for key in self.keys]
        return offered is not None and any(matches)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or not _under(scope["path"], self.prefix):
            await self.app(scope, receive, send)
            return
        offered = next((v for k, v in scope["headers"] if k.lower() == _HEADER), None)
        if self.known(offered):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": "X-API-Key: missing or unknown API key"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"APIKey"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")
