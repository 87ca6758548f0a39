"""Operations: health, metrics, request ids, the streaming placeholder, the documentation."""

from __future__ import annotations

import httpx
from api_helpers import circle, submit, upload_array, wait_for


async def test_health_reports_each_dependency(client: httpx.AsyncClient, backend: str) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    checks = body["checks"]
    for name in ("database", "blob_store", "engine", "workers", "cache"):
        assert checks[name]["status"] == "ok", name
    production = backend == "production"
    assert checks["database"]["info"]["backend"] == ("postgresql" if production else "sqlite")
    assert checks["blob_store"]["info"]["backend"] == ("database" if production else "files")
    assert checks["cache"]["info"]["backend"] == ("redis" if production else "memory")
    assert checks["redis"]["status"] == ("ok" if production else "disabled")
    assert checks["workers"]["info"]["runner"] == ("redis-queue" if production else "embedded")
    for name in ("kafka", "flink"):
        assert checks[name]["status"] == "disabled", name
    assert body["engine_version"]


async def test_metrics_count_requests_and_jobs(client: httpx.AsyncClient) -> None:
    data = await upload_array(client, circle(8))
    job = await submit(client, "vietoris-rips", data_id=data["data_id"])
    await wait_for(client, job["job_id"])
    response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'tda_http_requests_total{method="POST",route="/api/v1/data/upload",status="201"}' in text
    assert "tda_http_request_duration_seconds_bucket" in text
    assert 'tda_jobs{algorithm="vietoris-rips",status="succeeded"} 1.0' in text
    assert "tda_job_queue_depth 0.0" in text
    assert 'tda_jobs_finished_total{algorithm="vietoris-rips",status="succeeded"}' in text
    assert "tda_job_duration_seconds_bucket" in text


async def test_request_id_is_generated_or_echoed(client: httpx.AsyncClient) -> None:
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    unsafe = await client.get("/health", headers={"X-Request-ID": "a b\tc"})
    assert unsafe.headers["x-request-id"] != "a b\tc"


async def test_streaming_is_not_configured(client: httpx.AsyncClient) -> None:
    status = await client.get("/api/v1/stream/status")
    assert status.status_code == 503
    assert "streaming is not configured" in status.json()["detail"]
    event = {"stream_id": "s", "point": [0.0, 1.0]}
    published = await client.post("/api/v1/stream/publish", json={"events": [event]})
    assert published.status_code == 503
    invalid = await client.post("/api/v1/stream/publish", json={"events": [{"point": []}]})
    assert invalid.status_code == 422


async def test_documentation_pages(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "html" in response.headers["content-type"]
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/data/upload",
        "/api/v1/data/{data_id}",
        "/api/v1/tda/compute/vietoris-rips",
        "/api/v1/tda/compute/alpha-complex",
        "/api/v1/tda/jobs",
        "/api/v1/tda/jobs/{job_id}",
        "/api/v1/tda/results/{job_id}",
        "/api/v1/stream/publish",
        "/api/v1/stream/status",
        "/health",
        "/metrics",
    ):
        assert path in paths, path
    upload = paths["/api/v1/data/upload"]["post"]["requestBody"]["content"]
    assert set(upload) == {"multipart/form-data", "application/json"}


async def test_unknown_route_is_404_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["detail"]
