"""Computations: parameters, job life cycle, cancellation, limits, reuse, and results equal to the
engine called directly."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import httpx
import numpy as np
import pytest
from api_helpers import (
    circle,
    detail_text,
    random_cloud,
    submit,
    upload_array,
    wait_for,
)

from tda_backend import core

RIPS = "/api/v1/tda/compute/vietoris-rips"
ALPHA = "/api/v1/tda/compute/alpha-complex"
# Takes tens of seconds uninterrupted (about 2 GB estimated): only ever started to be stopped.
SLOW_CLOUD = random_cloud(700, 4, seed=1)
SLOW_PARAMS = {"maxdim": 2}


def as_json_pairs(diagram: np.ndarray) -> list[list[float | None]]:
    return [[b, None if math.isinf(d) else d] for b, d in diagram.tolist()]


def assert_same_diagrams(result: dict[str, Any], expected: core.PersistenceResult) -> None:
    assert set(result["diagrams"]) == {str(k) for k in range(len(expected.diagrams))}
    for dim, diagram in enumerate(expected.diagrams):
        got = sorted(result["diagrams"][str(dim)], key=lambda p: (p[0], p[1] is None, p[1] or 0))
        want = sorted(as_json_pairs(diagram), key=lambda p: (p[0], p[1] is None, p[1] or 0))
        assert got == want, f"dimension {dim}"
    assert result["betti"] == expected.betti()


async def test_rips_result_equals_the_engine(client: httpx.AsyncClient) -> None:
    points = circle(30, noise=0.05)
    data = await upload_array(client, points)
    response = await client.post(RIPS, json={"data_id": data["data_id"], "maxdim": 1})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running", "succeeded")
    assert response.headers["location"] == f"/api/v1/tda/jobs/{job['job_id']}"
    assert job["params"] == {
        "maxdim": 1,
        "threshold": None,
        "coeff": 2,
        "metric": "euclidean",
        "n_threads": 1,
        "representatives": False,
    }
    done = await wait_for(client, job["job_id"])
    assert done["status"] == "succeeded", done
    assert done["progress"] == 1.0
    assert done["result_url"] == f"/api/v1/tda/results/{job['job_id']}"
    assert done["started_at"]
    assert done["finished_at"]
    assert done["attempts"] == 1

    result = (await client.get(done["result_url"])).json()
    assert result["job_id"] == job["job_id"]
    assert result["data_id"] == data["data_id"]
    assert_same_diagrams(result, core.vietoris_rips(points, maxdim=1))
    assert result["betti"] == [1, 0]  # without a threshold the complex ends contractible
    summary = result["summary"]
    assert summary["pairs"]["1"] == len(result["diagrams"]["1"])
    assert summary["essential"] == {"0": 1, "1": 0}
    longest_h1 = summary["longest_bars"]["1"][0]
    assert longest_h1[1] - longest_h1[0] > 0.8  # the circle's hole
    metadata = result["metadata"]
    assert metadata["engine_version"] == core.ENGINE_VERSION
    assert metadata["coefficient_field"] == "Z/2Z"
    assert "diameter" in metadata["convention"]
    assert metadata["duration_s"] >= 0
    assert "representatives" not in result


async def test_rips_options_reach_the_engine(client: httpx.AsyncClient) -> None:
    points = random_cloud(40, 3, seed=3)
    data = await upload_array(client, points)
    params = {"maxdim": 2, "threshold": 1.5, "coeff": 3, "metric": "manhattan", "n_threads": 2}
    job = await submit(client, "vietoris-rips", data_id=data["data_id"], **params)
    done = await wait_for(client, job["job_id"])
    assert done["status"] == "succeeded", done
    result = (await client.get(f"/api/v1/tda/results/{job['job_id']}")).json()
    expected = core.vietoris_rips(points, maxdim=2, threshold=1.5, coeff=3, metric="manhattan")
    assert_same_diagrams(result, expected)
    assert result["metadata"]["coefficient_field"] == "Z/3Z"


async def test_rips_on_a_distance_matrix(client: httpx.AsyncClient) -> None:
    points = circle(16, noise=0.02, seed=4)
    matrix = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    data = await upload_array(client, matrix, kind="distance_matrix")
    job = await submit(client, "vietoris-rips", data_id=data["data_id"], maxdim=1)
    done = await wait_for(client, job["job_id"])
    assert done["status"] == "succeeded", done
    result = (await client.get(f"/api/v1/tda/results/{job['job_id']}")).json()
    assert_same_diagrams(result, core.vietoris_rips(matrix, maxdim=1, distance_matrix=True))


async def test_representatives_when_asked(client: httpx.AsyncClient) -> None:
    data = await upload_array(client, circle(12))
    job = await submit(client, "vietoris-rips", data_id=data["data_id"], representatives=True)
    await wait_for(client, job["job_id"])
    result = (await client.get(f"/api/v1/tda/results/{job['job_id']}")).json()
    representatives = result["representatives"]
    for dim, pairs in result["diagrams"].items():
        assert len(representatives[dim]) == len(pairs)
        for (_, death), rep in zip(pairs, representatives[dim], strict=True):
            assert len(rep["birth_simplex"]) == int(dim) + 1
            assert (death is None) == (rep["death_simplex"] == [])


async def test_alpha_complex_equals_the_engine(client: httpx.AsyncClient) -> None:
    points = circle(20, noise=0.03, seed=5)
    data = await upload_array(client, points)
    for values in ("squared_radius", "radius"):
        job = await submit(client, "alpha-complex", data_id=data["data_id"], values=values)
        done = await wait_for(client, job["job_id"])
        assert done["status"] == "succeeded", done
        result = (await client.get(f"/api/v1/tda/results/{job['job_id']}")).json()
        assert_same_diagrams(result, core.alpha_complex(points, values=values))
        assert result["metadata"]["params"]["values"] == values
        assert ("squared" in result["metadata"]["convention"]) == (values == "squared_radius")


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"maxdim": -1}, "maxdim", "greater than or equal to 0"),
        ({"threshold": -0.5}, "threshold", "greater than or equal to 0"),
        ({"coeff": 4}, "coeff", "4 is not prime"),
        ({"coeff": 1}, "coeff", "greater than or equal to 2"),
        ({"metric": "hamming"}, "metric", "euclidean"),
        ({"n_threads": 0}, "n_threads", "greater than or equal to 1"),
        ({"maxdim": "two"}, "maxdim", "integer"),
        ({"bogus": 1}, "bogus", "Extra inputs"),
    ],
)
async def test_invalid_parameters_are_422_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, Any], field: str, message: str
) -> None:
    data = await upload_array(client, circle(8))
    response = await client.post(RIPS, json={"data_id": data["data_id"], **params})
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field and message in e["msg"] for e in errors), errors


async def test_malformed_or_missing_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        RIPS, content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    response = await client.post(RIPS, json={"maxdim": 1})
    assert response.status_code == 422
    assert "data_id" in detail_text(response)


async def test_unknown_data_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(RIPS, json={"data_id": "data_nope"})
    assert response.status_code == 404
    assert "data_id" in detail_text(response)


async def test_parameters_that_do_not_fit_the_data_are_422(client: httpx.AsyncClient) -> None:
    matrix = np.array([[0.0, 1.0], [1.0, 0.0]])
    data = await upload_array(client, matrix, kind="distance_matrix")
    response = await client.post(ALPHA, json={"data_id": data["data_id"]})
    assert response.status_code == 422
    assert "point cloud" in detail_text(response)
    response = await client.post(RIPS, json={"data_id": data["data_id"], "metric": "cosine"})
    assert response.status_code == 422
    assert "metric" in detail_text(response)


async def test_identical_computation_reuses_the_result(client: httpx.AsyncClient) -> None:
    points = circle(20, noise=0.05, seed=6)
    first_upload = await upload_array(client, points)
    second_upload = await upload_array(client, points)  # same bytes, another data_id
    first = await submit(client, "vietoris-rips", data_id=first_upload["data_id"])
    await wait_for(client, first["job_id"])
    again = await submit(client, "vietoris-rips", data_id=second_upload["data_id"], n_threads=2)
    assert again["status"] == "succeeded"
    assert again["reused"] is True
    results = [
        (await client.get(f"/api/v1/tda/results/{j['job_id']}")).json() for j in (first, again)
    ]
    assert results[0]["diagrams"] == results[1]["diagrams"]
    assert results[1]["data_id"] == second_upload["data_id"]
    different = await submit(client, "vietoris-rips", data_id=first_upload["data_id"], maxdim=0)
    assert different["reused"] is False


async def test_listing_pages_and_filters(client: httpx.AsyncClient) -> None:
    data = await upload_array(client, circle(10))
    ids = []
    for maxdim in range(3):
        job = await submit(client, "vietoris-rips", data_id=data["data_id"], maxdim=maxdim)
        ids.append(job["job_id"])
    for job_id in ids:
        await wait_for(client, job_id)
    page = (await client.get("/api/v1/tda/jobs", params={"limit": 2})).json()
    assert page["total"] == 3
    assert page["limit"] == 2
    assert page["offset"] == 0
    assert [j["job_id"] for j in page["items"]] == ids[::-1][:2]
    rest = (await client.get("/api/v1/tda/jobs", params={"limit": 2, "offset": 2})).json()
    assert [j["job_id"] for j in rest["items"]] == ids[:1]
    succeeded = (await client.get("/api/v1/tda/jobs", params={"status": "succeeded"})).json()
    assert succeeded["total"] == 3
    failed = (await client.get("/api/v1/tda/jobs", params={"status": "failed"})).json()
    assert failed["total"] == 0
    assert failed["items"] == []
    bad = await client.get("/api/v1/tda/jobs", params={"status": "done"})
    assert bad.status_code == 422
    bad = await client.get("/api/v1/tda/jobs", params={"limit": 0})
    assert bad.status_code == 422


async def test_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/tda/jobs/job_nope"),
        ("DELETE", "/api/v1/tda/jobs/job_nope"),
        ("GET", "/api/v1/tda/results/job_nope"),
        ("GET", "/api/v1/tda/results/job_nope/csv"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert "job_id" in detail_text(response)


async def test_request_id_follows_the_job(client: httpx.AsyncClient) -> None:
    data = await upload_array(client, circle(8))
    response = await client.post(
        RIPS, json={"data_id": data["data_id"]}, headers={"X-Request-ID": "trace-42"}
    )
    assert response.headers["x-request-id"] == "trace-42"
    assert response.json()["request_id"] == "trace-42"


async def test_cancelling_a_running_job(client: httpx.AsyncClient) -> None:
    data = await upload_array(client, SLOW_CLOUD)
    job = await submit(client, "vietoris-rips", data_id=data["data_id"], **SLOW_PARAMS)
    await wait_for(client, job["job_id"], until=lambda j: j["status"] == "running")
    started = time.monotonic()
    response = await client.delete(f"/api/v1/tda/jobs/{job['job_id']}")
    assert response.status_code == 200
    cancelled = await wait_for(client, job["job_id"], within=5)
    assert cancelled["status"] == "cancelled"
    assert time.monotonic() - started < 2.0
    result = await client.get(f"/api/v1/tda/results/{job['job_id']}")
    assert result.status_code == 409
    assert "cancelled" in detail_text(result)
    again = await client.delete(f"/api/v1/tda/jobs/{job['job_id']}")
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"


async def test_cancelling_a_finished_job_is_409(client: httpx.AsyncClient) -> None:
    data = await upload_array(client, circle(8))
    job = await submit(client, "vietoris-rips", data_id=data["data_id"])
    await wait_for(client, job["job_id"])
    response = await client.delete(f"/api/v1/tda/jobs/{job['job_id']}")
    assert response.status_code == 409
    assert "succeeded" in detail_text(response)


class TestWithoutWorkers:
    """JOB_WORKERS=0: jobs stay queued, which makes the queued state observable."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"job_workers": 0}

    async def test_result_is_409_while_queued_and_queued_jobs_cancel_at_once(
        self, client: httpx.AsyncClient
    ) -> None:
        data = await upload_array(client, circle(8))
        job = await submit(client, "vietoris-rips", data_id=data["data_id"])
        assert job["status"] == "queued"
        assert job["progress"] == 0.0
        for suffix in ("", "/csv", "/npz", "/diagram.svg", "/barcode.svg"):
            response = await client.get(f"/api/v1/tda/results/{job['job_id']}{suffix}")
            assert response.status_code == 409, suffix
            assert "queued" in detail_text(response)
        response = await client.delete(f"/api/v1/tda/jobs/{job['job_id']}")
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"


class TestTimeLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"job_time_limit_s": 1.0, "job_workers": 1}

    async def test_overlong_job_fails_and_the_worker_goes_on(
        self, client: httpx.AsyncClient
    ) -> None:
        slow = await upload_array(client, SLOW_CLOUD)
        job = await submit(client, "vietoris-rips", data_id=slow["data_id"], **SLOW_PARAMS)
        small = await upload_array(client, circle(8))
        after = await submit(client, "vietoris-rips", data_id=small["data_id"])
        failed = await wait_for(client, job["job_id"], within=10)
        assert failed["status"] == "failed"
        assert "time limit" in failed["error"]
        assert "JOB_TIME_LIMIT_S" in failed["error"]
        done = await wait_for(client, after["job_id"], within=10)
        assert done["status"] == "succeeded"


class TestMemoryLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"max_job_memory_mb": 50}

    async def test_too_large_estimate_is_refused_with_advice(
        self, client: httpx.AsyncClient
    ) -> None:
        data = await upload_array(client, SLOW_CLOUD)
        response = await client.post(RIPS, json={"data_id": data["data_id"], **SLOW_PARAMS})
        assert response.status_code == 422
        message = detail_text(response)
        assert "MAX_JOB_MEMORY_MB" in message
        assert "threshold" in message
        assert response.json()["detail"][0]["loc"] == ["body", "maxdim"]
        listing = (await client.get("/api/v1/tda/jobs")).json()
        assert listing["total"] == 0


async def test_progress_is_reported_while_running(client: httpx.AsyncClient) -> None:
    data = await upload_array(client, SLOW_CLOUD)
    job = await submit(client, "vietoris-rips", data_id=data["data_id"], **SLOW_PARAMS)
    running = await wait_for(client, job["job_id"], until=lambda j: j["progress"] > 0, within=20)
    assert running["status"] == "running"
    assert 0 < running["progress"] < 1
    await client.delete(f"/api/v1/tda/jobs/{job['job_id']}")
    await wait_for(client, job["job_id"])


async def test_many_concurrent_submissions(client: httpx.AsyncClient) -> None:
    data = await upload_array(client, circle(10))
    jobs = await asyncio.gather(
        *[
            submit(client, "vietoris-rips", data_id=data["data_id"], coeff=p)
            for p in (2, 3, 5, 7, 11, 13)
        ]
    )
    finished = await asyncio.gather(*[wait_for(client, j["job_id"]) for j in jobs])
    assert [j["status"] for j in finished] == ["succeeded"] * 6
