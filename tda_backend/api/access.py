"""Who is asking: API keys from ``API_KEYS`` and, with ``API_KEYS_DB``, from the database; and the
gate in front of ``/api/v1`` that answers 401 to a request without a known ``X-API-Key`` before
routing reads its body.

The ``get_owner`` dependency asks the same ``KeyResolver`` and documents the key in OpenAPI; the
gate only makes sure nothing else (a malformed body's 422, say) answers a stranger first.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from tda_backend.config import Settings
from tda_backend.services.api_keys import KeyStore, owner_of

_HEADER = b"x-api-key"
# Where the gate leaves the owner it resolved, in the request's state.
OWNER_STATE = "owner"
# Answers about database keys are reused this long: a revoked key stops working within it.
CACHE_S = 5.0
_CACHE_MAX = 10_000


class KeyResolver:
    def __init__(self, settings: Settings) -> None:
        self._keys = [key.encode() for key in settings.api_key_set]
        self.use_database = settings.api_keys_db
        self.cache_s = CACHE_S
        self._cache: dict[str, tuple[str | None, float]] = {}

    @property
    def enabled(self) -> bool:
        return bool(self._keys) or self.use_database

    async def owner(
        self, offered: str | None, sessions: async_sessionmaker[AsyncSession] | None
    ) -> str | None:
        """The owner fingerprint of a known key; None for a missing, unknown or revoked one."""
        if offered is None:
            return None
        raw = offered.encode()
        # Compared with every key in constant time, so timing tells nothing about which matched.
        matches = [hmac.compare_digest(key, raw) for key in self._keys]
        if any(matches):
            return owner_of(offered)
        if not self.use_database or sessions is None:
            return None
        cached = self._cache.get(offered)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        owner = await KeyStore(sessions).owner(offered)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[offered] = (owner, now + self.cache_s)
        return owner


class ApiKeyGate:
    def __init__(self, app: ASGIApp, *, resolver: KeyResolver, prefix: str) -> None:
        self.app = app
        self.resolver = resolver
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.resolver.enabled
            or not _under(scope["path"], self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        offered = next((v for k, v in scope["headers"] if k.lower() == _HEADER), None)
        text = offered.decode("latin-1") if offered is not None else None
        owner = await self.resolver.owner(text, _sessions(scope))
        if owner is not None:
            # get_owner answers from this: the key is resolved once per request.
            scope.setdefault("state", {})[OWNER_STATE] = owner
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


def _sessions(scope: Scope) -> Any:
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    return getattr(services, "sessions", None)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")
