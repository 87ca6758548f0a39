"""Throughput and window latency of the streaming pipeline: API -> Kafka -> Flink -> Kafka.

Starts Kafka and Flink with ``tda-stack up kafka flink`` (left running), deploys the jobs on fresh
topics with the given window, starts the API server (uvicorn, one process), publishes
``--streams`` x ``--events`` random 2-D points in batches through ``POST /stream/publish`` from
``--clients`` concurrent clients, and reads the windows back from ``tda_feature_results``.

The measured load is preceded, without a pause, by the same load on other streams for
``--warmup-events`` events per stream (default: 20 s of the offered rate; 2,500 unpaced); the
clock, the CPU counts and the windows measured start with the first measured request: a new
deployment's Python imports its modules and builds its operators on its first messages, its JVM
operators are generated and compiled as they run, and a new API process answers its first
requests slower, once per deployment, while the figures are of the sustained load.
``--execution-mode`` deploys the window job in Flink's thread mode (default) or process mode.

Reports: events/s sustained end to end (events published / time from the first publish to the
last window received), publish throughput alone, window latency (arrival of a window's features
minus the API's ingestion time of the window's last event) p50/p99, the median latency of the
first and of the last tenth of the windows (equal when the pipeline keeps up with the offered
rate, growing when it falls behind), the windows' count check (every expected window exactly once
after dropping identical repeats), and the CPU seconds each stage used during the run (API
server, Kafka broker, Flink JVMs, Flink's Python workers, this script's clients and reader,
everything else on the machine) per 1,000 events: on a shared 2-core machine this, not the wall
clock, says which stage limits the throughput.

    python bench/bench_stream.py --window 100 --slide 50 --streams 20 --events 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from pydantic_core import from_json, to_json

# A new deployment's first seconds are slower (module imports, code generation): with 2.5 s of
# warm-up a new stack's first job gave window latency p99 0.6 to 2.1 s, with 20 s 0.1 s
# (docs/benchmarks.md, streaming).
WARMUP_S = 20


def sh(*argv: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--slide", type=int, default=50)
    parser.add_argument("--maxdim", type=int, default=1)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--events", type=int, default=5000, help="per stream")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument(
        "--rate", type=float, default=0, help="events/s offered in total (0: as fast as possible)"
    )
    parser.add_argument("--api-workers", type=int, default=1)
    parser.add_argument("--checkpoint-interval-ms", type=int, default=2000)
    parser.add_argument("--bundle-time-ms", type=int, default=50)
    parser.add_argument("--execution-mode", choices=["thread", "process"], default="thread")
    parser.add_argument(
        "--warmup-events",
        type=int,
        help="per stream, published at the same rate on other streams just before the measured "
        "events (below --window: no warm-up); default: 20 s of the offered rate, 2,500 unpaced",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    if args.warmup_events is None:
        args.warmup_events = round(args.rate * WARMUP_S / args.streams) if args.rate else 2500

    sh(sys.executable, "-m", "tda_backend.stack", "up", "kafka", "flink")
    env = dict(os.environ)
    for line in sh(sys.executable, "-m", "tda_backend.stack", "env", "kafka", "flink").splitlines():
        key, value = line.removeprefix("export ").split("=", 1)
        env[key] = value
    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    env.update(
        KAFKA_TOPIC_PREFIX=prefix,
        STREAM_WINDOW_SIZE=str(args.window),
        STREAM_WINDOW_SLIDE=str(args.slide),
        STREAM_MAXDIM=str(args.maxdim),
        FLINK_PARALLELISM=str(args.parallelism),
        LOG_LEVEL="WARNING",
    )
    sh(
        sys.executable,
        "-m",
        "tda_backend.cli",
        "stream",
        "deploy",
        "--replace",
        "--only",
        "windows",
        "--checkpoint-interval-ms",
        str(args.checkpoint_interval_ms),
        "--bundle-time-ms",
        str(args.bundle_time_ms),
        "--execution-mode",
        args.execution_mode,
        env=env,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tda_backend.api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--log-level",
            "warning",
            "--workers",
            str(args.api_workers),
        ],
        env={**env, "DATA_DIR": f"/tmp/{prefix}data"},
    )
    try:
        run(args, env, prefix, server.pid)
    finally:
        server.terminate()
        server.wait()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            tree.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    return tree


def _descendants(pid: int, tree: dict[int, list[int]]) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _stack_pids(name: str) -> list[int]:
    root = os.environ.get("TDA_STACK_DIR", "var/stack")
    pid_files = {
        "kafka": [f"{root}/kafka/kafka.pid"],
        "flink": [
            os.path.join(f"{root}/flink/pids", f)
            for f in os.listdir(f"{root}/flink/pids")
            if f.endswith(("taskexecutor.pid", "standalonesession.pid"))
        ],
    }[name]
    return [int(line) for f in pid_files for line in Path(f).read_text().split()]


def cpu_by_stage(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by each stage's processes, and by the whole machine."""
    tree = _children()
    flink = [p for jvm in _stack_pids("flink") for p in _descendants(jvm, tree)]
    python_workers = [
        p for boot in flink if b"beam_boot" in _cmdline(boot) for p in _descendants(boot, tree)
    ]
    with open("/proc/stat") as stat:
        jiffies = [int(x) for x in stat.readline().split()[1:]]
    busy = (sum(jiffies) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")
    own = os.times()
    return {
        "api": sum(_cpu_s(p) for p in _descendants(server_pid, tree)),
        "kafka": sum(_cpu_s(p) for p in _stack_pids("kafka")),
        "flink_jvm": sum(_cpu_s(p) for p in flink if p not in python_workers),
        "flink_python": sum(_cpu_s(p) for p in python_workers),
        "bench_clients": own.user + own.system,
        "machine": busy,
    }


class KeepAlive:
    """One keep-alive HTTP/1.1 connection posting JSON. httpx spent about 2.5 ms of CPU per
    request of 250 events, which the run would count as the bench's own (same cores)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> KeepAlive:
        return cls(*await asyncio.open_connection(host, port))

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = None
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            sys.exit("the API answered without Content-Length")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


WARMUP = "warmup-"


def run(args: argparse.Namespace, env: dict[str, str], prefix: str, server_pid: int) -> None:
    from confluent_kafka import Consumer

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{args.port}/health", timeout=2).status_code < 600:
                break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                sys.exit("the API server did not start")
            time.sleep(0.3)

    per_stream = (args.events - args.window) // args.slide + 1
    expected = per_stream * args.streams
    windows: dict[tuple[str, int], bytes] = {}
    repeats_differing = 0
    latencies: list[float] = []
    done = threading.Event()
    last_window_at = [0.0]

    def read_windows() -> None:
        nonlocal repeats_differing
        consumer = Consumer(
            {
                "bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"],
                "group.id": f"bench-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
            }
        )
        consumer.subscribe([prefix + "tda_feature_results"])
        stop_at = time.monotonic() + args.timeout
        while len(windows) < expected and time.monotonic() < stop_at:
            # A short wait: consume() returns after its whole timeout unless the batch fills,
            # and every message of a batch gets the same arrival time.
            for m in consumer.consume(1000, timeout=0.01):
                value = m.value()
                if m.error() is not None or value is None:
                    continue
                arrived_ms = time.time() * 1000
                body = from_json(value)
                if body["stream_id"].startswith(WARMUP):
                    continue
                key = (body["stream_id"], body["window_index"])
                digest = to_json(body["diagrams"])
                if key in windows:
                    repeats_differing += windows[key] != digest
                    continue
                windows[key] = digest
                latencies.append(arrived_ms - body["last_ingested_ms"])
                last_window_at[0] = time.monotonic()
        consumer.close()
        done.set()

    reader = threading.Thread(target=read_windows)
    reader.start()

    def bodies_by_client(prefix: str, events: int, seed: int) -> list[list[bytes]]:
        """``args.streams`` streams of ``events`` random 2-D points each, in batches of
        ``args.batch`` events; a stream's events must keep their order, so each client owns a
        fixed subset of the streams and sends their batches in order. Encoded beforehand: the
        clients' own JSON work stays out of the measured time."""
        rng = np.random.default_rng(seed)
        streams = [f"{prefix}{i}" for i in range(args.streams)]
        owner = {s: i % args.clients for i, s in enumerate(streams)}
        per_batch = args.batch // args.streams or 1
        batches = [
            [
                {"stream_id": s, "point": rng.random(2).round(6).tolist()}
                for _ in range(min(per_batch, events - start))
                for s in streams
            ]
            for start in range(0, events, per_batch)
        ]
        return [
            [
                json.dumps({"events": mine}).encode()
                for batch in batches
                if (mine := [e for e in batch if owner[e["stream_id"]] == c])
            ]
            for c in range(args.clients)
        ]

    per_request = args.batch / args.clients

    # The warm-up's requests, then the measured ones, paced as one load: the clock and the CPU
    # counts start with the first measured request.
    warm = (
        bodies_by_client(WARMUP, args.warmup_events, 1)
        if args.warmup_events >= args.window
        else [[] for _ in range(args.clients)]
    )
    owned = bodies_by_client("s", args.events, 0)
    measured_from: list[tuple[float, dict[str, float]]] = []

    async def client(warm_bodies: list[bytes], bodies: list[bytes]) -> int:
        sent = 0
        # Paced: request i leaves at i * per_request / (rate / clients) seconds, or at once
        # when the pipeline is behind (no catching up with bursts beyond that).
        interval = per_request * args.clients / args.rate if args.rate > 0 else 0.0
        start = time.monotonic()
        connection = await KeepAlive.open("127.0.0.1", args.port)
        try:
            for i, body in enumerate(warm_bodies + bodies):
                delay = start + i * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if i == len(warm_bodies) and not measured_from:
                    measured_from.append((time.monotonic(), cpu_by_stage(server_pid)))
                status, answer = await connection.post("/api/v1/stream/publish", body)
                if status != 200:
                    sys.exit(f"publish answered {status}: {answer[:500]!r}")
                if i >= len(warm_bodies):
                    sent += from_json(answer)["published"]
        finally:
            connection.close()
        return sent

    async def publish_all() -> int:
        return sum(await asyncio.gather(*(client(w, b) for w, b in zip(warm, owned, strict=True))))

    published = asyncio.run(publish_all())
    started, cpu_before = measured_from[0]
    publish_s = time.monotonic() - started
    reader.join()
    total_s = last_window_at[0] - started
    cpu = {k: v - cpu_before[k] for k, v in cpu_by_stage(server_pid).items()}
    cpu["others"] = cpu["machine"] - sum(v for k, v in cpu.items() if k != "machine")
    lat = np.asarray(latencies)  # in arrival order

    def tenth(part: np.ndarray) -> float | None:
        return round(float(np.percentile(part, 50)), 1) if part.size else None

    print(
        json.dumps(
            {
                "window": args.window,
                "slide": args.slide,
                "maxdim": args.maxdim,
                "streams": args.streams,
                "offered_events_per_s": args.rate or None,
                "parallelism": args.parallelism,
                "bundle_time_ms": args.bundle_time_ms,
                "execution_mode": args.execution_mode,
                "warmup_events": args.warmup_events,
                "api_workers": args.api_workers,
                "events": published,
                "publish_events_per_s": round(published / publish_s),
                "end_to_end_events_per_s": round(published / total_s) if total_s > 0 else None,
                "windows_expected": expected,
                "windows_received": len(windows),
                "repeats_differing": repeats_differing,
                "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
                "latency_ms_p99": round(float(np.percentile(lat, 99)), 1) if lat.size else None,
                # Growing when the pipeline falls behind the offered rate, flat when it keeps up.
                "latency_ms_p50_first_tenth": tenth(lat[: lat.size // 10]),
                "latency_ms_p50_last_tenth": tenth(lat[-(lat.size // 10) :]),
                "seconds": round(total_s, 1),
                "cpu_s_per_1000_events": {
                    k: round(v / published * 1000, 3) for k, v in cpu.items()
                },
                "cpu_cores_busy": {k: round(v / total_s, 2) for k, v in cpu.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
