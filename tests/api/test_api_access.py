"""API keys, per-owner isolation and per-key limits.

The isolation test walks every operation of the OpenAPI document, so a route added later without
an owner check fails here until it has one (or is classified below as owning no objects).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import circle, make_settings, npy_bytes, wait_for
from fastapi import FastAPI

from tda_backend.api.app import create_app
from tda_backend.api.limits import TokenBucketLimiter, retry_after_header

KEY_A = "key-alice-0123456789"
KEY_B = "key-bob-9876543210"
KEYS = f"{KEY_A}, {KEY_B}"
RIPS = "/api/v1/tda/compute/vietoris-rips"

# Operations that own no per-key object, and what a stranger's call must show instead of a 404.
_NOT_OWNED = {
    ("post", "/api/v1/data/upload"),  # creates the caller's own object
    ("get", "/api/v1/tda/jobs"),  # lists the caller's own jobs: checked to be empty
    ("post", "/api/v1/stream/publish"),  # stream events are not per-key objects
    ("get", "/api/v1/stream/status"),
}


def _as(key: str | None) -> dict[str, str]:
    return {} if key is None else {"X-API-Key": key}


async def _upload(client: httpx.AsyncClient, key: str) -> str:
    response = await client.post(
        "/api/v1/data/upload",
        files={"file": ("c.npy", npy_bytes(circle(12)), "application/octet-stream")},
        headers=_as(key),
    )
    assert response.status_code == 201, response.text
    data_id: str = response.json()["data_id"]
    return data_id


async def _submit(client: httpx.AsyncClient, key: str, data_id: str, **params: Any) -> Any:
    return await client.post(RIPS, json={"data_id": data_id, **params}, headers=_as(key))


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if path.startswith("/api/v1")
    ]


class TestKeys:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"api_keys": KEYS}

    async def test_every_api_route_needs_a_known_key(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        operations = _operations(app)
        assert len(operations) >= 12
        for method, path in operations:
            url = path.replace("{data_id}", "data_x").replace("{job_id}", "job_x")
            for headers in ({}, _as("not-a-key"), _as(KEY_A + "x")):
                response = await client.request(method, url, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
                assert "X-API-Key" in response.json()["detail"]

    async def test_the_key_is_checked_before_the_body_is_read(
        self, client: httpx.AsyncClient
    ) -> None:
        for body in (b"{", b"[" * 10_000, b"\xff\xfe"):
            response = await client.post(
                RIPS, content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 401, response.text
        response = await client.request("PATCH", "/api/v1/tda/jobs")
        assert response.status_code == 401

    async def test_health_is_open_and_metrics_open_by_default(
        self, client: httpx.AsyncClient
    ) -> None:
        assert (await client.get("/health")).status_code in (200, 503)
        assert (await client.get("/metrics")).status_code == 200

    async def test_openapi_documents_the_key(self, app: FastAPI) -> None:
        document = app.openapi()
        assert "APIKeyHeader" in document["components"]["securitySchemes"]
        upload = document["paths"]["/api/v1/data/upload"]["post"]
        assert upload["security"] == [{"APIKeyHeader": []}]
        assert "401" in upload["responses"]


class TestMetricsKey:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"api_keys": KEYS, "metrics_require_key": True}

    async def test_metrics_can_require_the_key(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=_as("wrong"))).status_code == 401
        response = await client.get("/metrics", headers=_as(KEY_B))
        assert response.status_code == 200
        assert "tda_" in response.text
        assert (await client.get("/health")).status_code in (200, 503)


class TestIsolation:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"api_keys": KEYS}

    async def test_a_stranger_gets_404_on_every_route_for_owned_objects(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        data_id = await _upload(client, KEY_A)
        done = await _submit(client, KEY_A, data_id)
        assert done.status_code == 202
        job_id = done.json()["job_id"]
        await wait_for_as(client, KEY_A, job_id)

        walked = []
        for method, path in _operations(app):
            if (method, path) in _NOT_OWNED:
                continue
            url = path.replace("{data_id}", data_id).replace("{job_id}", job_id)
            body = {"data_id": data_id} if path.startswith("/api/v1/tda/compute/") else None
            assert "{" in path or body is not None, f"unclassified route {method} {path}"
            stranger = await client.request(method, url, json=body, headers=_as(KEY_B))
            assert stranger.status_code == 404, (method, path, stranger.text)
            assert data_id not in stranger.text or "no data with id" in stranger.text
            owner = await client.request(method, url, json=body, headers=_as(KEY_A))
            assert owner.status_code < 400 or owner.status_code == 409, (method, path, owner.text)
            walked.append((method, path))
        assert len(walked) >= 9, walked

        listing = await client.get("/api/v1/tda/jobs", headers=_as(KEY_B))
        assert listing.status_code == 200
        assert listing.json()["total"] == 0
        own = await client.get("/api/v1/tda/jobs", headers=_as(KEY_A))
        assert own.json()["total"] >= 1

    async def test_same_bytes_uploaded_by_two_keys_stay_separate(
        self, client: httpx.AsyncClient
    ) -> None:
        a = await _upload(client, KEY_A)
        b = await _upload(client, KEY_B)
        assert a != b
        assert (await client.get(f"/api/v1/data/{a}", headers=_as(KEY_B))).status_code == 404
        assert (await client.get(f"/api/v1/data/{b}", headers=_as(KEY_B))).status_code == 200


async def wait_for_as(client: httpx.AsyncClient, key: str, job_id: str) -> dict[str, Any]:
    client.headers.update(_as(key))
    try:
        return await wait_for(client, job_id)
    finally:
        del client.headers["X-API-Key"]


class TestRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"api_keys": KEYS, "rate_limit_per_minute": 5}

    async def test_over_the_rate_is_429_with_retry_after_per_key(
        self, client: httpx.AsyncClient
    ) -> None:
        statuses = [
            (await client.get("/api/v1/tda/jobs", headers=_as(KEY_A))).status_code for _ in range(5)
        ]
        assert statuses == [200] * 5
        refused = await client.get("/api/v1/tda/jobs", headers=_as(KEY_A))
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "RATE_LIMIT_PER_MINUTE" in refused.json()["detail"]
        # Another key has its own budget; /health and /metrics are not limited.
        assert (await client.get("/api/v1/tda/jobs", headers=_as(KEY_B))).status_code == 200
        assert (await client.get("/metrics")).status_code == 200


class TestRateLimitOpenAccess:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_limit_per_minute": 2}

    async def test_without_keys_the_client_address_is_limited(
        self, client: httpx.AsyncClient
    ) -> None:
        codes = [(await client.get("/api/v1/tda/jobs")).status_code for _ in range(3)]
        assert codes == [200, 200, 429]


def test_token_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    limiter = TokenBucketLimiter(per_minute=60, clock=lambda: now[0])
    assert all(limiter.take("k") is None for _ in range(60))
    wait = limiter.take("k")
    assert wait is not None
    assert 0.9 < wait <= 1.0
    assert limiter.take("other") is None
    now[0] += 1.0
    assert limiter.take("k") is None
    assert limiter.take("k") is not None
    now[0] += 120.0  # a full bucket again, never more than per_minute
    assert all(limiter.take("k") is None for _ in range(60))
    assert limiter.take("k") is not None
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.2) == "2"


class TestJobCap:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        # No workers: submitted jobs stay queued and count against the cap.
        return {"api_keys": KEYS, "max_jobs_per_key": 2, "job_workers": 0}

    async def test_queued_and_running_jobs_are_capped_per_key(
        self, client: httpx.AsyncClient
    ) -> None:
        data_a = await _upload(client, KEY_A)
        first = await _submit(client, KEY_A, data_a, coeff=2)
        second = await _submit(client, KEY_A, data_a, coeff=3)
        assert (first.status_code, second.status_code) == (202, 202)
        refused = await _submit(client, KEY_A, data_a, coeff=5)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert "MAX_JOBS_PER_KEY" in refused.json()["detail"]
        listing = await client.get("/api/v1/tda/jobs", headers=_as(KEY_A))
        assert listing.json()["total"] == 2  # the refused job left no row

        data_b = await _upload(client, KEY_B)
        assert (await _submit(client, KEY_B, data_b)).status_code == 202

        job_id = first.json()["job_id"]
        cancel = await client.delete(f"/api/v1/tda/jobs/{job_id}", headers=_as(KEY_A))
        assert cancel.json()["status"] == "cancelled"
        assert (await _submit(client, KEY_A, data_a, coeff=7)).status_code == 202


async def test_job_cap_holds_across_servers_sharing_a_database(tmp_path: Path) -> None:
    """Two app instances (separate engines and connection pools, as two processes have) over one
    database: concurrent submissions never exceed the cap together."""
    settings = make_settings(tmp_path, api_keys=KEYS, max_jobs_per_key=3, job_workers=0)
    async with _running(create_app(settings)) as one, _running(create_app(settings)) as two:
        data_id = await _upload(one, KEY_A)
        responses = await asyncio.gather(
            *[
                _submit(client, KEY_A, data_id, coeff=p)
                for p, client in zip(
                    (2, 3, 5, 7, 11, 13, 17, 19, 23, 29), [one, two] * 5, strict=True
                )
            ]
        )
        codes = sorted(r.status_code for r in responses)
        assert codes.count(202) == 3, codes
        assert set(codes) == {202, 429}
        listing = await two.get("/api/v1/tda/jobs", headers=_as(KEY_A))
        assert listing.json()["total"] == 3


@contextlib.asynccontextmanager
async def _running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
