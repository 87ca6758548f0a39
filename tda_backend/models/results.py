"""The results family: persistence diagrams, Betti numbers, summaries and representatives."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

# [birth, death]; death null = infinite (essential class).
Pair = Annotated[list[float | None], Field(min_length=2, max_length=2)]


class Summary(BaseModel):
    pairs: dict[str, int] = Field(description="pairs per dimension")
    essential: dict[str, int] = Field(description="pairs with infinite death per dimension")
    total_persistence: dict[str, float] = Field(description="sum of finite bar lengths")
    longest_bars: dict[str, list[Pair]] = Field(description="up to 5 longest bars per dimension")


class Representative(BaseModel):
    birth_simplex: list[int]
    death_simplex: list[int] = Field(description="empty for an essential class")


class ResultOut(BaseModel):
    job_id: str
    data_id: str
    algorithm: str
    diagrams: dict[str, list[Pair]] = Field(
        description="per dimension, [birth, death] pairs; death null = infinite"
    )
    betti: list[int] = Field(description="essential classes per dimension")
    summary: Summary
    representatives: dict[str, list[Representative]] | None = Field(
        None, description="per dimension, aligned with diagrams; present when asked for"
    )
    metadata: dict[str, Any]
