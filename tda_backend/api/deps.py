"""Dependencies, as ``Annotated`` aliases the routes declare their parameters with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from tda_backend.api.access import OWNER_STATE, KeyResolver
from tda_backend.api.limits import RateLimiter, retry_after_header
from tda_backend.config import Settings
from tda_backend.services.container import Services

_api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Required on /api/v1 when the server has API_KEYS set",
)


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_owner(
    request: Request, api_key: Annotated[str | None, Security(_api_key_header)]
) -> str | None:
    """Who is asking: None when access is open, else the fingerprint of their API key."""
    resolver: KeyResolver = request.app.state.access
    if not resolver.enabled:
        return None
    resolved: str | None = getattr(request.state, OWNER_STATE, None)
    if resolved is not None:
        return resolved
    services: Services | None = getattr(request.app.state, "services", None)
    owner = await resolver.owner(api_key, services.sessions if services else None)
    if owner is None:
        raise HTTPException(
            401, "X-API-Key: missing or unknown API key", headers={"WWW-Authenticate": "APIKey"}
        )
    return owner


async def get_request_id(request: Request) -> str | None:
    request_id: str | None = getattr(request.state, "request_id", None)
    return request_id


OwnerDep = Annotated[str | None, Depends(get_owner)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]


async def enforce_rate_limit(request: Request, settings: SettingsDep, owner: OwnerDep) -> None:
    """429 with ``Retry-After`` once the caller is over ``RATE_LIMIT_PER_MINUTE``."""
    limiter: RateLimiter | None = getattr(request.app.state, "limiter", None)
    if limiter is None:
        return
    identity = owner or f"addr:{request.client.host if request.client else 'unknown'}"
    wait = await limiter.acquire(identity)
    if wait is not None:
        retry_after = retry_after_header(wait)
        raise HTTPException(
            429,
            f"rate limit: more than {settings.rate_limit_per_minute} requests per minute"
            f" (RATE_LIMIT_PER_MINUTE); retry in {retry_after} s",
            headers={"Retry-After": retry_after},
        )
