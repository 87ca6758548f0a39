"""Ingesting uploads: parse, validate, store the canonical array, then record it.

The array blob is written completely before the row that makes it visible exists, so an upload is
either fully stored or absent. The blob is the float64 ``.npy`` of the validated array, named by its
SHA-256: the same data uploaded twice (in any format) is stored once, and results are reused by it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tda_backend.config import Settings
from tda_backend.models.data import DataKind, SourceFormat
from tda_backend.models.tables import Dataset
from tda_backend.services import parsing
from tda_backend.services.errors import InvalidInputError
from tda_backend.services.repository import Repository, new_id
from tda_backend.services.storage import BlobStore
from tda_backend.services.telemetry import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Upload:
    content: bytes
    filename: str | None
    content_type: str | None
    kind: DataKind | None
    is_json_body: bool = False


@dataclass(frozen=True)
class _Stored:
    sha256: str
    kind: DataKind
    fmt: SourceFormat
    shape: tuple[int, int]
    name: str | None


@dataclass
class DatasetService:
    settings: Settings
    repo: Repository
    blobs: BlobStore

    async def ingest(self, upload: Upload, owner: str | None) -> Dataset:
        stored = await asyncio.to_thread(self._parse_and_store, upload)
        dataset = Dataset(
            id=new_id("data"),
            owner=owner,
            sha256=stored.sha256,
            kind=stored.kind,
            n_rows=stored.shape[0],
            n_cols=stored.shape[1],
            size_bytes=len(upload.content),
            source_format=stored.fmt,
            filename=stored.name,
        )
        await self.repo.add_dataset(dataset)
        log.info(
            "data stored",
            data_id=dataset.id,
            sha256=dataset.sha256,
            kind=dataset.kind,
            shape=list(stored.shape),
        )
        return dataset

    def _parse_and_store(self, upload: Upload) -> _Stored:
        declared: DataKind | None
        name = upload.filename
        if upload.is_json_body:
            fmt: SourceFormat = "json"
            document: Any = parsing.load_json(upload.content, field="body")
            if not isinstance(document, dict):
                raise InvalidInputError(
                    'body: expected an object {"data": [[...], ...], "kind": ...}', field="body"
                )
            raw_name = document.get("name")
            if raw_name is not None and not isinstance(raw_name, str):
                raise InvalidInputError("name: must be a string", field="name")
            name = raw_name[:255] if raw_name else None
            array, declared = parsing.parse_json_document(document, field="body")
        else:
            fmt = parsing.detect_format(upload.filename, upload.content_type, upload.content[:8])
            array, declared = parsing.parse_upload(upload.content, fmt)
        if upload.kind is not None and declared is not None and upload.kind != declared:
            raise InvalidInputError(
                f"kind: the form says {upload.kind!r} but the JSON document says {declared!r}",
                field="kind",
            )
        kind: DataKind = upload.kind or declared or "point_cloud"
        limits = parsing.Limits(self.settings.max_points, self.settings.max_dimensions)
        array = parsing.validate_array(array, kind, limits)
        sha256 = self.blobs.put(parsing.to_npy_bytes(array))
        return _Stored(sha256, kind, fmt, (array.shape[0], array.shape[1]), name)
