"""The queue's messages (production mode): what a submission puts on Redis is arq's own message,
once per job attempt, in one round trip."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from api_helpers import random_cloud, submit, upload_array
from arq.constants import job_key_prefix
from arq.jobs import deserialize_job
from fastapi import FastAPI

from tda_backend.services import queue
from tda_backend.services.container import Services
from tda_backend.services.queue import FUNCTION, QueueRunner

BACKENDS = ["production"]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Nobody takes the messages: they stay on the queue to be looked at.
    return {"job_workers": 0, "queue_sweep_s": 3600.0}


async def _calls(services: Services) -> dict[str, int]:
    """Commands Redis has run, by name (``INFO commandstats``)."""
    assert services.redis is not None
    stats = await services.redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def test_a_submission_puts_arq_s_message_on_the_queue_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    services: Services = app.state.services
    runner = services.runner
    assert isinstance(runner, QueueRunner)
    assert services.redis is not None
    first = await upload_array(client, random_cloud(20, 2, seed=1))
    await submit(client, "vietoris-rips", data_id=first["data_id"])  # Redis learns the script
    data = await upload_array(client, random_cloud(20, 2))
    before = await _calls(services)
    job = await submit(client, "vietoris-rips", data_id=data["data_id"])
    after = await _calls(services)
    # One round trip: the script, not arq's WATCH, EXISTS, MULTI ... EXEC.
    assert after["evalsha"] == before.get("evalsha", 0) + 1
    for command in ("watch", "multi", "exec"):
        assert after.get(command, 0) == before.get(command, 0), command
    name = f"{job['job_id']}.0"
    assert name.encode() in await services.redis.zrange(runner.queue, 0, -1)
    message = deserialize_job(await services.redis.get(job_key_prefix + name))
    assert (message.function, message.args, message.kwargs) == (FUNCTION, (job["job_id"],), {})
    assert message.job_try is None
    # The same attempt's message again: refused, still two on the queue.
    assert await runner._send([(job["job_id"], 0)]) == [False]
    assert await services.redis.zcard(runner.queue) == 2
    # The next attempts have messages of their own, several in one call; a repeat in the same
    # call is refused.
    before = await _calls(services)
    sent = await runner._send([(job["job_id"], 1), (job["job_id"], 0), (job["job_id"], 2)])
    assert sent == [True, False, True]
    assert (await _calls(services))["evalsha"] == before["evalsha"] + 1
    assert await services.redis.zcard(runner.queue) == 4
    for attempt in (1, 2):
        stored = deserialize_job(
            await services.redis.get(f"{job_key_prefix}{job['job_id']}.{attempt}")
        )
        assert stored.args == (job["job_id"],)


async def test_the_sweep_sends_the_missing_messages_only_after_one_question(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    services: Services = app.state.services
    runner = services.runner
    assert isinstance(runner, QueueRunner)
    assert services.redis is not None
    monkeypatch.setattr(queue, "SEND_AGAIN_AFTER_S", -60.0)  # every queued job is old enough
    names = []
    for seed in range(4):
        data = await upload_array(client, random_cloud(20, 2, seed=seed))
        job = await submit(client, "vietoris-rips", data_id=data["data_id"])
        names.append(f"{job['job_id']}.0")
    assert await runner._send_missing() == 0  # nothing lost yet (and Redis learns the script)
    for name in names[1:3]:  # two messages lost
        await services.redis.delete(job_key_prefix + name)
        await services.redis.zrem(runner.queue, name)
    before = await _calls(services)
    assert await runner._send_missing() == 2
    after = await _calls(services)
    # One script asks which of the 4 are missing, then one sends the 2 lost.
    assert after["evalsha"] == before["evalsha"] + 2
    queued = await services.redis.zrange(runner.queue, 0, -1)
    assert {name.encode() for name in names} <= set(queued)
