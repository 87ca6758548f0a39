"""Shapes shared by several resource families."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """Every client or server error: ``detail`` says which field is wrong and why."""

    detail: str


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="where: body, query or path, then the field")
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A 422: each entry names a field and what is wrong with it."""

    detail: list[FieldError]
