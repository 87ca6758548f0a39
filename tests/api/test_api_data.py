"""Uploads: every accepted format, content addressing, and every client mistake as a clear 4xx."""

from __future__ import annotations

import io
import json
import pickle
from typing import Any

import httpx
import numpy as np
import pytest
from api_helpers import detail_text, npy_bytes, stored_blobs
from fastapi import FastAPI

from tda_backend.config import Settings

UPLOAD = "/api/v1/data/upload"
POINTS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.5], [2.5, 2.0]])


async def post_file(
    client: httpx.AsyncClient,
    name: str,
    content: bytes,
    content_type: str = "text/plain",
    **form: str,
) -> httpx.Response:
    return await client.post(UPLOAD, files={"file": (name, content, content_type)}, data=form)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("points.csv", b"0,0\n1,0\n0,1.5\n2.5,2\n"),
        ("points.csv", b"x,y\n0,0\n1,0\n0,1.5\n2.5,2\n"),
        ("points.csv", b"\xef\xbb\xbf# comment\nx;y\n0;0\n1;0\n\n0;1.5\n2.5;2\n"),
        ("points.tsv", b"x\ty\n0\t0\n1\t0\n0\t1.5\n2.5\t2\n"),
        ("points.txt", b"0 0\n1 0\n0 1.5\n2.5   2\n"),
        ("points.json", b"[[0,0],[1,0],[0,1.5],[2.5,2]]"),
        ("points.json", b'{"data": [[0,0],[1,0],[0,1.5],[2.5,2]], "kind": "point_cloud"}'),
        ("points.npy", npy_bytes(POINTS)),
        ("points.npy", npy_bytes(POINTS.astype(np.float32))),
        ("points.npy", npy_bytes(np.asfortranarray(POINTS))),
    ],
)
async def test_every_format_gives_the_same_data(
    client: httpx.AsyncClient, name: str, content: bytes
) -> None:
    reference = await post_file(client, "ref.npy", npy_bytes(POINTS))
    response = await post_file(client, name, content)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["shape"] == [4, 2]
    assert body["kind"] == "point_cloud"
    assert body["n_points"] == 4
    assert body["dimension"] == 2
    assert body["size_bytes"] == len(content)
    assert body["sha256"] == reference.json()["sha256"]
    assert response.headers["location"] == f"/api/v1/data/{body['data_id']}"
    fetched = await client.get(f"/api/v1/data/{body['data_id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_json_body_upload(client: httpx.AsyncClient) -> None:
    response = await client.post(UPLOAD, json={"data": POINTS.tolist(), "name": "four points"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["format"] == "json"
    assert body["filename"] == "four points"
    assert body["shape"] == [4, 2]


async def test_one_column_and_flat_json_are_points_on_a_line(client: httpx.AsyncClient) -> None:
    for response in (
        await post_file(client, "line.csv", b"1\n2\n4\n"),
        await client.post(UPLOAD, json={"data": [1, 2, 4]}),
    ):
        assert response.status_code == 201, response.text
        assert response.json()["shape"] == [3, 1]


async def test_distance_matrix(client: httpx.AsyncClient) -> None:
    matrix = np.array([[0, 1, 2], [1, 0, 1.5], [2, 1.5, 0]])
    response = await post_file(client, "d.npy", npy_bytes(matrix), kind="distance_matrix")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "distance_matrix"
    assert body["dimension"] is None


async def test_same_bytes_stored_once(client: httpx.AsyncClient, app: FastAPI) -> None:
    first = await post_file(client, "a.csv", b"0,0\n1,1\n")
    second = await post_file(client, "b.csv", b"0,0\n1,1\n")
    assert first.status_code == second.status_code == 201
    assert first.json()["data_id"] != second.json()["data_id"]
    assert first.json()["sha256"] == second.json()["sha256"]
    assert await stored_blobs(app) == 1


async def test_filename_is_only_a_label(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await post_file(client, "../../etc/evil.csv", b"0,0\n1,1\n")
    assert response.status_code == 201
    assert response.json()["filename"] == "evil.csv"
    assert not (settings.data_dir.parent / "etc").exists()


def _pickled_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "form", "expected"),
    [
        ("nan.csv", b"0,0\n1,nan\n", {}, "row 2, column 2 is nan"),
        ("inf.csv", b"0,0\n1,inf\n", {}, "row 2, column 2 is inf"),
        ("ragged.csv", b"0,0\n1,2,3\n", {}, "line 2 has 3 values"),
        ("words.csv", b"0,0\n1,abc\n", {}, "line 2, column 2: 'abc' is not a number"),
        ("empty.csv", b"", {}, "empty"),
        ("header.csv", b"x,y\n", {}, "no data rows"),
        ("latin1.csv", b"0,0\n\xff,1\n", {}, "not UTF-8"),
        ("ragged.json", b"[[0,0],[1]]", {}, "row 2 has 1 values"),
        ("strings.json", b'[[0,0],["1",2]]', {}, 'row 2, column 1: "1" is not a number'),
        ("bools.json", b"[[0,0],[true,2]]", {}, "row 2, column 1: true is not a number"),
        ("nan.json", b"[[0,0],[NaN,2]]", {}, "is nan"),
        ("bad.json", b"[[0,0],", {}, "malformed JSON"),
        ("object.json", b'{"points": [[0]]}', {}, "unknown key"),
        ("pickled.npy", _pickled_npy(), {}, "never"),
        ("raw.npy", pickle.dumps([[0.0, 1.0]]), {}, "not a valid .npy"),
        ("short.npy", npy_bytes(POINTS)[:-8], {}, "bytes follow it"),
        ("complex.npy", npy_bytes(np.ones((2, 2), dtype=complex)), {}, "dtype complex128"),
        ("cube.npy", npy_bytes(np.ones((2, 2, 2))), {}, "2-D table"),
        ("points.csv", b"0,0\n1,1\n", {"kind": "graph"}, "kind: must be"),
        ("rect.csv", b"0,1,2\n1,0,3\n", {"kind": "distance_matrix"}, "must be square"),
        ("asym.csv", b"0,1\n2,0\n", {"kind": "distance_matrix"}, "symmetric"),
        ("neg.csv", b"0,-1\n-1,0\n", {"kind": "distance_matrix"}, "negative"),
        ("diag.csv", b"1,1\n1,0\n", {"kind": "distance_matrix"}, "diagonal"),
        (
            "kind.json",
            b'{"data": [[0]], "kind": "point_cloud"}',
            {"kind": "distance_matrix"},
            "the form says",
        ),
    ],
)
async def test_invalid_data_is_422_naming_the_problem(
    client: httpx.AsyncClient,
    app: FastAPI,
    name: str,
    content: bytes,
    form: dict[str, str],
    expected: str,
) -> None:
    response = await post_file(client, name, content, **form)
    assert response.status_code == 422, response.text
    assert expected in detail_text(response)
    assert await stored_blobs(app) == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "malformed JSON"),
        (b"[[0, 1]]", "expected an object"),
        (b'{"data": [[0, 1]], "kind": "matrix"}', "kind: must be"),
        (b'{"kind": "point_cloud"}', "no 'data'"),
        (b'{"data": []}', "no rows"),
        (b'{"data": [[0, 1]], "name": 3}', "name: must be a string"),
    ],
)
async def test_invalid_json_body_is_422(
    client: httpx.AsyncClient, body: bytes, expected: str
) -> None:
    response = await client.post(UPLOAD, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert expected in detail_text(response)


async def test_unsupported_types_are_415(client: httpx.AsyncClient) -> None:
    response = await post_file(client, "points.xlsx", b"PK\x03\x04", "application/vnd.ms-excel")
    assert response.status_code == 415
    assert "unsupported type" in detail_text(response)
    response = await client.post(
        UPLOAD, content=b"0,0\n1,1\n", headers={"content-type": "text/csv"}
    )
    assert response.status_code == 415
    assert "Content-Type" in detail_text(response)


async def test_type_from_content_type_or_magic(client: httpx.AsyncClient) -> None:
    by_type = await post_file(client, "blob", b"0,0\n1,1\n", "text/csv")
    by_magic = await post_file(client, "blob", npy_bytes(POINTS), "application/octet-stream")
    assert by_type.status_code == by_magic.status_code == 201
    assert (by_type.json()["format"], by_magic.json()["format"]) == ("csv", "npy")


async def test_missing_file_field_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        UPLOAD, data={"kind": "point_cloud"}, files={"other": ("a.csv", b"0,0\n")}
    )
    assert response.status_code == 422
    assert "file: missing" in detail_text(response)


async def test_malformed_multipart_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        UPLOAD,
        content=b"--xyz\r\n[]--xyz--\r\n",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert response.status_code == 422, response.text
    assert "malformed multipart" in detail_text(response)


async def test_unknown_data_id_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/data/data_doesnotexist")
    assert response.status_code == 404
    assert "data_id" in detail_text(response)


class TestLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"max_upload_mb": 0.05, "max_points": 100, "max_dimensions": 3}

    async def test_too_large_upload_is_413(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        content = b"0.123456789,0.123456789\n" * 6000  # ~140 kB
        response = await post_file(client, "big.csv", content)
        assert response.status_code == 413
        assert "MAX_UPLOAD_MB" in detail_text(response)
        assert await stored_blobs(app) == 0

    async def test_too_large_chunked_upload_is_413(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> Any:
            for _ in range(200):
                yield b"0" * 1024

        response = await client.post(
            UPLOAD, content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413

    async def test_point_and_dimension_caps_are_413(self, client: httpx.AsyncClient) -> None:
        response = await post_file(client, "many.npy", npy_bytes(np.zeros((101, 2))))
        assert response.status_code == 413
        assert "MAX_POINTS" in detail_text(response)
        response = await post_file(client, "wide.npy", npy_bytes(np.zeros((5, 4))))
        assert response.status_code == 413
        assert "MAX_DIMENSIONS" in detail_text(response)


async def test_upload_json_document_keeps_kind(client: httpx.AsyncClient) -> None:
    document = {"data": [[0, 1], [1, 0]], "kind": "distance_matrix"}
    response = await post_file(client, "d.json", json.dumps(document).encode(), "application/json")
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "distance_matrix"
