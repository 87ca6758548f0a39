"""Reading results back: the stored document (through the cache) and its other formats."""

from __future__ import annotations

import asyncio
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tda_backend.models.tables import Job
from tda_backend.services.cache import Cache
from tda_backend.services.errors import ConflictError
from tda_backend.services.repository import Repository
from tda_backend.services.storage import BlobStore


@dataclass
class ResultService:
    repo: Repository
    blobs: BlobStore
    cache: Cache

    async def document_bytes(self, job: Job) -> bytes:
        """The stored result document of a succeeded job; 409 otherwise."""
        if job.status != "succeeded":
            detail = f" ({job.error})" if job.error else ""
            raise ConflictError(
                f"job_id: job {job.id} is {job.status}{detail}; a result exists once it has"
                " succeeded"
            )
        cached = await self.cache.get(job.result_key)
        if cached is not None:
            return cached
        result = await self.repo.find_result(job.result_key)
        if result is None:
            raise ConflictError(f"job_id: the result of job {job.id} is missing; compute it again")
        document = await asyncio.to_thread(self.blobs.get, result.blob_sha256)
        await self.cache.set(job.result_key, document)
        return document

    async def document(self, job: Job) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(await self.document_bytes(job))
        return parsed


def with_job_fields(document: bytes, job: Job) -> bytes:
    """Prefix the stored (job-independent) document with the job's ids, without re-encoding a
    possibly large document."""
    head = json.dumps({"job_id": job.id, "data_id": job.data_id}, separators=(",", ":"))
    if document == b"{}":
        return head.encode()
    return head[:-1].encode() + b"," + document[1:]


def diagrams_csv(document: dict[str, Any]) -> str:
    lines = ["dimension,birth,death"]
    for dim, pairs in document["diagrams"].items():
        for birth, death in pairs:
            lines.append(f"{dim},{birth!r},{'inf' if death is None else repr(death)}")
    return "\n".join(lines) + "\n"


def diagrams_npz(document: dict[str, Any]) -> bytes:
    """``dgm_<k>``: (n, 2) float64 per dimension (inf for essential), ``betti``, ``metadata``."""
    arrays: dict[str, Any] = {}
    for dim, pairs in document["diagrams"].items():
        values = [[b, math.inf if d is None else d] for b, d in pairs]
        arrays[f"dgm_{dim}"] = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    arrays["betti"] = np.asarray(document["betti"], dtype=np.int64)
    arrays["metadata"] = np.asarray(json.dumps(document["metadata"]))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()
