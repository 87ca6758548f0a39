"""API keys and per-key limits on a real ``tda-server`` with two worker processes (API_WORKERS=2)
over one SQLite database: the job cap holds across the processes."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from e2e_helpers import Server

KEY_A = "e2e-key-alice-0123456789"
KEY_B = "e2e-key-bob-9876543210"


def test_keys_and_the_job_cap_across_server_processes(tmp_path: Path) -> None:
    server = Server(tmp_path / "var", API_WORKERS="2", JOB_WORKERS="0", MAX_JOBS_PER_KEY="3")
    server.env["API_KEYS"] = f"{KEY_A},{KEY_B}"  # Server clears API_KEYS from its environment
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/health").status_code in (200, 503)
            assert client.get("/api/v1/tda/jobs").status_code == 401
            assert client.post("/api/v1/tda/compute/vietoris-rips", content=b"{").status_code == 401

            buffer = io.BytesIO()
            np.save(buffer, np.random.default_rng(0).standard_normal((12, 2)))
            upload = client.post(
                "/api/v1/data/upload",
                files={"file": ("c.npy", buffer.getvalue(), "application/octet-stream")},
                headers={"X-API-Key": KEY_A},
            )
            assert upload.status_code == 201, upload.text
            data_id = upload.json()["data_id"]
            stranger = client.get(f"/api/v1/data/{data_id}", headers={"X-API-Key": KEY_B})
            assert stranger.status_code == 404

        def submit(coeff: int) -> int:
            # A connection per request: the two server processes share the listening socket.
            with httpx.Client(base_url=server.url, timeout=30) as own:
                response = own.post(
                    "/api/v1/tda/compute/vietoris-rips",
                    json={"data_id": data_id, "coeff": coeff},
                    headers={"X-API-Key": KEY_A},
                )
                return response.status_code

        primes = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
        with ThreadPoolExecutor(max_workers=12) as pool:
            codes = sorted(pool.map(submit, primes))
        assert codes.count(202) == 3, codes
        assert codes.count(429) == 9, codes
        with httpx.Client(base_url=server.url, timeout=30) as client:
            listing = client.get("/api/v1/tda/jobs", headers={"X-API-Key": KEY_A}).json()
            assert listing["total"] == 3
    finally:
        server.stop()
