"""A production-mode fleet on loopback: ``tda-server`` and ``tda-worker`` processes on the session's
private PostgreSQL and Redis (``production_stack``), restartable and killable one by one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

BIN = Path(sys.executable).parent
TERMINAL = {"succeeded", "failed", "cancelled"}


def npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


class Fleet:
    def __init__(self, stack: Any, root: Path, port: int, **env: str) -> None:
        self.stack = stack
        self.root = root
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": stack.database_url,
            "REDIS_URL": stack.redis_url,
            "DATA_DIR": str(root / "var"),
            "API_HOST": "127.0.0.1",
            "API_PORT": str(port),
            "API_WORKERS": "1",
            "LOG_LEVEL": "INFO",
            "JOB_WORKERS": "1",
            # Short enough for the tests to see recoveries within seconds.
            "JOB_LEASE_S": "3",
            "QUEUE_SWEEP_S": "0.5",
            "JOB_MAX_ATTEMPTS": "3",
            "PROMETHEUS_MULTIPROC_DIR": str(root / "metrics"),
            **env,
        }
        for unset in ("API_KEYS", "KAFKA_BOOTSTRAP_SERVERS", "FLINK_REST_URL"):
            self.env.pop(unset, None)
        (root / "metrics").mkdir(parents=True, exist_ok=True)
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.client = httpx.Client(base_url=self.url, timeout=30)

    # -- processes ------------------------------------------------------------------------------

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("ab")
        return subprocess.Popen(
            [str(BIN / name), *args],
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_server(self, timeout: float = 60.0) -> None:
        self.server = self._spawn("tda-server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise AssertionError(f"tda-server exited:\n{self.log('tda-server')[-3000:]}")
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"tda-server not healthy:\n{self.log('tda-server')[-3000:]}")

    def start_worker(self, concurrency: int = 1, timeout: float = 60.0) -> subprocess.Popen[bytes]:
        before = self.log("tda-worker").count("tda-worker ready")
        worker = self._spawn("tda-worker", "--concurrency", str(concurrency))
        self.workers.append(worker)
        deadline = time.monotonic() + timeout
        while self.log("tda-worker").count("tda-worker ready") <= before:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"tda-worker did not start:\n{self.log('tda-worker')[-3000:]}")
            time.sleep(0.1)
        return worker

    def stop_server(self, sig: int = signal.SIGTERM) -> None:
        if self.server is not None:
            _stop(self.server, sig)
            self.server = None

    def stop(self) -> None:
        self.stop_server()
        for worker in self.workers:
            _stop(worker, signal.SIGTERM)
        self.workers = []
        self.client.close()

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- the API --------------------------------------------------------------------------------

    def upload(self, array: np.ndarray) -> str:
        response = self.client.post(
            "/api/v1/data/upload", files={"file": ("x.npy", npy(array), "application/octet-stream")}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["data_id"])

    def submit(self, data_id: str, **params: Any) -> str:
        response = self.client.post(
            "/api/v1/tda/compute/vietoris-rips", json={"data_id": data_id, **params}
        )
        assert response.status_code == 202, response.text
        return str(response.json()["job_id"])

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/tda/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(self, job_id: str, until: Any = None, within: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            job = self.job(job_id)
            if until(job) if until else job["status"] in TERMINAL:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['status']} after {within} s: {job}")
            time.sleep(0.05)

    def settle(self, job_ids: Iterable[str], within: float = 90.0) -> dict[str, dict[str, Any]]:
        """Every job's final state; fails if any is not final within ``within`` seconds."""
        deadline = time.monotonic() + within
        final: dict[str, dict[str, Any]] = {}
        pending = list(job_ids)
        while pending:
            job_id = pending[0]
            job = self.job(job_id)
            if job["status"] in TERMINAL:
                final[job_id] = job
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                states = {j: self.job(j)["status"] for j in pending}
                raise AssertionError(f"{len(pending)} jobs not final after {within} s: {states}")
            time.sleep(0.1)
        return final


def _stop(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
