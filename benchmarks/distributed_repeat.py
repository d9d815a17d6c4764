"""How often a two-process run on gloo with sparse embedding gradients fails: the same
`torchrun ... -m embedrec train` (the shape of tests/test_distributed.py's sparse-table case,
3,000 users x 4,000 rows at 320 factors, whose tables take sparse gradients) `--runs` times,
counting the runs that did not exit 0 and printing the first line of what each failure said.

python benchmarks/distributed_repeat.py [--runs 30]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SIGNS = ("malloc", "terminate called", "SIGSEGV", "SIGABRT", "exitcode")


def write_parts(folder: Path, n: int = 4_000) -> None:
    rows = np.arange(n)
    table = pa.table({"user": rows % 3_000, "item": rows * 7 % 9_000, "rating": rows % 5 + 1.0})
    folder.mkdir()
    for k in range(2):
        pq.write_table(table.slice(k * n // 2, n // 2), folder / f"part-{k}.parquet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        parts = Path(tmp) / "parts"
        write_parts(parts)
        for run in range(args.runs):
            command = [
                sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}",
                "-m", "embedrec", "train", "--data", str(parts), "--model", "dot-bias",
                "--n-factors", "320", "--epochs", "1", "--out", f"{tmp}/m{run}", "--json",
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                failed += 1
                said = [line for line in done.stderr.splitlines() if any(s in line for s in SIGNS)]
                print(f"run {run + 1}: exit {done.returncode}: {said[:1]}", flush=True)
    print(f"{failed} of {args.runs} two-process runs failed")


if __name__ == "__main__":
    main()
