"""Peak memory of `embedrec train` as a user runs it, beside the engine's figure in process.

Each figure is one fresh process measured by `/usr/bin/time -v` (its "Maximum resident set
size"), as a user would measure it:

- the CLI: `python -m embedrec train --data FILE --out DIR ARGS...` (load, split, choose,
  train, validate, noise floor, save);
- the engine in process: a `python -c` that loads the same file with `load_ratings` and
  trains the same model on all of it with `embedrec.train` (no split, no validation, no
  save): what the engine itself needs, the figure the CLI is held to (within 15%).

    python benchmarks/cli_memory.py --data synthetic-ml25m.parquet [--runs dot-bias,default]

The file is written by `embedrec synth --preset ml-25m` when missing (`--preset` picks
another). This script imports no embedrec module, so nothing of its own counts.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TIME = "/usr/bin/time"
ISSUE_TARGET_GB = {"dot-bias": 2.0, "default": 2.2}  # issue 26, in GB of 10**6 kB
WITHIN = 1.15  # the CLI's peak within 15% of the engine's in-process figure


@dataclass(frozen=True)
class Run:
    """One configuration: the CLI's flags, and the in-process code (`{data}`: the file) that
    trains the same model on the same rows with `embedrec.train`."""

    name: str
    cli: tuple[str, ...]
    engine: str


RUNS = {
    # the issue's yardstick: load and train on every row, as benchmarks/speed.py's child does
    "dot-bias": Run(
        "dot-bias",
        (
            "--model",
            "dot-bias",
            "--n-factors",
            "64",
            "--epochs",
            "2",
            "--engine",
            "fused",
            "--valid-pct",
            "0.01",
        ),
        "embedrec.train(embedrec.load_ratings({data}), model='dot-bias', n_factors=64, "
        "epochs=2, engine='fused')",
    ),
    # the default at 25M ratings trains bmf (the data rule's picks) beside a ranker chosen on
    # carved rows; the engine figure is bmf alone on the same split, validated each tenth
    "default": Run("default", (), "embedrec.train(embedrec.load_split({data}), model='bmf')"),
}


def peak_of(command: list[str]) -> tuple[int, str]:
    """Peak RSS in kB and the wall time of `command`, a fresh process under /usr/bin/time."""
    done = subprocess.run([TIME, "-v", *command], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    wall = re.search(r"Elapsed \(wall clock\) time .*: (\S+)", done.stderr)[1]
    return kb, wall


def engine_command(data: Path, run: Run) -> list[str]:
    code = "import embedrec; " + run.engine.format(data=repr(str(data)))
    return [sys.executable, "-c", code]


def cli_command(data: Path, run: Run, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "embedrec",
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        *run.cli,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("synthetic-ml25m.parquet"))
    parser.add_argument("--preset", default="ml-25m")
    parser.add_argument("--runs", default="dot-bias,default", help="of: " + ", ".join(RUNS))
    args = parser.parse_args()
    if not Path(TIME).exists():
        sys.exit(f"{TIME} is needed (GNU time: apt-get install time)")
    if not args.data.exists():
        print(f"writing {args.data} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "embedrec",
                "synth",
                "--preset",
                args.preset,
                "--out",
                str(args.data),
            ],
            check=True,
        )
    print(f"{'run':<10} {'what':<20} {'peak RSS kB':>12} {'GB':>6} {'GiB':>6} {'wall':>9}")
    for name in args.runs.split(","):
        run = RUNS[name]
        with tempfile.TemporaryDirectory() as tmp:
            cli_kb, cli_wall = peak_of(cli_command(args.data, run, Path(tmp) / "model"))
        engine_kb, engine_wall = peak_of(engine_command(args.data, run))
        for what, kb, wall in (
            ("engine in process", engine_kb, engine_wall),
            ("embedrec train", cli_kb, cli_wall),
        ):
            print(f"{name:<10} {what:<20} {kb:>12,} {kb / 1e6:>6.2f} {kb / 2**20:>6.2f} {wall:>9}")
        ratio = cli_kb / engine_kb
        target = ISSUE_TARGET_GB[name]
        print(
            f"{name:<10} CLI / engine {ratio:.2f} (within {WITHIN:.2f}: "
            f"{'yes' if ratio <= WITHIN else 'NO'}); target {target} GB: "
            f"{'met' if cli_kb / 1e6 <= target else 'NOT met'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
