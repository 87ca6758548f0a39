"""Load on the production mode: API servers enqueue, tda-workers compute, PostgreSQL and Redis.

Starts a private PostgreSQL and Redis with ``tda-stack up postgres redis`` (own directory, free
loopback ports; taken down at the end), ``tda-server`` with ``--api-workers`` processes and
``--workers`` ``tda-worker`` processes (``--concurrency`` each). Uploads ``--jobs`` distinct random
point clouds (``--points`` x 3; distinct, so that no result is reused), then submits one
Vietoris-Rips job (``--maxdim``) per cloud from ``--clients`` concurrent clients and waits for all.

Reports: jobs/s (jobs / time from the first submission to the last job's end), submit latency
p50/p99 (POST to its 202), end-to-end latency p50/p99 (POST to the job's ``finished_at``), errors
(non-2xx answers and jobs not succeeded), the ``tda-worker`` processes' CPU time per job (engine
included; from ``/proc``), HTTP throughput of ``GET /tda/jobs/{id}`` (after the run,
``--clients`` clients for ``--get-seconds``), and the compute-bound limit: the engine alone
computing the same jobs in this process on ``--cores`` threads after the run (jobs / wall time),
under whatever else the machine runs at the time, like the load run before it.

The timed requests (submissions, ``GET /tda/jobs/{id}``) go over plain keep-alive HTTP/1.1
connections, one per client (``RawClient``): httpx spends about 5 ms of CPU on each request, as
much as the server, on the same two cores. ``--client httpx`` times them with httpx instead.

The defaults are the configuration of docs/benchmarks.md: workers at ``nice 19`` with their
computing threads under ``SCHED_IDLE`` (``JOB_SCHEDULING=idle``), so that the API, PostgreSQL and
Redis answer first, and 3 jobs at once per worker, so that one job's waits on the database (its
commits) overlap another's computing (2 at once gave 45 to 51% of the limit, 3 gave 58 to 64%).

    python bench/bench_load.py                  # 1,000 jobs, 2 API processes, 2 workers
    python bench/bench_load.py --quick          # 200 jobs
    python bench/bench_load.py --concurrency 2 --worker-nice 10 --job-scheduling normal  # before
    python bench/bench_load.py --worker-policy idle   # the whole workers under SCHED_IDLE
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sh(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return done.stdout


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


class RawClient:
    """One keep-alive HTTP/1.1 connection: a request, then its answer (Content-Length bodies)."""

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        status_line = b""
        for _ in range(2):  # again on a new connection when the server closed an idle one
            if self.reader is None or self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.write(head + body)
            status_line = await self.reader.readline()
            if status_line:
                break
            await self.close()
        assert self.reader is not None
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


class Timed:
    """The timed requests of one client, over ``RawClient`` or the shared httpx client."""

    def __init__(self, url: str, shared: httpx.AsyncClient, kind: str) -> None:
        self.shared = shared
        self.raw = RawClient(url) if kind == "raw" else None

    async def post(self, path: str, document: dict[str, Any]) -> tuple[int, Any]:
        if self.raw is None:
            response = await self.shared.post(path, json=document)
            return response.status_code, response.json()
        status, body = await self.raw.request("POST", path, json.dumps(document).encode())
        return status, json.loads(body)

    async def get(self, path: str) -> tuple[int, Any]:
        if self.raw is None:
            response = await self.shared.get(path)
            return response.status_code, response.json()
        status, body = await self.raw.request("GET", path)
        return status, json.loads(body)

    async def close(self) -> None:
        if self.raw is not None:
            await self.raw.close()


async def bounded(n: int, clients: int, work: Any) -> list[Any]:
    """``work(i)`` for i in range(n), at most ``clients`` at once, results in order."""
    results: list[Any] = [None] * n
    cursor = iter(range(n))

    async def client() -> None:
        for i in cursor:
            results[i] = await work(i)

    await asyncio.gather(*(client() for _ in range(clients)))
    return results


async def run_load(url: str, clouds: list[np.ndarray], args: argparse.Namespace) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def upload(i: int) -> str | None:
            response = await client.post(
                "/api/v1/data/upload",
                files={"file": ("x.npy", npy(clouds[i]), "application/octet-stream")},
            )
            return response.json()["data_id"] if response.status_code == 201 else None

        started = time.monotonic()
        data_ids = await bounded(len(clouds), args.clients, upload)
        upload_s = time.monotonic() - started
        errors = sum(1 for d in data_ids if d is None)

        timed = [Timed(url, client, args.client) for _ in range(args.clients)]
        free = list(timed)

        # Each connection's submission latencies: the kernel spreads connections over the API
        # processes by a hash of their addresses, rarely evenly, and a connection to the busier
        # process waits longer.
        by_connection: dict[int, list[float]] = {id(connection): [] for connection in timed}

        async def submit(i: int) -> tuple[str | None, float, float]:
            connection = free.pop()
            sent = time.time()
            t0 = time.perf_counter()
            status, answer = await connection.post(
                "/api/v1/tda/compute/vietoris-rips",
                {"data_id": data_ids[i], "maxdim": args.maxdim},
            )
            latency = time.perf_counter() - t0
            free.append(connection)
            job_id = answer["job_id"] if status == 202 else None
            if job_id is not None:
                by_connection[id(connection)].append(latency)
            return job_id, sent, latency

        first_submit = time.time()
        submitted = await bounded(len(clouds), args.clients, submit)
        submit_s = time.time() - first_submit
        errors += sum(1 for job_id, _, _ in submitted if job_id is None)
        reused = 0

        # Wait for the end by counting (cheap), then read every job once.
        deadline = time.monotonic() + args.timeout
        while True:
            listing = (await client.get("/api/v1/tda/jobs", params={"limit": 1})).json()
            unfinished = 0
            for status in ("queued", "running"):
                page = await client.get("/api/v1/tda/jobs", params={"status": status, "limit": 1})
                unfinished += page.json()["total"]
            if unfinished == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        del listing

        async def read(i: int) -> dict[str, Any] | None:
            job_id = submitted[i][0]
            if job_id is None:
                return None
            response = await client.get(f"/api/v1/tda/jobs/{job_id}")
            return response.json() if response.status_code == 200 else None

        jobs = await bounded(len(clouds), args.clients, read)
        end_to_end = []
        last_finish = first_submit
        for (job_id, sent, _), job in zip(submitted, jobs, strict=True):
            if job_id is None:
                continue
            if job is None or job["status"] != "succeeded":
                errors += 1
                continue
            reused += bool(job["reused"])
            finished = datetime.fromisoformat(job["finished_at"]).timestamp()
            end_to_end.append(finished - sent)
            last_finish = max(last_finish, finished)

        # HTTP throughput of GET /tda/jobs/{id}, the system idle otherwise.
        ids = [job_id for job_id, _, _ in submitted if job_id is not None]
        count = 0
        get_errors = 0
        stop_at = time.monotonic() + args.get_seconds

        async def poller(k: int) -> None:
            nonlocal count, get_errors
            i = k
            while time.monotonic() < stop_at:
                status, _ = await timed[k].get(f"/api/v1/tda/jobs/{ids[i % len(ids)]}")
                count += 1
                get_errors += status != 200
                i += args.clients

        get_started = time.monotonic()
        await asyncio.gather(*(poller(k) for k in range(args.clients)))
        get_rps = count / (time.monotonic() - get_started)
        for connection in timed:
            await connection.close()

    submit_latencies = [latency for job_id, _, latency in submitted if job_id is not None]
    connection_p50s = [1000 * percentile(lat, 50) for lat in by_connection.values() if lat]
    return {
        "jobs": len(clouds),
        "upload_s": upload_s,
        "submit_s": submit_s,
        "run_s": last_finish - first_submit,
        "jobs_per_s": len(end_to_end) / (last_finish - first_submit),
        "submit_p50_ms": 1000 * percentile(submit_latencies, 50),
        "submit_p99_ms": 1000 * percentile(submit_latencies, 99),
        "submit_p50_ms_by_connection": sorted(round(p50, 1) for p50 in connection_p50s),
        "e2e_p50_s": percentile(end_to_end, 50),
        "e2e_p99_s": percentile(end_to_end, 99),
        "errors": errors + get_errors,
        "reused": reused,
        "get_job_rps": get_rps,
    }


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def engine_time(clouds: list[np.ndarray], maxdim: int, cores: int) -> tuple[float, float]:
    """The engine alone on these jobs: mean seconds per job on one thread, and the wall time of
    all of them on ``cores`` threads at once (the GIL is released while the engine computes)."""
    from concurrent.futures import ThreadPoolExecutor

    from tda_backend.core import vietoris_rips

    vietoris_rips(clouds[0], maxdim=maxdim)  # warm-up
    sample = clouds[: max(len(clouds) // 5, 1)]
    started = time.perf_counter()
    for cloud in sample:
        vietoris_rips(cloud, maxdim=maxdim, n_threads=1)
    per_job = (time.perf_counter() - started) / len(sample)
    with ThreadPoolExecutor(cores) as pool:
        started = time.perf_counter()
        list(pool.map(lambda c: vietoris_rips(c, maxdim=maxdim, n_threads=1), clouds))
        wall = time.perf_counter() - started
    return per_job, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--points", type=int, default=120)
    parser.add_argument("--maxdim", type=int, default=2)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="tda-worker processes")
    parser.add_argument("--concurrency", type=int, default=3, help="jobs at once per tda-worker")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=19,
        help="niceness of the tda-workers: the API answers first when the cores are busy",
    )
    parser.add_argument(
        "--api-nice",
        type=int,
        default=0,
        help="niceness of tda-server's processes (below 0 needs root or CAP_SYS_NICE)",
    )
    parser.add_argument(
        "--worker-policy",
        choices=("nice", "idle"),
        default="nice",
        help="how the tda-workers yield the cores: nice = --worker-nice; idle = SCHED_IDLE"
        " (chrt --idle 0: they run only on cores nothing else wants; --worker-nice is ignored)",
    )
    parser.add_argument(
        "--job-scheduling",
        choices=("normal", "idle"),
        default="idle",
        help="JOB_SCHEDULING of the tda-workers: idle = their computing threads under SCHED_IDLE",
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="what times the submissions and job reads (see above)",
    )
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--get-seconds", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="200 jobs")
    args = parser.parse_args()
    if args.quick:
        args.jobs = min(args.jobs, 200)

    rng = np.random.default_rng(2024)
    clouds = [rng.standard_normal((args.points, 3)) for _ in range(args.jobs)]

    root = Path(tempfile.mkdtemp(prefix="tda-bench-load-"))
    root.chmod(0o755)  # PostgreSQL runs as the postgres user and must reach its directory
    env = {
        **os.environ,
        "TDA_STACK_DIR": str(root / "stack"),
        "TDA_STACK_POSTGRES_PORT": str(free_port()),
        "TDA_STACK_REDIS_PORT": str(free_port()),
    }
    for unset in ("API_KEYS", "KAFKA_BOOTSTRAP_SERVERS", "FLINK_REST_URL"):
        env.pop(unset, None)
    stack = [sys.executable, "-m", "tda_backend.stack"]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        sh([*stack, "up", "postgres", "redis"], env)
        for line in sh([*stack, "env", "postgres", "redis"], env).splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
        port = free_port()
        env.update(
            DATA_DIR=str(root / "var"),
            API_HOST="127.0.0.1",
            API_PORT=str(port),
            API_WORKERS=str(args.api_workers),
            LOG_LEVEL="WARNING",
            PROMETHEUS_MULTIPROC_DIR=str(root / "metrics"),
            JOB_SCHEDULING=args.job_scheduling,
        )
        (root / "metrics").mkdir()
        log = (root / "fleet.log").open("ab")
        processes.append(
            subprocess.Popen(
                ["nice", "-n", str(args.api_nice), str(BIN / "tda-server")],
                env=env,
                stdout=log,
                stderr=log,
            )
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"tda-server did not start; see {root / 'fleet.log'}")
            time.sleep(0.2)
        background = (
            ["chrt", "--idle", "0"]
            if args.worker_policy == "idle"
            else ["nice", "-n", str(args.worker_nice)]
        )
        for _ in range(args.workers):
            processes.append(
                subprocess.Popen(
                    [*background, str(BIN / "tda-worker"), "--concurrency", str(args.concurrency)],
                    env=env,
                    stdout=log,
                    stderr=log,
                )
            )
        time.sleep(3.0)  # the workers import and connect
        figures = asyncio.run(run_load(url, clouds, args))
        # The workers' CPU, engine included (it computes on their threads), per job run.
        worker_cpu = sum(cpu_seconds(process.pid) for process in processes[1:])
        figures["worker_cpu_ms_per_job"] = 1000 * worker_cpu / len(clouds)
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        figures["metrics_jobs_finished"] = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("tda_jobs_finished_total{")
        )
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        subprocess.run([*stack, "down", "postgres", "redis"], env=env, check=False)

    per_job, wall = engine_time(clouds, args.maxdim, args.cores)
    limit = len(clouds) / wall
    figures.update(
        engine_ms_per_job=1000 * per_job,
        engine_wall_s_on_cores=wall,
        compute_bound_jobs_per_s=limit,
        fraction_of_limit=figures["jobs_per_s"] / limit,
        settings={
            k: getattr(args, k)
            for k in (
                "jobs",
                "points",
                "maxdim",
                "api_workers",
                "workers",
                "concurrency",
                "api_nice",
                "worker_nice",
                "worker_policy",
                "job_scheduling",
                "clients",
                "client",
            )
        },
    )
    shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"\n{figures['jobs_per_s']:.1f} jobs/s = {100 * figures['fraction_of_limit']:.0f}% of the"
        f" compute-bound {limit:.1f} jobs/s; submit p50/p99 {figures['submit_p50_ms']:.1f}/"
        f"{figures['submit_p99_ms']:.1f} ms (p50 per connection"
        f" {min(figures['submit_p50_ms_by_connection'])}-"
        f"{max(figures['submit_p50_ms_by_connection'])}); end-to-end p50/p99"
        f" {figures['e2e_p50_s']:.2f}/"
        f"{figures['e2e_p99_s']:.2f} s; GET /tda/jobs/{{id}} {figures['get_job_rps']:.0f}/s;"
        f" worker CPU {figures['worker_cpu_ms_per_job']:.1f} ms per job (engine alone"
        f" {figures['engine_ms_per_job']:.1f}); errors {figures['errors']}"
    )
    sys.exit(1 if figures["errors"] else 0)


if __name__ == "__main__":
    main()
