"""What accepting and reading a job costs the database: a submission is two statements (the
dataset, and the insert made conditional on the absence of a reusable result, which is the only
write and the only commit) and leaves the data unread while its size alone shows the job fits
``MAX_JOB_MEMORY_MB``; reading a job is one statement and commits nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
from api_helpers import random_cloud, submit, upload_array
from fastapi import FastAPI
from sqlalchemy import event

from tda_backend.models.jobs import VietorisRipsRequest
from tda_backend.models.tables import Result
from tda_backend.services import compute
from tda_backend.services.container import Services
from tda_backend.services.jobs import computation_for

RIPS = "/api/v1/tda/compute/vietoris-rips"
# Within the engine's memory estimate only at a small threshold: its size-only bound (every pair
# within the threshold) is far larger.
CLOUD = random_cloud(120, 3, seed=5)
PARAMS = {"maxdim": 2, "threshold": 0.4}


def _computation() -> compute.Computation:
    engine_params = {"coeff": 2, "representatives": False, "metric": "euclidean", **PARAMS}
    return compute.Computation("vietoris-rips", engine_params, "point_cloud")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # No computing and no periodic sweep or recovery: only the requests touch the database.
    return {"job_workers": 0, "queue_sweep_s": 3600.0, "job_lease_s": 3600.0}


@dataclass
class Traffic:
    statements: list[str] = field(default_factory=list)
    commits: int = 0
    blob_reads: int = 0

    @property
    def queries(self) -> list[str]:
        """The statements without SQLite's ``BEGIN IMMEDIATE`` (a transaction, not a query)."""
        return [s for s in self.statements if not s.startswith("BEGIN")]


@contextmanager
def traffic(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[Traffic]:
    services: Services = app.state.services
    engine = services.engine.sync_engine
    seen = Traffic()

    def on_statement(*args: Any) -> None:
        seen.statements.append(" ".join(str(args[2]).split()))

    def on_commit(*_: Any) -> None:
        seen.commits += 1

    read = services.blobs.get

    def counting_read(sha256: str) -> bytes:
        seen.blob_reads += 1
        return read(sha256)

    monkeypatch.setattr(services.blobs, "get", counting_read)
    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)
        monkeypatch.setattr(services.blobs, "get", read)


async def record_result(app: FastAPI, data: dict[str, Any], **params: Any) -> None:
    """A result of Vietoris-Rips with ``params`` on the uploaded ``data``, as if computed."""
    engine_params = VietorisRipsRequest(data_id=data["data_id"], **params).model_dump(
        exclude={"data_id"}
    )
    computation = computation_for("vietoris-rips", engine_params, "point_cloud", data["data_id"])
    services: Services = app.state.services
    await services.repo.add_result(
        Result(
            key=compute.result_key(data["sha256"], computation),
            blob_sha256="0" * 64,
            algorithm="vietoris-rips",
            data_sha256=data["sha256"],
            duration_s=0.0,
        )
    )


async def test_a_submission_is_two_statements_and_reads_no_data(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = await upload_array(client, random_cloud(40, 3))
    with traffic(app, monkeypatch) as seen:
        job = await submit(client, "vietoris-rips", data_id=data["data_id"], maxdim=2)
    assert job["status"] == "queued"
    assert seen.commits == 1
    assert [q.split()[0] for q in seen.queries] == ["SELECT", "INSERT"], seen.queries
    assert "FROM datasets" in seen.queries[0]
    assert seen.queries[1].startswith("INSERT INTO jobs")
    assert "NOT (EXISTS (SELECT * FROM results WHERE" in seen.queries[1]
    assert seen.blob_reads == 0
    stored = await client.get(f"/api/v1/tda/jobs/{job['job_id']}")
    assert stored.json() == job


async def test_reading_a_job_is_one_statement(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = await upload_array(client, random_cloud(20, 2))
    job = await submit(client, "vietoris-rips", data_id=data["data_id"])
    with traffic(app, monkeypatch) as seen:
        response = await client.get(f"/api/v1/tda/jobs/{job['job_id']}")
    assert response.status_code == 200
    assert response.json()["status"] == "queued"
    assert len(seen.queries) == 1
    assert "FROM jobs" in seen.queries[0]
    assert seen.commits == 0


class TestDataReadOnlyWhereTheSizeCannotTell:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        estimate = compute.estimate_mb(_computation(), CLOUD)
        bound = compute.bound_mb(_computation(), len(CLOUD))
        assert bound is not None
        assert bound > 10 * estimate
        return {
            "job_workers": 0,
            "queue_sweep_s": 3600.0,
            "job_lease_s": 3600.0,
            "max_job_memory_mb": 2 * estimate,
        }

    async def test_the_engine_estimate_decides_past_the_bound(
        self, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        data = await upload_array(client, CLOUD)
        with traffic(app, monkeypatch) as seen:
            job = await submit(client, "vietoris-rips", data_id=data["data_id"], **PARAMS)
        assert job["status"] == "queued"
        assert seen.blob_reads == 1
        assert seen.commits == 1  # the first attempt inserted nothing and committed nothing
        # Past the bound and past the estimate: refused as before, after reading the data.
        with traffic(app, monkeypatch) as seen:
            response = await client.post(
                RIPS, json={"data_id": data["data_id"], "maxdim": 2, "threshold": 10.0}
            )
        assert response.status_code == 422, response.text
        assert "MAX_JOB_MEMORY_MB" in response.text
        assert seen.blob_reads == 1
        assert seen.commits == 0


async def test_a_reused_result_is_found_by_the_conditional_insert(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = await upload_array(client, random_cloud(30, 3, seed=1))
    await record_result(app, data, maxdim=1)
    with traffic(app, monkeypatch) as seen:
        job = await submit(client, "vietoris-rips", data_id=data["data_id"], maxdim=1)
    assert job["status"] == "succeeded"
    assert job["reused"] is True
    assert seen.commits == 1
    # The queued job's insert found the result and inserted nothing; the reused job's went in.
    assert [q.split()[0] for q in seen.queries] == ["SELECT", "INSERT", "SELECT", "INSERT"]
    assert "FROM results" in seen.queries[2]
    assert seen.blob_reads == 0
    listed = (await client.get("/api/v1/tda/jobs")).json()
    assert [j["job_id"] for j in listed["items"]] == [job["job_id"]]
    assert listed["items"][0]["status"] == "succeeded"


def test_the_size_bound_holds_the_engine_estimate() -> None:
    """``compute.bound_mb`` repeats the engine's estimate at its largest: never below it, and
    equal to it where every pair is within the threshold (a check that the two stay in step)."""
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 60, 150):
        for maxdim in (0, 1, 2, 3):
            for threshold in (None, 0.5, 1e9):
                for kind in ("point_cloud", "distance_matrix"):
                    points = rng.standard_normal((n, 3))
                    data = (
                        np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
                        if kind == "distance_matrix"
                        else points
                    )
                    computation = compute.Computation(
                        "vietoris-rips",
                        {
                            "maxdim": maxdim,
                            "threshold": threshold,
                            "metric": "euclidean",
                            "coeff": 2,
                            "representatives": False,
                        },
                        kind,  # type: ignore[arg-type]
                    )
                    estimate = compute.estimate_mb(computation, data)
                    bound = compute.bound_mb(computation, n)
                    assert bound is not None
                    assert bound >= estimate, (n, maxdim, threshold, kind)
                    if kind == "point_cloud" and threshold == 1e9:
                        assert bound == pytest.approx(estimate, rel=1e-9)
    alpha = compute.Computation("alpha-complex", {"maxdim": None}, "point_cloud")
    assert compute.bound_mb(alpha, 100) is None


async def test_concurrent_submissions_are_accepted_in_batches(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Submissions arriving while others are being accepted are accepted together: their
    datasets in one read, their results in one, their jobs in one insert and one commit. Each
    keeps its own outcome: a missing dataset is a 404 for that submission alone, and one whose
    result exists is answered with it."""
    fresh = [await upload_array(client, random_cloud(25, 3, seed=10 + i)) for i in range(6)]
    computed = await upload_array(client, random_cloud(30, 3, seed=1))
    await record_result(app, computed, maxdim=1)
    documents = [{"data_id": d["data_id"], "maxdim": 1} for d in fresh]
    documents.insert(3, {"data_id": "data_missing", "maxdim": 1})
    documents.insert(5, {"data_id": computed["data_id"], "maxdim": 1})
    with traffic(app, monkeypatch) as seen:
        answers = await asyncio.gather(*(client.post(RIPS, json=d) for d in documents))
    statuses = [a.status_code for a in answers]
    assert statuses == [202, 202, 202, 404, 202, 202, 202, 202], [a.text for a in answers]
    assert "data_id: no data with id 'data_missing'" in answers[3].text
    jobs = [a.json() for a in answers if a.status_code == 202]
    assert [j["status"] for j in jobs] == ["queued"] * 4 + ["succeeded"] + ["queued"] * 2
    assert jobs[4]["reused"] is True
    assert [j["data_id"] for j in jobs] == [
        d["data_id"] for d in documents if d["data_id"] != "data_missing"
    ]
    # Alone, the 7 accepted jobs would take 16 statements and 7 commits.
    # The batch's read of its datasets: IN (...) on SQLite, = any(array) on PostgreSQL.
    reads = [q for q in seen.queries if "FROM datasets WHERE datasets.id" in q]
    assert any(" IN (" in q or " = any(" in q for q in reads), reads
    assert len(seen.queries) <= 11, seen.queries
    assert seen.commits <= 4
    for job in jobs:
        stored = await client.get(f"/api/v1/tda/jobs/{job['job_id']}")
        assert stored.json() == job
