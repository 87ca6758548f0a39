"""``JOB_SCHEDULING``: the threads computing jobs run under SCHED_IDLE when it is ``idle``; the
event loop (claims, heartbeats, answers) keeps its own policy either way."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from api_helpers import circle, submit, upload_array, wait_for
from fastapi import FastAPI

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's SCHED_IDLE")

POLICIES = {"normal": getattr(os, "SCHED_OTHER", 0), "idle": getattr(os, "SCHED_IDLE", 5)}


@pytest.fixture(params=sorted(POLICIES))
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"job_scheduling": request.param}


async def test_job_threads_take_the_policy_and_jobs_compute(
    app: FastAPI, client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    pool = app.state.services.runner.executor.pool
    policies = {pool.submit(os.sched_getscheduler, 0).result() for _ in range(4)}
    assert policies == {POLICIES[settings_overrides["job_scheduling"]]}
    assert os.sched_getscheduler(0) == POLICIES["normal"]

    data = await upload_array(client, circle())
    job = await submit(client, "vietoris-rips", data_id=data["data_id"], maxdim=1)
    assert (await wait_for(client, job["job_id"]))["status"] == "succeeded"


def test_an_unknown_policy_is_refused(tmp_path: Any) -> None:
    from pydantic import ValidationError

    from tda_backend.config import Settings

    with pytest.raises(ValidationError, match="job_scheduling"):
        Settings(data_dir=tmp_path, job_scheduling="realtime")  # type: ignore[arg-type]
