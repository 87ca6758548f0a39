"""The data family: uploads of point clouds and distance matrices."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DataKind = Literal["point_cloud", "distance_matrix"]
SourceFormat = Literal["csv", "tsv", "npy", "json"]


class DataJSONUpload(BaseModel):
    """The JSON body accepted by ``POST /data/upload`` as an alternative to a multipart file."""

    model_config = ConfigDict(extra="forbid")

    data: list[list[float]] | list[float] = Field(
        description="rows of coordinates, or of distances for a distance matrix"
    )
    kind: DataKind = "point_cloud"
    name: str | None = Field(None, max_length=255, description="a label kept with the data")


class DataOut(BaseModel):
    data_id: str
    kind: DataKind
    shape: list[int] = Field(min_length=2, max_length=2, description="[rows, columns]")
    n_points: int
    dimension: int | None = Field(description="coordinates per point; null for a distance matrix")
    sha256: str = Field(description="SHA-256 of the stored array (float64 .npy)")
    size_bytes: int = Field(description="size of the upload as received")
    format: SourceFormat
    filename: str | None
    created_at: datetime
