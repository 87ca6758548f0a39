"""The health family."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

CheckStatus = Literal["ok", "degraded", "disabled"]


class CheckOut(BaseModel):
    status: CheckStatus
    detail: str | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    engine_version: str | None
    checks: dict[str, CheckOut]
