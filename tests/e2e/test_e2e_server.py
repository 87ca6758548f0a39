"""End to end: a real tda-server process, driven over HTTP on loopback."""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from e2e_helpers import Server, command

from tda_backend import core

pytestmark = pytest.mark.integration

RNG = np.random.default_rng(7)
CIRCLE = np.column_stack([np.cos(t := np.linspace(0, 2 * np.pi, 40, endpoint=False)), np.sin(t)])
CIRCLE += 0.03 * RNG.standard_normal(CIRCLE.shape)
# About a few seconds uninterrupted: long enough to be caught running, short enough to finish.
MEDIUM = np.random.default_rng(8).standard_normal((350, 4))
# Far longer: only ever started to be stopped.
SLOW = np.random.default_rng(9).standard_normal((700, 4))


def csv_bytes(points: np.ndarray) -> bytes:
    return ("x,y\n" + "\n".join(f"{x!r},{y!r}" for x, y in points.tolist()) + "\n").encode()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def pairs(diagram: np.ndarray) -> list[list[float | None]]:
    return sorted(
        [[b, None if math.isinf(d) else d] for b, d in diagram.tolist()],
        key=lambda p: (p[0], p[1] is None, p[1] or 0),
    )


def test_upload_compute_poll_result_pictures(server: Server) -> None:
    data = server.upload("circle.csv", csv_bytes(CIRCLE))
    assert data["shape"] == [40, 2]
    job = server.submit("vietoris-rips", data_id=data["data_id"], maxdim=1, threshold=1.0)
    done = server.wait(job["job_id"])
    assert done["status"] == "succeeded", done
    result = server.client.get(f"/api/v1/tda/results/{job['job_id']}").json()
    expected = core.vietoris_rips(CIRCLE, maxdim=1, threshold=1.0)
    for dim, diagram in enumerate(expected.diagrams):
        got = sorted(result["diagrams"][str(dim)], key=lambda p: (p[0], p[1] is None, p[1] or 0))
        assert got == pairs(diagram)
    assert result["betti"] == expected.betti() == [1, 1]
    for picture in ("diagram.svg", "barcode.svg"):
        svg = server.client.get(f"/api/v1/tda/results/{job['job_id']}/{picture}")
        assert svg.status_code == 200
        ET.fromstring(svg.text)
    assert server.client.get("/docs").status_code == 200
    assert "tda_jobs_finished_total" in server.client.get("/metrics").text


def test_cancel_a_running_job(server: Server) -> None:
    data = server.upload("slow.npy", npy_bytes(SLOW))
    job = server.submit("vietoris-rips", data_id=data["data_id"], maxdim=2)
    server.wait(job["job_id"], until=lambda j: j["status"] == "running")
    started = time.monotonic()
    response = server.client.delete(f"/api/v1/tda/jobs/{job['job_id']}")
    assert response.status_code == 200
    cancelled = server.wait(job["job_id"], within=5)
    assert cancelled["status"] == "cancelled"
    assert time.monotonic() - started < 2.0
    assert server.client.get(f"/api/v1/tda/results/{job['job_id']}").status_code == 409


def test_restart_loses_nothing(server: Server) -> None:
    data = server.upload("circle.npy", npy_bytes(CIRCLE))
    job = server.submit("vietoris-rips", data_id=data["data_id"], maxdim=1)
    server.wait(job["job_id"])
    paths = [
        f"/api/v1/data/{data['data_id']}",
        f"/api/v1/tda/jobs/{job['job_id']}",
        f"/api/v1/tda/results/{job['job_id']}",
        f"/api/v1/tda/results/{job['job_id']}/csv",
    ]
    before = [server.client.get(p).content for p in paths]
    server.restart()
    assert [server.client.get(p).content for p in paths] == before


def test_graceful_stop_requeues_the_running_job(server: Server) -> None:
    data = server.upload("medium.npy", npy_bytes(MEDIUM))
    job = server.submit("vietoris-rips", data_id=data["data_id"], maxdim=2)
    server.wait(job["job_id"], until=lambda j: j["status"] == "running")
    server.restart(signal.SIGTERM)
    done = server.wait(job["job_id"], within=300)
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 1  # a clean shutdown does not use up an attempt


def test_killed_server_job_is_requeued_and_completes(server: Server) -> None:
    data = server.upload("medium.npy", npy_bytes(MEDIUM))
    job = server.submit("vietoris-rips", data_id=data["data_id"], maxdim=2)
    server.wait(job["job_id"], until=lambda j: j["status"] == "running")
    server.restart(signal.SIGKILL)
    done = server.wait(job["job_id"], within=300)
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    result = server.client.get(f"/api/v1/tda/results/{job['job_id']}").json()
    assert result["betti"] == core.vietoris_rips(MEDIUM, maxdim=2).betti()


def test_killed_server_job_fails_with_a_reason_after_its_attempts(tmp_path: Path) -> None:
    server = Server(tmp_path / "var", JOB_MAX_ATTEMPTS="1")
    server.start()
    try:
        data = server.upload("slow.npy", npy_bytes(SLOW))
        job = server.submit("vietoris-rips", data_id=data["data_id"], maxdim=2)
        server.wait(job["job_id"], until=lambda j: j["status"] == "running")
        server.restart(signal.SIGKILL)
        failed = server.job(job["job_id"])
        assert failed["status"] == "failed"
        assert "stopped during attempt 1" in failed["error"]
    finally:
        server.stop()


def test_job_log_lines_carry_the_request_id(server: Server) -> None:
    data = server.upload("circle.npy", npy_bytes(CIRCLE))
    response = server.client.post(
        "/api/v1/tda/compute/vietoris-rips",
        json={"data_id": data["data_id"], "maxdim": 0},
        headers={"X-Request-ID": "e2e-trace-1"},
    )
    assert response.headers["x-request-id"] == "e2e-trace-1"
    job_id = response.json()["job_id"]
    server.wait(job_id)
    time.sleep(0.2)
    lines = [line for line in server.log_lines() if line.get("job_id") == job_id]
    events = {line["event"] for line in lines if line.get("request_id") == "e2e-trace-1"}
    assert {"job accepted", "job started", "job ended"} <= events


def test_separate_worker_process_computes(tmp_path: Path) -> None:
    server = Server(tmp_path / "var", JOB_WORKERS="0")
    server.start()
    worker = subprocess.Popen(
        command("tda-worker"),
        env=server.env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        data = server.upload("circle.npy", npy_bytes(CIRCLE))
        job = server.submit("vietoris-rips", data_id=data["data_id"], maxdim=1)
        assert server.wait(job["job_id"], within=60)["status"] == "succeeded"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        server.stop()


def test_terminal_client(server: Server, tmp_path: Path) -> None:
    points = tmp_path / "circle.csv"
    points.write_bytes(csv_bytes(CIRCLE))
    out_dir = tmp_path / "results"
    run = subprocess.run(
        [
            *command("tda"),
            "--url",
            server.url,
            "compute",
            str(points),
            "--maxdim",
            "1",
            "--threshold",
            "1.0",
            "--out",
            str(out_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert run.returncode == 0, run.stderr
    assert "Betti numbers: [1, 1]" in run.stdout
    names = {p.name for p in out_dir.iterdir()}
    assert names == {"result.json", "diagrams.csv", "diagrams.npz", "diagram.svg", "barcode.svg"}
    refused = subprocess.run(
        [*command("tda"), "--url", server.url, "compute", "data_missing"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "404" in refused.stderr
    assert "data_id" in refused.stderr


def test_migrate_command(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "fresh")}
    env.pop("DATABASE_URL", None)
    run = subprocess.run(
        [sys.executable, "-m", "tda_backend.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "schema at 0003" in run.stdout
    assert (tmp_path / "fresh" / "tda.db").exists()
