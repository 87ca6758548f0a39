"""Shapes shared by several resource families."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorOut(BaseModel):
    """Every client or server error: ``detail`` says which field is wrong and why."""

    detail: str
