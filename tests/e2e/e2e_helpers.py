"""A real ``tda-server`` process on 127.0.0.1 (a free port), embedded default, temp DATA_DIR."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
TERMINAL = {"succeeded", "failed", "cancelled"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def command(name: str) -> list[str]:
    """A console script of the project, or its module when the script is not installed."""
    script = BIN / name
    if script.exists():
        return [str(script)]
    module = {
        "tda-server": "tda_backend.server",
        "tda-worker": "tda_backend.worker",
        "tda": "tda_backend.client",
    }[name]
    return [sys.executable, "-m", module]


class Server:
    """One server process at a time over a persistent DATA_DIR; restartable, killable."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / "server.log"
        self.env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "API_HOST": "127.0.0.1",
            "API_PORT": str(self.port),
            "API_WORKERS": "1",
            "LOG_LEVEL": "INFO",
            "JOB_WORKERS": "2",
            **env,
        }
        for unset in (
            "DATABASE_URL",
            "REDIS_URL",
            "API_KEYS",
            "KAFKA_BOOTSTRAP_SERVERS",
            "FLINK_REST_URL",
            "PROMETHEUS_MULTIPROC_DIR",
        ):
            self.env.pop(unset, None)
        self.process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command("tda-server"),
            env=self.env,
            cwd=self.data_dir.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"tda-server exited with {self.process.returncode}:\n"
                    + self.log_path.read_text()[-4000:]
                )
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("tda-server did not become healthy:\n" + self.log_path.read_text())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return lines

    # -- API helpers --------------------------------------------------------------------------

    def upload(self, name: str, content: bytes, **form: str) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/data/upload", files={"file": (name, content)}, data=form
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def submit(self, algorithm: str, **params: Any) -> dict[str, Any]:
        response = self.client.post(f"/api/v1/tda/compute/{algorithm}", json=params)
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/tda/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(self, job_id: str, until: Any = None, within: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            job = self.job(job_id)
            if until(job) if until else job["status"] in TERMINAL:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job still {job['status']}: {job}")
            time.sleep(0.1)
