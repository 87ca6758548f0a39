"""``tda``: the terminal client of a tda-platform server.

    tda compute points.csv --maxdim 2 --out results/     upload, compute, follow, summarize, save
    tda upload points.npy [--kind distance_matrix]        just upload; prints the data_id
    tda compute DATA_ID --algorithm alpha                 compute on uploaded data
    tda status JOB_ID | follow JOB_ID | cancel JOB_ID | jobs [--status S]
    tda result JOB_ID --out DIR                           save JSON, CSV, NPZ and the SVG pictures
    tda health

The server is ``--url`` or ``TDA_URL`` (default http://127.0.0.1:8000); ``--api-key`` or
``TDA_API_KEY`` when the server requires one. Exit status: 0 done, 1 the job failed or was
cancelled, 2 a request was refused (the server's message is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

API = "/api/v1"
DEFAULT_URL = "http://127.0.0.1:8000"
TERMINAL = {"succeeded", "failed", "cancelled"}
ALGORITHMS = {
    "rips": "vietoris-rips",
    "vietoris-rips": "vietoris-rips",
    "alpha": "alpha-complex",
    "alpha-complex": "alpha-complex",
}
DOWNLOADS = {
    "result.json": "",
    "diagrams.csv": "/csv",
    "diagrams.npz": "/npz",
    "diagram.svg": "/diagram.svg",
    "barcode.svg": "/barcode.svg",
}

out = Console()
err = Console(stderr=True)


class ClientError(Exception):
    """A refused request: the message is the server's."""


def _message(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(detail, list):
        return "; ".join(
            ".".join(str(p) for p in item.get("loc", [])[1:]) + ": " + str(item.get("msg", ""))
            for item in detail
        )
    return str(detail)


class Client:
    def __init__(self, url: str, api_key: str | None, timeout: float = 60.0) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self.http.base_url}: {exc}") from None
        if response.status_code >= 400:
            raise ClientError(f"{response.status_code}: {_message(response)}")
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = self._request(method, path, **kwargs).json()
        return body

    def upload(self, path: Path, kind: str | None) -> dict[str, Any]:
        with path.open("rb") as handle:
            files = {"file": (path.name, handle, "application/octet-stream")}
            return self.json(
                "POST", f"{API}/data/upload", files=files, data={"kind": kind} if kind else {}
            )

    def submit(self, algorithm: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.json("POST", f"{API}/tda/compute/{algorithm}", json=params)

    def job(self, job_id: str) -> dict[str, Any]:
        return self.json("GET", f"{API}/tda/jobs/{job_id}")

    def download(self, job_id: str, suffix: str) -> bytes:
        return self._request("GET", f"{API}/tda/results/{job_id}{suffix}").content


def follow(client: Client, job_id: str, poll_s: float = 0.25) -> dict[str, Any]:
    """Poll the job, drawing a progress bar, until it ends."""
    job = client.job(job_id)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(f"{job['algorithm']} {job_id}: {job['status']}", total=1.0)
        while job["status"] not in TERMINAL:
            progress.update(
                task,
                completed=job["progress"],
                description=f"{job['algorithm']} {job_id}: {job['status']}",
            )
            time.sleep(poll_s)
            job = client.job(job_id)
        progress.update(task, completed=job["progress"])
    return job


def print_summary(job: dict[str, Any], result: dict[str, Any]) -> None:
    summary = result["summary"]
    table = Table(title=f"{job['algorithm']} persistence, job {job['job_id']}")
    for header in ("dim", "pairs", "essential", "total persistence", "longest finite bar"):
        table.add_column(header, justify="right")
    for dim in sorted(result["diagrams"], key=int):
        finite = [bar for bar in summary["longest_bars"][dim] if bar[1] is not None]
        longest = f"[{finite[0][0]:.4g}, {finite[0][1]:.4g})" if finite else "-"
        table.add_row(
            dim,
            str(summary["pairs"][dim]),
            str(summary["essential"][dim]),
            f"{summary['total_persistence'][dim]:.4g}",
            longest,
        )
    out.print(table)
    metadata = result["metadata"]
    out.print(
        f"Betti numbers: {result['betti']}   field: {metadata.get('coefficient_field')}"
        f"   engine {metadata.get('engine_version')}"
        f"   {metadata.get('duration_s', 0):.3f} s"
    )


def save_result(client: Client, job_id: str, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, suffix in DOWNLOADS.items():
        path = directory / name
        path.write_bytes(client.download(job_id, suffix))
        saved.append(path)
    return saved


def _finish(client: Client, job: dict[str, Any], out_dir: Path | None) -> int:
    if job["status"] != "succeeded":
        err.print(
            f"[red]job {job['job_id']} {job['status']}[/red]"
            + (f": {job['error']}" if job.get("error") else "")
        )
        return 1
    result = json.loads(client.download(job["job_id"], ""))
    print_summary(job, result)
    if out_dir is not None:
        for path in save_result(client, job["job_id"], out_dir):
            out.print(f"saved {path}")
    return 0


def _compute_params(args: argparse.Namespace, data_id: str, algorithm: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "data_id": data_id,
        "coeff": args.coeff,
        "representatives": args.representatives,
    }
    if args.maxdim is not None:
        params["maxdim"] = args.maxdim
    if algorithm == "vietoris-rips":
        params["threshold"] = args.threshold
        params["n_threads"] = args.threads
        if args.metric:
            params["metric"] = args.metric
    else:
        params["values"] = args.values
    return params


def cmd_compute(client: Client, args: argparse.Namespace) -> int:
    algorithm = ALGORITHMS[args.algorithm]
    source = Path(args.data)
    if source.is_file():
        data = client.upload(source, args.kind)
        err.print(
            f"uploaded {source} as {data['data_id']} ({data['kind']},"
            f" {data['shape'][0]}x{data['shape'][1]})"
        )
        data_id = data["data_id"]
    else:
        data_id = args.data
    job = client.submit(algorithm, _compute_params(args, data_id, algorithm))
    if job["reused"]:
        err.print("an identical computation was done before: its result is reused")
    if args.no_wait:
        out.print(job["job_id"])
        return 0
    return _finish(client, follow(client, job["job_id"]), args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tda", description="Client of a tda-platform server.")
    parser.add_argument(
        "--url",
        default=os.environ.get("TDA_URL", DEFAULT_URL),
        help="server URL (TDA_URL; default %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("TDA_API_KEY"),
        help="API key, when the server requires one (TDA_API_KEY)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    upload = commands.add_parser("upload", help="upload a CSV/TSV, .npy or JSON file")
    upload.add_argument("file", type=Path)
    upload.add_argument("--kind", choices=["point_cloud", "distance_matrix"])

    compute = commands.add_parser("compute", help="compute persistence (uploading a file first)")
    compute.add_argument("data", help="a file to upload, or the data_id of an upload")
    compute.add_argument("--algorithm", "-a", choices=sorted(ALGORITHMS), default="rips")
    compute.add_argument("--kind", choices=["point_cloud", "distance_matrix"])
    compute.add_argument("--maxdim", "-d", type=int)
    compute.add_argument("--threshold", "-t", type=float)
    compute.add_argument("--coeff", "-p", type=int, default=2, help="prime coefficient field")
    compute.add_argument("--metric", choices=["euclidean", "manhattan", "chebyshev", "cosine"])
    compute.add_argument(
        "--values",
        choices=["squared_radius", "radius"],
        default="squared_radius",
        help="alpha filtration values",
    )
    compute.add_argument("--threads", type=int, default=1)
    compute.add_argument("--representatives", action="store_true")
    compute.add_argument("--no-wait", action="store_true", help="print the job id and return")
    compute.add_argument("--out", "-o", type=Path, help="save the result files here")

    for name, text in (
        ("status", "show a job"),
        ("follow", "follow a job until it ends"),
        ("cancel", "cancel a job"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("job_id")
        if name == "follow":
            sub.add_argument("--out", "-o", type=Path, help="save the result files here")

    result = commands.add_parser("result", help="print a job's summary and save its files")
    result.add_argument("job_id")
    result.add_argument("--out", "-o", type=Path, help="save the result files here")

    jobs = commands.add_parser("jobs", help="list jobs, newest first")
    jobs.add_argument("--status", choices=sorted(TERMINAL | {"queued", "running"}))
    jobs.add_argument("--limit", type=int, default=20)

    commands.add_parser("health", help="the server's health")
    return parser


def run(args: argparse.Namespace) -> int:
    client = Client(args.url, args.api_key)
    if args.command == "upload":
        data = client.upload(args.file, args.kind)
        err.print(f"{data['kind']} {data['shape'][0]}x{data['shape'][1]} sha256 {data['sha256']}")
        out.print(data["data_id"])
        return 0
    if args.command == "compute":
        return cmd_compute(client, args)
    if args.command in ("status", "cancel"):
        method = "GET" if args.command == "status" else "DELETE"
        out.print_json(data=client.json(method, f"{API}/tda/jobs/{args.job_id}"))
        return 0
    if args.command in ("follow", "result"):
        job = follow(client, args.job_id) if args.command == "follow" else client.job(args.job_id)
        return _finish(client, job, args.out)
    if args.command == "jobs":
        params: dict[str, Any] = {"limit": args.limit}
        if args.status:
            params["status"] = args.status
        listing = client.json("GET", f"{API}/tda/jobs", params=params)
        table = Table(title=f"{listing['total']} jobs")
        for header in ("job_id", "algorithm", "status", "progress", "created"):
            table.add_column(header)
        for job in listing["items"]:
            table.add_row(
                job["job_id"],
                job["algorithm"],
                job["status"],
                f"{job['progress']:.0%}",
                job["created_at"],
            )
        out.print(table)
        return 0
    out.print_json(data=client.json("GET", "/health"))
    return 0


def main(argv: list[str] | None = None) -> NoReturn:
    args = build_parser().parse_args(argv)
    try:
        code = run(args)
    except ClientError as exc:
        err.print(f"[red]error[/red] {exc}")
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
