"""Result downloads: CSV, NPZ and the SVG pictures agree with the JSON result."""

from __future__ import annotations

import io
import math
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import numpy as np
import pytest
from api_helpers import circle, submit, upload_array, wait_for

from tda_backend import render
from tda_backend.models.results import ResultOut

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
async def finished(client: httpx.AsyncClient) -> dict[str, Any]:
    data = await upload_array(client, circle(16, noise=0.05, seed=2))
    job = await submit(client, "vietoris-rips", data_id=data["data_id"], maxdim=1, threshold=1.2)
    done = await wait_for(client, job["job_id"])
    assert done["status"] == "succeeded", done
    result: dict[str, Any] = (await client.get(f"/api/v1/tda/results/{job['job_id']}")).json()
    ResultOut.model_validate(result)  # the documented schema
    return result


async def test_csv(client: httpx.AsyncClient, finished: dict[str, Any]) -> None:
    response = await client.get(f"/api/v1/tda/results/{finished['job_id']}/csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"{finished['job_id']}.csv" in response.headers["content-disposition"]
    lines = response.text.splitlines()
    assert lines[0] == "dimension,birth,death"
    rows = [line.split(",") for line in lines[1:]]
    expected = [
        (dim, b, math.inf if d is None else d)
        for dim, pairs in finished["diagrams"].items()
        for b, d in pairs
    ]
    assert [(r[0], float(r[1]), float(r[2])) for r in rows] == expected


async def test_npz(client: httpx.AsyncClient, finished: dict[str, Any]) -> None:
    response = await client.get(f"/api/v1/tda/results/{finished['job_id']}/npz")
    assert response.status_code == 200
    archive = np.load(io.BytesIO(response.content), allow_pickle=False)
    for dim, pairs in finished["diagrams"].items():
        expected = np.array([[b, np.inf if d is None else d] for b, d in pairs]).reshape(-1, 2)
        np.testing.assert_array_equal(archive[f"dgm_{dim}"], expected)
    assert archive["betti"].tolist() == finished["betti"]
    assert "engine_version" in str(archive["metadata"])


@pytest.mark.parametrize("picture", ["diagram.svg", "barcode.svg"])
async def test_pictures_are_svg_with_one_mark_per_pair(
    client: httpx.AsyncClient, finished: dict[str, Any], picture: str
) -> None:
    response = await client.get(f"/api/v1/tda/results/{finished['job_id']}/{picture}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.text)
    assert root.tag == f"{SVG}svg"
    marks = root.findall(f".//{SVG}circle" if picture == "diagram.svg" else f".//{SVG}line")
    titles = [m.find(f"{SVG}title") for m in marks]
    labelled = [t.text for t in titles if t is not None and t.text]
    n_pairs = sum(len(p) for p in finished["diagrams"].values())
    assert len(labelled) == n_pairs
    assert any("inf" in text for text in labelled)


def test_pictures_of_empty_and_large_diagrams_are_well_formed() -> None:
    for svg in (render.persistence_diagram_svg({}), render.barcode_svg({"0": []})):
        ET.fromstring(svg)
    many = {"0": [[0.0, float(i) / 7] for i in range(1, 500)] + [[0.0, None]]}
    barcode = ET.fromstring(render.barcode_svg(many))
    bars = barcode.findall(f".//{SVG}line/{SVG}title")
    assert len(bars) == render.BARS_PER_DIMENSION
    assert "100 longest of 500" in render.barcode_svg(many)
    ET.fromstring(render.persistence_diagram_svg(many, title="<a & b>"))
