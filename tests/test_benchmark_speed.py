"""benchmarks/speed.py refuses a run that would print no figure but nan."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_pair_of_epochs_is_refused_before_anything_runs(tmp_path):
    data = tmp_path / "never-written.parquet"
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "speed.py"),
            "--data",
            str(data),
            "--pairs",
            "0",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--pairs 0: at least 1 pair" in done.stderr and "Traceback" not in done.stderr
    assert not data.exists()  # refused before the 25M-rating file is written
