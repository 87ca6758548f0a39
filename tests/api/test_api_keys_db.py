"""API keys managed in the database (API_KEYS_DB) with ``python -m tda_backend.cli keys``:
a created key works at once, a revoked one stops, only the key's SHA-256 is stored."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tda_backend.cli import main as cli
from tda_backend.config import Settings
from tda_backend.models.tables import ApiKey
from tda_backend.services.api_keys import KeyStore

JOBS = "/api/v1/tda/jobs"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"api_keys_db": True, "api_keys": "env-key-0123456789"}


async def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    # In a thread: the migration it runs first drives an event loop of its own.
    status = await asyncio.to_thread(cli, list(args))
    return status, capsys.readouterr().out


async def test_keys_created_and_revoked_with_the_cli(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app.state.access.cache_s = 0.0  # see revocations at once
    url = ("--database-url", settings.resolved_database_url)
    status, out = await _cli(capsys, "keys", "create", "--name", "ci robot", *url)
    assert status == 0
    key_id, name, key = out.strip().splitlines()[-1].split("\t")
    assert name == "ci robot"
    assert key.startswith("tda_")

    assert (await client.get(JOBS)).status_code == 401
    assert (await client.get(JOBS, headers={"X-API-Key": key + "x"})).status_code == 401
    assert (await client.get(JOBS, headers={"X-API-Key": key})).status_code == 200
    # Keys from API_KEYS still work beside the database's.
    assert (await client.get(JOBS, headers={"X-API-Key": "env-key-0123456789"})).status_code == 200

    async with app.state.services.sessions() as session:
        rows = list(await session.scalars(select(ApiKey)))
    assert [r.key_sha256 for r in rows] == [hashlib.sha256(key.encode()).hexdigest()]
    assert all(key not in (r.id, r.name, r.key_sha256) for r in rows)

    status, out = await _cli(capsys, "keys", "revoke", key_id, *url)
    assert status == 0
    assert (await client.get(JOBS, headers={"X-API-Key": key})).status_code == 401
    status, out = await _cli(capsys, "keys", "list", *url)
    assert key_id in out
    assert "revoked" in out
    assert key not in out
    status, _ = await _cli(capsys, "keys", "revoke", key_id, *url)
    assert status == 1  # already revoked


async def test_the_owner_of_a_database_key_is_isolated_like_any_other(
    client: httpx.AsyncClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ("--database-url", settings.resolved_database_url)
    _, out = await _cli(capsys, "keys", "create", "--name", "a", *url)
    key = out.strip().splitlines()[-1].split("\t")[2]
    upload = await client.post(
        "/api/v1/data/upload",
        json={"data": [[0, 0], [1, 0], [0, 1]]},
        headers={"X-API-Key": key},
    )
    assert upload.status_code == 201, upload.text
    data_url = f"/api/v1/data/{upload.json()['data_id']}"
    assert (await client.get(data_url, headers={"X-API-Key": key})).status_code == 200
    other = await client.get(data_url, headers={"X-API-Key": "env-key-0123456789"})
    assert other.status_code == 404


async def test_a_revoked_key_stops_once_its_cached_answer_expires(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Answers about database keys are reused for ``cache_s`` (5 s by default): a revocation
    takes effect within that, never later."""
    app.state.access.cache_s = 0.5
    url = ("--database-url", settings.resolved_database_url)
    _, out = await _cli(capsys, "keys", "create", "--name", "short-lived", *url)
    key_id, _, key = out.strip().splitlines()[-1].split("\t")
    assert (await client.get(JOBS, headers={"X-API-Key": key})).status_code == 200
    status, _ = await _cli(capsys, "keys", "revoke", key_id, *url)
    assert status == 0
    await asyncio.sleep(0.6)
    assert (await client.get(JOBS, headers={"X-API-Key": key})).status_code == 401


async def test_a_key_is_resolved_once_per_request(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gate's answer serves the route's owner too: one database look-up per request when
    nothing is cached."""
    app.state.access.cache_s = 0.0
    url = ("--database-url", settings.resolved_database_url)
    _, out = await _cli(capsys, "keys", "create", "--name", "counted", *url)
    key = out.strip().splitlines()[-1].split("\t")[2]
    looked_up: list[str] = []
    owner_of_key = KeyStore.owner

    async def counting(self: KeyStore, offered: str) -> str | None:
        looked_up.append(offered)
        return await owner_of_key(self, offered)

    monkeypatch.setattr(KeyStore, "owner", counting)
    for _ in range(3):
        assert (await client.get(JOBS, headers={"X-API-Key": key})).status_code == 200
    assert looked_up == [key] * 3
