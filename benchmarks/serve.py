"""The service's speed against a real `embedrec serve` (uvicorn) on 127.0.0.1, bounded in time
and count: throughput, p50 and p99 latency per endpoint, the server's CPU time per request (all
its processes; what other work on a shared machine barely moves) and its resident memory (in
all, in its workers, and per process: supervisor, each worker; read from /proc).

- ML-100k (the README's default model): GET /users/{u}/recommendations?n=10 for random known
  users, `--concurrency` requests in flight (target >= 1,000 requests/s, p99 < 50 ms on 2 cores);
  also a new user folded in, similar items and feedback writes.
- `--large`: a catalogue of 59,047 items (the synthetic ML-25M preset, dot-bias k=64; built
  into that folder when missing, a few minutes): top-10 for one user, fold-in of a new user from
  20 ratings (both one request at a time; target p99 < 50 ms), durable feedback writes
  (target >= 500/s).

python benchmarks/serve.py --model models/ml-100k [--client wrk|httpx] [--seconds 10]
    [--requests 5000] [--concurrency 32] [--workers 2] [--cache 64]
    [--large models/synthetic-ml25m-k64] [--large-requests 500]

The load comes from Debian's `wrk` where installed (one C thread, `--seconds` per scenario,
cycling through 5,000 prepared requests), else from an async httpx2 loop (`--requests` per
scenario, Python: it takes much of the CPU the server needs on a 2-core machine). With the
default --cache, a known user's repeated list is served from the server's per-model cache
(random users of ML-100k's 943 are mostly repeats); --cache 0 computes every list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import numpy as np

import embedrec

TOKEN = "bench"
HOST = "127.0.0.1"  # traffic goes to this machine only
Request = Callable[[int], tuple[str, str, Any]]  # request number -> (method, path, json body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start(
    model_dir: Path, workers: int, cache: int, db: str, log: Path
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-c", "from embedrec.cli import main; main()", "serve"]
    command += [str(model_dir), "--host", HOST, "--port", str(port), "--db", db]
    command += ["--workers", str(workers), "--cache", str(cache)]
    command += ["--token", TOKEN, "--log-level", "warning"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited: {log.read_text()}")
        try:
            if httpx2.get(url + "/health", timeout=2).status_code == 200:
                return process, url
        except httpx2.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start within 300 s")


def rss_mb(pid: int) -> float | None:
    """Resident memory of one process (VmRSS in /proc), in MB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return 0.0  # a zombie: no memory left


def role(pid: int, server: int) -> str:
    """What a process of the server is: uvicorn's supervisor, a worker (spawned by
    multiprocessing), multiprocessing's resource tracker, or the one process of --workers 1."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
    if "resource_tracker" in command:
        return "resource tracker"
    if "spawn_main" in command or "forkserver" in command:
        return "worker"
    return "supervisor" if pid == server else "other"


def server_memory(pid: int) -> dict[str, Any]:
    """The server's resident memory: in all, in its workers, and per process (pid, role, MB);
    with one worker the server is one process, which is its worker."""
    rows: list[dict[str, Any]] = []
    for one in [pid, *children(pid)]:
        mb = rss_mb(one)
        if mb is not None:
            rows.append({"pid": one, "role": role(one, pid), "rss_mb": mb})
    if not any(row["role"] == "worker" for row in rows):
        rows[0]["role"] = "server and worker (one process)"
    workers = [row["rss_mb"] for row in rows if "worker" in row["role"]]
    return {
        "rss_mb": sum(row["rss_mb"] for row in rows),
        "workers": len(workers),
        "workers_rss_mb": sum(workers),
        "processes": rows,
    }


async def run(url: str, request: Request, count: int, concurrency: int) -> dict[str, float]:
    """`count` requests, `concurrency` in flight; every answer must be a 2xx."""
    latencies: list[float] = []
    failures = 0
    next_number = 0
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60, headers=headers) as http:

        async def worker() -> None:
            nonlocal next_number, failures
            while next_number < count:
                method, path, body = request(next_number)
                next_number += 1
                started = time.perf_counter()
                response = await http.request(method, path, json=body)
                latencies.append(time.perf_counter() - started)
                failures += not 200 <= response.status_code < 300

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    milliseconds = np.array(latencies) * 1000
    return {
        "requests": count,
        "concurrency": concurrency,
        "per_second": count / seconds,
        "p50_ms": float(np.percentile(milliseconds, 50)),
        "p99_ms": float(np.percentile(milliseconds, 99)),
        "failed": failures,
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its children (the workers) have used so far: the
    server's cost per request, which other work on the machine barely moves."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for one in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def children(pid: int) -> list[int]:
    """Every descendant of `pid` (the children of each of its threads, recursively)."""
    found = []
    for listed in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in listed.read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return [one for child in found for one in (child, *children(child))]


WRK_SCRIPT = """
local requests = {%s}
local sent = 0
request = function()
  sent = sent + 1
  local r = requests[(sent - 1) %% #requests + 1]
  return wrk.format(r[1], r[2], {["Content-Type"] = "application/json",
                                 ["Authorization"] = "Bearer %s"}, r[3])
end
done = function(summary, latency)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status))
end
"""


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def run_wrk(url: str, request: Request, seconds: int, concurrency: int) -> dict[str, float]:
    """The same scenario from wrk (one C thread: a load generator that leaves the CPU to the
    server) for a fixed time, cycling through 5,000 prepared requests; wrk cannot stop at a
    count and report a true rate. Statuses over 399 count as failed."""
    entries = []
    for number in range(5000):
        method, path, body = request(number)
        payload = "nil" if body is None else lua_string(json.dumps(body))
        entries.append(f"{{{lua_string(method)}, {lua_string(path)}, {payload}}}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (",\n".join(entries), TOKEN))
    try:
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s"]
        out = subprocess.run(
            [*command, "-s", script.name, url], capture_output=True, text=True, check=True
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    answered, micros, p50, p99, failed = (int(x) for x in line.split()[1:])
    return {
        "requests": answered,
        "concurrency": concurrency,
        "per_second": answered / (micros / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "failed": failed,
    }


def scenarios(rec: embedrec.Recommender, seed: int) -> dict[str, Request]:
    rng = random.Random(seed)
    users = [u for u, c in zip(rec.user_map.to_list(), rec.user_counts) if c > 0]
    items = [i for i, c in zip(rec.item_map.to_list(), rec.item_counts) if c > 0]
    popular = [rec.item_map.ids[i].item() for i in np.argsort(-rec.item_counts)[:2000]]
    low, high = rec.rating_scale or (1.0, 5.0)
    values = [float(v) for v in range(int(np.ceil(low)), int(high) + 1)]  # whole stars in scale

    def recommendations(_: int) -> tuple[str, str, Any]:
        return "GET", f"/users/{rng.choice(users)}/recommendations?n=10", None

    def new_user(_: int) -> tuple[str, str, Any]:
        rated = rng.sample(popular, 20)
        ratings = {str(i): rng.choice(values) for i in rated}
        return "POST", "/recommendations", {"ratings": ratings, "n": 10}

    def similar(_: int) -> tuple[str, str, Any]:
        return "GET", f"/items/{rng.choice(popular[:500])}/similar?n=10", None

    def feedback(number: int) -> tuple[str, str, Any]:
        body = {"item": rng.choice(items), "rating": rng.choice(values)}
        return "POST", f"/users/bench-{seed}-{number % 500}/ratings", body

    return {
        "GET /users/{u}/recommendations?n=10": recommendations,
        "POST /recommendations (20 ratings)": new_user,
        "GET /items/{i}/similar?n=10": similar,
        "POST /users/{u}/ratings (durable)": feedback,
    }


def bench(
    model_dir: Path,
    plan: list[tuple[str, int, int]],
    workers: int,
    cache: int,
    seed: int,
    client: str,
    seconds: int,
) -> list[tuple[str, dict[str, Any]]]:
    rec = embedrec.load(model_dir)
    requests = scenarios(rec, seed)
    with tempfile.TemporaryDirectory() as folder:
        db = f"sqlite:///{Path(folder) / 'feedback.db'}"
        process, url = start(model_dir, workers, cache, db, Path(folder) / "server.log")
        try:
            results = []
            for name, count, concurrency in plan:
                asyncio.run(run(url, requests[name], min(50, count), concurrency))  # warm-up
                cpu_before = cpu_seconds(process.pid)
                if client == "wrk":
                    row = run_wrk(url, requests[name], seconds, concurrency)
                else:
                    row = asyncio.run(run(url, requests[name], count, concurrency))
                row["cpu_ms"] = (cpu_seconds(process.pid) - cpu_before) * 1000 / row["requests"]
                results.append((name, row))
            results.append(("server RSS", server_memory(process.pid)))
            return results
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


def build_large(path: Path, preset: str) -> None:
    """A synthetic preset (ML-25M: 59,047 items) trained as dot-bias with 64 factors."""
    data = path.with_suffix(".parquet")
    if not data.exists():
        embedrec.write_synthetic(data, preset)
    split = embedrec.load_split(str(data), valid_pct=0.01)
    rec = embedrec.train(split, model="dot-bias", n_factors=64, epochs=1, wd=0.0)
    rec.save(path)


def memory_rows(memory: dict[str, Any]) -> None:
    """The server's RSS as table rows: all its processes, its workers, then each process."""
    rows = [
        (f"server RSS, all processes ({len(memory['processes'])})", memory["rss_mb"]),
        (f"server RSS, workers ({memory['workers']})", memory["workers_rss_mb"]),
        *(
            (f"RSS of the {one['role']} (pid {one['pid']})", one["rss_mb"])
            for one in memory["processes"]
        ),
    ]
    for name, mb in rows:
        print(f"| {name} | {mb:.0f} MB | | | | | | |")


def table(title: str, results: list[tuple[str, dict[str, Any]]]) -> None:
    print(f"\n{title}\n")
    print(
        "| endpoint | requests | in flight | requests/s | p50 ms | p99 ms | failed "
        "| server CPU ms/request |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, row in results:
        if "rss_mb" in row:
            memory_rows(row)
            continue
        print(
            f"| {name} | {row['requests']:,} | {row['concurrency']} | {row['per_second']:,.0f} "
            f"| {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['failed']} "
            f"| {row['cpu_ms']:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/ml-100k"))
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--large", type=Path, default=None)
    parser.add_argument("--large-requests", type=int, default=500)
    parser.add_argument("--large-preset", default="ml-25m", help="synthetic preset to build")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--client",
        choices=["wrk", "httpx"],
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator: Debian's wrk (C, little CPU; default where installed) or httpx "
        "(an async loop on the httpx2 package)",
    )
    parser.add_argument("--seconds", type=int, default=10, help="wrk: seconds per scenario")
    parser.add_argument(
        "--cache", type=int, default=64, help="the server's --cache in MiB (0: every list computed)"
    )
    args = parser.parse_args()
    count, flight = args.requests, args.concurrency
    small = [
        ("GET /users/{u}/recommendations?n=10", count, flight),
        ("POST /recommendations (20 ratings)", max(1, count // 5), flight),
        ("GET /items/{i}/similar?n=10", max(1, count // 5), flight),
        ("POST /users/{u}/ratings (durable)", max(1, count // 5), flight),
    ]
    print(
        f"embedrec {embedrec.__version__}, {os.cpu_count()} CPUs, {args.workers} workers, "
        f"--cache {args.cache}, load from {args.client}"
    )
    table(
        f"{args.model}",
        bench(args.model, small, args.workers, args.cache, args.seed, args.client, args.seconds),
    )
    if args.large is not None:
        if not args.large.exists():
            build_large(args.large, args.large_preset)
        large = args.large_requests
        plan = [
            ("GET /users/{u}/recommendations?n=10", large, 1),
            ("POST /recommendations (20 ratings)", large, 1),
            ("POST /users/{u}/ratings (durable)", large * 4, flight),
        ]
        results = bench(
            args.large, plan, args.workers, args.cache, args.seed, args.client, args.seconds
        )
        n_items = embedrec.SYNTHETIC_PRESETS[args.large_preset].n_items
        table(f"{args.large} ({n_items:,} items)", results)


if __name__ == "__main__":
    main()
