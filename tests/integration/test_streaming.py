"""The streaming pipeline end to end on a real Kafka broker and Flink cluster.

The session fixture starts them with ``tda-stack up kafka flink`` (and stops them afterwards unless
they were already running), deploys the jobs on fresh topics, and the tests publish through the API.
Nothing here is skipped: without Java, Maven or PyFlink (all installed by scripts/bootstrap.sh) the
tests fail, naming what is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tda_backend.api.app import create_app
from tda_backend.config import Settings
from tda_backend.core import vietoris_rips
from tda_backend.flink.features import diagrams_from_json
from tda_backend.kafka.topics import TopicNames

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SIZE, SLIDE, MAXDIM = 10, 5, 1
PARALLELISM = 2  # per job; tda-stack's TaskManager has 4 slots


def stack(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tda_backend.stack", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=check,
    )


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    missing = [
        what
        for what, present in (
            ("java (Debian package openjdk-17-jdk-headless)", shutil.which("java")),
            ("mvn (Debian package maven)", shutil.which("mvn")),
            ("PyFlink (pip install -e '.[streaming]')", importlib.util.find_spec("pyflink")),
        )
        if present is None
    ]
    if missing:
        pytest.fail(
            f"the streaming stack cannot start: {', '.join(missing)} missing; "
            "scripts/bootstrap.sh installs them",
            pytrace=False,
        )
    already_up = stack("status", "kafka", "flink", check=False).returncode == 0
    started = stack("up", "kafka", "flink", check=False)
    assert started.returncode == 0, started.stderr
    env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in stack("env", "kafka", "flink").stdout.splitlines()
    )
    prefix = f"it{uuid.uuid4().hex[:8]}_"
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        flink_rest_url=env["FLINK_REST_URL"],
        kafka_topic_prefix=prefix,
        stream_window_size=SIZE,
        stream_window_slide=SLIDE,
        stream_maxdim=MAXDIM,
        log_format="console",
        log_level="WARNING",
    )
    deploy(settings, "--checkpoint-interval-ms", "1000")
    try:
        yield settings
    finally:
        from tda_backend.kafka.producer import close_publishers

        close_publishers()
        if not already_up:
            stack("down", "flink", "kafka", check=False)


def deploy(settings: Settings, *options: str) -> None:
    """``stream deploy --replace`` with the suite's windows and parallelism."""
    import os

    deployed = subprocess.run(
        [sys.executable, "-m", "tda_backend.cli", "stream", "deploy", "--replace", *options],
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": str(settings.kafka_bootstrap_servers),
            "FLINK_REST_URL": str(settings.flink_rest_url),
            "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "STREAM_WINDOW_SIZE": str(SIZE),
            "STREAM_WINDOW_SLIDE": str(SLIDE),
            "STREAM_MAXDIM": str(MAXDIM),
            "FLINK_PARALLELISM": str(PARALLELISM),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert deployed.returncode == 0, deployed.stderr[-3000:]


@pytest.fixture
async def client(pipeline: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pipeline)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as c:
            yield c


def consume(
    settings: Settings,
    topic: str,
    until: Any,
    timeout: float = 120.0,
    isolation: str = "read_uncommitted",
) -> list[Any]:
    """Every JSON message of ``topic`` from the start, until ``until(messages)`` or the timeout
    (the raw-data topic also holds a message that is not JSON, written by a test)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(messages):
            for m in consumer.consume(500, timeout=0.5):
                if m.error() is None:
                    try:
                        messages.append(json.loads(m.value()))
                    except ValueError:
                        continue
    finally:
        consumer.close()
    return messages


def assert_same_diagrams(actual: dict[str, Any], expected: list[np.ndarray]) -> None:
    got = diagrams_from_json(actual)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        order_g = np.lexsort((g[:, 1], g[:, 0]))
        order_e = np.lexsort((e[:, 1], e[:, 0]))
        np.testing.assert_allclose(g[order_g], e[order_e], rtol=1e-12, atol=1e-12)


async def test_published_events_come_back_as_exactly_the_expected_windows(
    client: httpx.AsyncClient,
    pipeline: Settings,
) -> None:
    rng = np.random.default_rng(7)
    streams = {f"s{i}-{uuid.uuid4().hex[:6]}": rng.random((53, 2)) for i in range(3)}
    # Interleaved batches of the three streams, in several requests.
    for start in range(0, 53, 20):
        events = [
            {"stream_id": sid, "point": points[j].tolist()}
            for j in range(start, min(start + 20, 53))
            for sid, points in streams.items()
        ]
        response = await client.post("/api/v1/stream/publish", json={"events": events})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["published"] == len(events)
        assert sum(p["count"] for p in body["partitions"]) == len(events)

    per_stream = (53 - SIZE) // SLIDE + 1
    topic = TopicNames.with_prefix(pipeline.kafka_topic_prefix).feature_results

    def complete(messages: list[Any]) -> bool:
        seen = {(m.get("stream_id"), m.get("window_index")) for m in messages}
        return sum(
            1 for s in streams for k in range(per_stream) if (s, k) in seen
        ) == per_stream * len(streams)

    messages = await asyncio.to_thread(consume, pipeline, topic, complete)
    windows = {}
    for m in messages:
        if m.get("stream_id") in streams:
            # At-least-once sink: a repeat is the same window, identical in content.
            key = (m["stream_id"], m["window_index"])
            if key in windows:
                assert windows[key]["diagrams"] == m["diagrams"]
            windows[key] = m
    assert sorted(windows) == sorted((s, k) for s in streams for k in range(per_stream))
    for (sid, k), m in windows.items():
        points = streams[sid][k * SLIDE : k * SLIDE + SIZE]
        expected = [np.asarray(d) for d in vietoris_rips(points, maxdim=MAXDIM).diagrams]
        assert_same_diagrams(m["diagrams"], expected)
        assert m["betti"][0] == 1
        assert (m["first_event"], m["last_event"]) == (k * SLIDE, k * SLIDE + SIZE - 1)
        assert m["anomaly_score"] >= 0
        assert k > 0 or m["anomaly_score"] == 0
        assert set(m["total_persistence"]) == set(m["persistent_entropy"]) == {"0", "1"}


def test_single_events_of_any_producer_are_windowed_by_their_stream_id(
    pipeline: Settings,
) -> None:
    """The job reads the key from the message, not from the Kafka record: single events written
    without a record key (all to one partition, to keep their order) make their stream's windows,
    and messages that are not events (no JSON, no ``stream_id``, a ``stream_id`` that is not a
    string) are skipped: the windows of the events around them arrive."""
    from confluent_kafka import Producer

    topics = TopicNames.with_prefix(pipeline.kafka_topic_prefix)
    sid = f"plain-{uuid.uuid4().hex[:6]}"
    points = np.random.default_rng(11).random((22, 2))
    producer = Producer({"bootstrap.servers": pipeline.kafka_bootstrap_servers, "acks": "all"})
    junk = [b"not json", b'{"point": [1, 2]}', b'{"stream_id": 5, "point": [1, 2]}']
    # The stream id first (the job takes it by a regular expression) or last (JSON_VALUE), in
    # turn: both ways must key the events alike for the windows to come out whole.
    events = [
        json.dumps(
            {"stream_id": sid, "point": p.tolist()}
            if i % 2
            else {"point": p.tolist(), "stream_id": sid}
        ).encode()
        for i, p in enumerate(points)
    ]
    for value in [*junk[:2], *events[:11], junk[2], *events[11:]]:
        producer.produce(topics.raw_events, value, partition=0)
    assert producer.flush(30) == 0

    per_stream = (len(points) - SIZE) // SLIDE + 1

    def complete(messages: list[Any]) -> bool:
        return {m.get("window_index") for m in messages if m.get("stream_id") == sid} == set(
            range(per_stream)
        )

    messages = consume(pipeline, topics.feature_results, complete)
    windows = {m["window_index"]: m for m in messages if m.get("stream_id") == sid}
    assert sorted(windows) == list(range(per_stream))
    for k, m in windows.items():
        expected = vietoris_rips(points[k * SLIDE : k * SLIDE + SIZE], maxdim=MAXDIM).diagrams
        assert_same_diagrams(m["diagrams"], [np.asarray(d) for d in expected])
        assert (m["first_event"], m["last_event"]) == (k * SLIDE, k * SLIDE + SIZE - 1)


async def test_status_shows_jobs_running_and_lag_draining_to_zero(
    client: httpx.AsyncClient,
    pipeline: Settings,
) -> None:
    events = [{"stream_id": "lag", "point": [float(i), 0.0]} for i in range(40)]
    response = await client.post("/api/v1/stream/publish", json={"events": events})
    assert response.status_code == 200
    # One stream in one request: one message, holding the 40 events.
    [written] = response.json()["partitions"]
    assert written["count"] == 40
    assert written["first_offset"] == written["last_offset"]
    deadline = time.monotonic() + 90
    while True:
        status = (await client.get("/api/v1/stream/status")).json()
        # The cluster lists cancelled jobs of the same names too (earlier deployments).
        running = {j["name"] for j in status["jobs"] if j["state"] == "RUNNING"}
        lags = {g["group"]: g["lag"] for g in status["consumer_groups"]}
        if {"tda-windows", "tda-validation"} <= running and lags.get("tda-flink-windows") == 0:
            break
        assert time.monotonic() < deadline, status
        await asyncio.sleep(1)
    assert status["broker_reachable"]
    assert status["flink_reachable"]
    # FLINK_PARALLELISM is honoured by every operator of both jobs.
    for job in status["jobs"]:
        if job["state"] == "RUNNING":
            detail = await asyncio.to_thread(_flink, pipeline, f"/jobs/{job['id']}")
            assert {v["parallelism"] for v in detail["vertices"]} == {PARALLELISM}, detail
    raw = next(t for t in status["topics"] if t["name"].endswith("raw_data_events"))
    assert raw["exists"]
    assert raw["partitions"][str(written["partition"])] > written["last_offset"]


def test_job_features_are_published_keyed_by_job_id(pipeline: Settings) -> None:
    from tda_backend.kafka.hooks import publish_job_features

    result = vietoris_rips(np.random.default_rng(1).random((30, 2)), maxdim=1)
    job_id = f"job-{uuid.uuid4().hex}"
    assert publish_job_features(pipeline, job_id, result.diagrams, summary={"points": 30})
    topic = TopicNames.with_prefix(pipeline.kafka_topic_prefix).feature_results
    messages = consume(pipeline, topic, lambda ms: any(m.get("job_id") == job_id for m in ms))
    message = next(m for m in messages if m.get("job_id") == job_id)
    assert message["kind"] == "job"
    assert message["betti"] == result.betti()
    assert_same_diagrams(message["diagrams"], [np.asarray(d) for d in result.diagrams])


async def test_publish_without_kafka_is_503(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, log_format="console"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c,
    ):
        r = await c.post(
            "/api/v1/stream/publish", json={"events": [{"stream_id": "a", "point": [1.0]}]}
        )
        assert r.status_code == 503
        assert "not configured" in r.json()["detail"]
        assert (await c.get("/api/v1/stream/status")).status_code == 503


async def test_unreachable_broker_is_503_with_a_clear_message(tmp_path: Path) -> None:
    import os

    os.environ.setdefault("KAFKA_DELIVERY_TIMEOUT_MS", "2000")
    settings = Settings(
        data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1", log_format="console"
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60
        ) as c,
    ):
        r = await c.post(
            "/api/v1/stream/publish", json={"events": [{"stream_id": "a", "point": [1.0]}]}
        )
    assert r.status_code == 503
    assert "127.0.0.1:1" in r.json()["detail"]
    assert "did not acknowledge" in r.json()["detail"]


def test_broker_restart_during_publishing_loses_no_acknowledged_event(pipeline: Settings) -> None:
    """Publish continuously through the API while the broker is stopped and started again: every
    event that got a 200 is in the topic afterwards (503s are retried by the client)."""
    app = create_app(pipeline)
    acknowledged: list[float] = []
    stop = threading.Event()
    stream_id = f"restart-{uuid.uuid4().hex[:6]}"

    async def publish_loop() -> None:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60
            ) as c,
        ):
            seq = 0
            while not stop.is_set():
                batch = [float(seq + i) for i in range(50)]
                r = await c.post(
                    "/api/v1/stream/publish",
                    json={"events": [{"stream_id": stream_id, "point": [x]} for x in batch]},
                )
                if r.status_code == 200:
                    acknowledged.extend(batch)
                    seq += 50
                else:
                    assert r.status_code == 503, r.text
                    await asyncio.sleep(0.2)

    publisher = threading.Thread(target=lambda: asyncio.run(publish_loop()))
    publisher.start()
    try:
        time.sleep(2)
        before = len(acknowledged)
        assert stack("down", "kafka", check=False).returncode == 0
        time.sleep(2)
        assert stack("up", "kafka", check=False).returncode == 0
        time.sleep(5)
    finally:
        stop.set()
        publisher.join(timeout=120)
    assert before > 0
    assert len(acknowledged) > before
    topic = TopicNames.with_prefix(pipeline.kafka_topic_prefix).raw_events
    wanted = set(acknowledged)

    def logged(messages: list[Any]) -> list[float]:
        return [p[0] for m in messages if m.get("stream_id") == stream_id for p in m["points"]]

    messages = consume(pipeline, topic, lambda ms: wanted <= set(logged(ms)))
    assert wanted - set(logged(messages)) == set()


def _flink(settings: Settings, path: str) -> Any:
    response = httpx.get(f"{settings.flink_rest_url}{path}", timeout=10)
    response.raise_for_status()
    return response.json()


async def publish(
    client: httpx.AsyncClient, sid: str, points: np.ndarray, lo: int, hi: int
) -> None:
    """Events ``lo .. hi-1`` of a stream, 10 per request."""
    for start in range(lo, hi, 10):
        events = [
            {"stream_id": sid, "point": p.tolist()} for p in points[start : min(start + 10, hi)]
        ]
        response = await client.post("/api/v1/stream/publish", json={"events": events})
        assert response.status_code == 200, response.text


async def publish_across_a_killed_taskmanager(
    client: httpx.AsyncClient, sid: str, points: np.ndarray, a: int, b: int, c: int, d: int
) -> None:
    """Events ``a .. b-1``, then SIGKILL the TaskManager, events ``b .. c-1`` while it is down,
    start another (``tda-stack up flink``), then events ``c .. d-1``."""
    await publish(client, sid, points, a, b)
    kill_taskmanager()
    await publish(client, sid, points, b, c)
    assert (await asyncio.to_thread(stack, "up", "flink", check=False)).returncode == 0
    await publish(client, sid, points, c, d)


def kill_taskmanager() -> None:
    """SIGKILL tda-stack's TaskManager."""
    import os
    import signal

    from tda_backend.stack.base import StackContext

    pids = StackContext.from_environment().service_dir("flink") / "pids"
    [taskmanager] = [int(p.read_text().split()[0]) for p in pids.glob("*taskexecutor.pid")]
    os.kill(taskmanager, signal.SIGKILL)


def _running_job(settings: Settings, name: str) -> str | None:
    jobs = _flink(settings, "/jobs/overview")["jobs"]
    return next((j["jid"] for j in jobs if j["name"] == name and j["state"] == "RUNNING"), None)


async def test_a_killed_taskmanager_loses_and_repeats_no_event_in_the_windows(
    client: httpx.AsyncClient,
    pipeline: Settings,
) -> None:
    """The delivery guarantee under a failure: the TaskManager is SIGKILLed while a stream is
    being published, events keep coming while it is down, and another one is started. The job
    resumes from its last checkpoint (window state and source offsets together). Every window of
    the stream arrives, each equal to the engine run on exactly its events: an event lost or
    counted twice would shift every later window. Windows emitted again (the at-least-once sink's
    since the checkpoint) are identical, and none of those covered by a checkpoint before the
    failure is."""
    sid = f"failover-{uuid.uuid4().hex[:6]}"
    points = np.random.default_rng(23).random((150, 2))
    topic = TopicNames.with_prefix(pipeline.kafka_topic_prefix).feature_results
    job = await asyncio.to_thread(_running_job, pipeline, "tda-windows")
    assert job is not None

    def windows_of(messages: list[Any]) -> set[int]:
        return {m["window_index"] for m in messages if m.get("stream_id") == sid}

    await publish(client, sid, points, 0, 60)
    before = (60 - SIZE) // SLIDE + 1
    await asyncio.to_thread(consume, pipeline, topic, lambda ms: len(windows_of(ms)) == before)
    # A checkpoint triggered after these windows came out: the restart must resume from it or
    # a later one, so none of them is emitted again (a restart from scratch would repeat them).
    seen_ms = time.time() * 1000
    deadline = time.monotonic() + 60
    while True:
        latest = (await asyncio.to_thread(_flink, pipeline, f"/jobs/{job}/checkpoints"))["latest"]
        checkpoint = latest.get("completed") or {}
        if checkpoint.get("trigger_timestamp", 0) > seen_ms:
            break
        assert time.monotonic() < deadline, latest
        await asyncio.sleep(0.2)
    await publish_across_a_killed_taskmanager(client, sid, points, 60, 100, 130, 150)

    per_stream = (150 - SIZE) // SLIDE + 1
    messages = await asyncio.to_thread(
        consume, pipeline, topic, lambda ms: len(windows_of(ms)) == per_stream, 240.0
    )
    windows: dict[int, Any] = {}
    repeated = set()
    for m in messages:
        if m.get("stream_id") == sid:
            if m["window_index"] in windows:
                repeated.add(m["window_index"])
                assert windows[m["window_index"]]["diagrams"] == m["diagrams"]
            windows[m["window_index"]] = m
    assert sorted(windows) == list(range(per_stream))
    assert min(repeated, default=before) >= before, sorted(repeated)
    for k, m in windows.items():
        expected = vietoris_rips(points[k * SLIDE : k * SLIDE + SIZE], maxdim=MAXDIM).diagrams
        assert_same_diagrams(m["diagrams"], [np.asarray(d) for d in expected])
    # The same job recovered (no new deployment), from that checkpoint or a later one, and it
    # did fail: the lost TaskManager is in its exception history.
    assert await asyncio.to_thread(_running_job, pipeline, "tda-windows") == job
    latest = (await asyncio.to_thread(_flink, pipeline, f"/jobs/{job}/checkpoints"))["latest"]
    assert (latest.get("restored") or {}).get("id", -1) >= checkpoint["id"], latest
    history = await asyncio.to_thread(_flink, pipeline, f"/jobs/{job}/exceptions")
    assert history["exceptionHistory"]["entries"], history


async def test_the_exactly_once_sink_gives_each_window_once_across_a_failure(
    client: httpx.AsyncClient,
    pipeline: Settings,
) -> None:
    """``stream deploy --exactly-once``: the sink writes in Kafka transactions committed with the
    checkpoints. A ``read_committed`` consumer sees every window of a stream exactly once, equal
    to the engine on its events, across a TaskManager SIGKILLed mid-stream. (This test and the
    next replace the suite's window job: they come last.)"""
    await asyncio.to_thread(
        deploy, pipeline, "--only", "windows", "--exactly-once", "--checkpoint-interval-ms", "500"
    )
    sid = f"once-{uuid.uuid4().hex[:6]}"
    points = np.random.default_rng(29).random((100, 2))
    topic = TopicNames.with_prefix(pipeline.kafka_topic_prefix).feature_results

    def windows_of(messages: list[Any]) -> list[int]:
        return [m["window_index"] for m in messages if m.get("stream_id") == sid]

    await publish(client, sid, points, 0, 40)
    await asyncio.to_thread(
        consume, pipeline, topic, lambda ms: len(windows_of(ms)) > 0, 120.0, "read_committed"
    )
    await publish_across_a_killed_taskmanager(client, sid, points, 40, 70, 85, 100)

    per_stream = (100 - SIZE) // SLIDE + 1
    complete_at: list[float] = []

    def settled(messages: list[Any]) -> bool:
        """All windows, and 3 s more to see a repeat if one came."""
        if len(set(windows_of(messages))) < per_stream:
            return False
        complete_at[:] = complete_at or [time.monotonic()]
        return time.monotonic() - complete_at[0] > 3.0

    messages = await asyncio.to_thread(consume, pipeline, topic, settled, 240.0, "read_committed")
    assert sorted(windows_of(messages)) == list(range(per_stream))
    for m in messages:
        if m.get("stream_id") == sid:
            k = m["window_index"]
            expected = vietoris_rips(points[k * SLIDE : k * SLIDE + SIZE], maxdim=MAXDIM).diagrams
            assert_same_diagrams(m["diagrams"], [np.asarray(d) for d in expected])
    history = await asyncio.to_thread(
        _flink,
        pipeline,
        f"/jobs/{await asyncio.to_thread(_running_job, pipeline, 'tda-windows')}/exceptions",
    )
    assert history["exceptionHistory"]["entries"], history


async def test_the_time_series_mode_windows_the_delay_embedding_of_the_samples(
    client: httpx.AsyncClient,
    pipeline: Settings,
) -> None:
    """``stream deploy --mode delay``: events carry one sample each, and a window's samples
    become the points of their delay embedding (dimension 3, lag 2) before persistence."""
    await asyncio.to_thread(
        deploy,
        pipeline,
        "--only",
        "windows",
        "--mode",
        "delay",
        "--embedding-dimension",
        "3",
        "--embedding-lag",
        "2",
    )
    sid = f"series-{uuid.uuid4().hex[:6]}"
    samples = np.sin(0.7 * np.arange(40)) + 0.01 * np.random.default_rng(31).random(40)
    await publish(client, sid, samples[:, None], 0, 40)
    per_stream = (40 - SIZE) // SLIDE + 1
    topic = TopicNames.with_prefix(pipeline.kafka_topic_prefix).feature_results

    def ours(messages: list[Any]) -> dict[int, Any]:
        return {m["window_index"]: m for m in messages if m.get("stream_id") == sid}

    messages = await asyncio.to_thread(
        consume, pipeline, topic, lambda ms: len(ours(ms)) == per_stream
    )
    windows = ours(messages)
    assert sorted(windows) == list(range(per_stream))
    for k, m in windows.items():
        window = samples[k * SLIDE : k * SLIDE + SIZE]
        cloud = np.stack([window[0:6], window[2:8], window[4:10]], axis=1)
        assert m["mode"] == "delay"
        expected = vietoris_rips(cloud, maxdim=MAXDIM).diagrams
        assert_same_diagrams(m["diagrams"], [np.asarray(d) for d in expected])
