"""``/data``: uploading point clouds and distance matrices, and reading their records."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from tda_backend.api.deps import OwnerDep, ServicesDep
from tda_backend.models.common import ErrorOut, ValidationErrorOut
from tda_backend.models.data import DataJSONUpload, DataKind, DataOut, SourceFormat
from tda_backend.models.tables import Dataset
from tda_backend.services.datasets import Upload
from tda_backend.services.errors import InvalidInputError, UnsupportedFormatError

router = APIRouter(prefix="/data", tags=["data"])

_KINDS: tuple[DataKind, ...] = ("point_cloud", "distance_matrix")

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV/TSV (header row optional), .npy or JSON",
                        },
                        "kind": {"type": "string", "enum": list(_KINDS), "default": "point_cloud"},
                    },
                },
            },
            "application/json": {"schema": DataJSONUpload.model_json_schema()},
        },
    },
}


def data_out(dataset: Dataset) -> DataOut:
    kind = cast(DataKind, dataset.kind)
    return DataOut(
        data_id=dataset.id,
        kind=kind,
        shape=[dataset.n_rows, dataset.n_cols],
        n_points=dataset.n_rows,
        dimension=dataset.n_cols if kind == "point_cloud" else None,
        sha256=dataset.sha256,
        size_bytes=dataset.size_bytes,
        format=cast(SourceFormat, dataset.source_format),
        filename=dataset.filename,
        created_at=dataset.created_at,
    )


def _kind(value: object) -> DataKind | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value in _KINDS:
        return value
    raise InvalidInputError(
        f"kind: must be 'point_cloud' or 'distance_matrix', not {value!r}", field="kind"
    )


async def _read_upload(request: Request) -> Upload:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        return Upload(await request.body(), None, media, None, is_json_body=True)
    if media != "multipart/form-data":
        raise UnsupportedFormatError(
            f"Content-Type: {media or 'none'!r} is not accepted; send multipart/form-data with"
            " the data in a field named 'file', or an application/json body"
        )
    try:
        async with request.form(max_files=1, max_fields=8) as form:
            return await _from_form(form)
    except (MultiPartException, HTTPException) as exc:
        # Starlette reports a malformed multipart body as an HTTPException(400) of its own.
        if isinstance(exc, HTTPException) and exc.status_code != 400:
            raise
        message = exc.message if isinstance(exc, MultiPartException) else exc.detail
        raise InvalidInputError(
            f"body: malformed multipart data ({message})", field="body"
        ) from None


async def _from_form(form: FormData) -> Upload:
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise InvalidInputError(
            "file: missing; send the data as a file in the multipart field 'file'", field="file"
        )
    kind = _kind(form.get("kind"))
    # The client's file name is only a label: it never becomes a path here.
    name = PurePath(file.filename).name[:255] if file.filename else None
    return Upload(await file.read(), name or None, file.content_type, kind)


@router.post(
    "/upload",
    status_code=201,
    openapi_extra=_UPLOAD_BODY,
    responses={
        413: {"model": ErrorOut, "description": "Larger than MAX_UPLOAD_MB or the point caps"},
        415: {"model": ErrorOut, "description": "Not CSV/TSV, .npy or JSON"},
        422: {"model": ValidationErrorOut, "description": "Invalid data, named by field"},
    },
)
async def upload_data(
    request: Request, response: Response, services: ServicesDep, owner: OwnerDep
) -> DataOut:
    """Store a point cloud or a distance matrix; the same data is stored once (by SHA-256).

    Send a multipart file (field ``file``, optional field ``kind``) or a JSON body
    ``{"data": [[...], ...], "kind": "point_cloud"}``. Values must be finite numbers in a
    rectangular table; a distance matrix must be square, symmetric, non-negative, zero on the
    diagonal. ``.npy`` files are never unpickled.
    """
    upload = await _read_upload(request)
    dataset = await services.datasets.ingest(upload, owner)
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/api/v1/data/{dataset.id}"
    return data_out(dataset)


@router.get("/{data_id}", responses={404: {"model": ErrorOut}})
async def get_data(data_id: str, services: ServicesDep, owner: OwnerDep) -> DataOut:
    """The record of an upload."""
    return data_out(await services.repo.get_dataset(data_id, owner))
