"""Durability: what the database holds survives a restart, and a job whose worker died mid-way is
requeued, or failed with a reason once its attempts are used up; never left running."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from api_helpers import circle, make_settings, serving, submit, upload_array, wait_for
from sqlalchemy import update

from tda_backend.models.tables import Job, utcnow
from tda_backend.services.container import Services


@asynccontextmanager
async def running_app(
    tmp_path: Path, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    async with serving(make_settings(tmp_path, **overrides)) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, app.state.services


def dead_worker_id() -> str:
    process = subprocess.Popen(["true"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}:0badc0de"


async def queue_one_job(tmp_path: Path) -> str:
    async with running_app(tmp_path, job_workers=0) as (client, _):
        data = await upload_array(client, circle(12))
        job = await submit(client, "vietoris-rips", data_id=data["data_id"])
        return str(job["job_id"])


async def mark_running(tmp_path: Path, job_id: str, **values: Any) -> None:
    async with (
        running_app(tmp_path, job_workers=0) as (_, services),
        services.sessions.begin() as session,
    ):
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status="running", started_at=utcnow(), **values)
        )


async def test_restart_loses_nothing(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (client, _):
        data = await upload_array(client, circle(12))
        job = await submit(client, "vietoris-rips", data_id=data["data_id"])
        await wait_for(client, job["job_id"])
        before = {
            path: (await client.get(path)).json()
            for path in (
                f"/api/v1/data/{data['data_id']}",
                f"/api/v1/tda/jobs/{job['job_id']}",
                f"/api/v1/tda/results/{job['job_id']}",
            )
        }
    async with running_app(tmp_path) as (client, _):
        for path, body in before.items():
            response = await client.get(path)
            assert response.status_code == 200, path
            assert response.json() == body, path


async def test_queued_jobs_run_after_a_restart(tmp_path: Path) -> None:
    job_id = await queue_one_job(tmp_path)
    async with running_app(tmp_path) as (client, _):
        done = await wait_for(client, job_id)
        assert done["status"] == "succeeded"
        assert done["attempts"] == 1


async def test_job_of_a_dead_worker_is_requeued_and_completes(tmp_path: Path) -> None:
    job_id = await queue_one_job(tmp_path)
    await mark_running(
        tmp_path, job_id, worker=dead_worker_id(), attempts=1, heartbeat_at=utcnow(), progress=0.5
    )
    async with running_app(tmp_path) as (client, _):
        done = await wait_for(client, job_id)
        assert done["status"] == "succeeded"
        assert done["attempts"] == 2


async def test_job_of_a_dead_worker_fails_with_a_reason_after_its_attempts(tmp_path: Path) -> None:
    job_id = await queue_one_job(tmp_path)
    await mark_running(tmp_path, job_id, worker=dead_worker_id(), attempts=3, heartbeat_at=utcnow())
    async with running_app(tmp_path, job_max_attempts=3) as (client, _):
        job = (await client.get(f"/api/v1/tda/jobs/{job_id}")).json()
        assert job["status"] == "failed"
        assert "stopped during attempt 3" in job["error"]
        assert "JOB_MAX_ATTEMPTS" in job["error"]


async def test_cancel_requested_before_the_worker_died_ends_cancelled(tmp_path: Path) -> None:
    job_id = await queue_one_job(tmp_path)
    await mark_running(
        tmp_path,
        job_id,
        worker=dead_worker_id(),
        attempts=1,
        heartbeat_at=utcnow(),
        cancel_requested=True,
    )
    async with running_app(tmp_path) as (client, _):
        job = (await client.get(f"/api/v1/tda/jobs/{job_id}")).json()
        assert job["status"] == "cancelled"


async def test_other_hosts_jobs_are_judged_by_their_lease(tmp_path: Path) -> None:
    fresh = await queue_one_job(tmp_path)
    stale = await queue_one_job(tmp_path)
    await mark_running(
        tmp_path, fresh, worker="elsewhere:1:aaaa", attempts=1, heartbeat_at=utcnow()
    )
    await mark_running(
        tmp_path,
        stale,
        worker="elsewhere:2:bbbb",
        attempts=1,
        heartbeat_at=utcnow() - timedelta(seconds=120),
    )
    async with running_app(tmp_path, job_lease_s=60) as (client, _):
        assert (await wait_for(client, stale))["status"] == "succeeded"
        still = (await client.get(f"/api/v1/tda/jobs/{fresh}")).json()
        assert still["status"] == "running"  # its worker may well be alive
