"""Where an `embedrec` command's memory goes: its resident set, sampled while it runs, with the
embedrec (and numpy, pandas, pyarrow) lines the main thread was in.

    python benchmarks/rss_trace.py --log trace.txt train --data ml25m.parquet --out M

runs `python -m embedrec train ...` in this process and writes one line to the log at each new
high (50 MB above the last) and once a second: seconds, GiB, the innermost frames. A numba
kernel holds the GIL, so a peak inside one shows as the line that called it. The figures that
BENCHMARKS.md records come from `benchmarks/cli_memory.py` (a fresh process under
/usr/bin/time); this finds the phase that makes them.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import threading
import time
import traceback
from typing import TextIO

PAGE = os.sysconf("SC_PAGE_SIZE")
STEP = 50 * 2**20
SHOWN = ("embedrec", "numpy", "pandas", "pyarrow")


def resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def where(thread: int) -> str:
    frame = sys._current_frames().get(thread)
    stack = traceback.extract_stack(frame) if frame is not None else []
    lines = [
        f"{f.filename.split('site-packages/')[-1].split('/src/')[-1]}:{f.lineno} {f.name}"
        for f in stack
        if any(name in f.filename for name in SHOWN)
    ]
    return " <- ".join(reversed(lines[-4:]))


def sample(log: TextIO, thread: int, start: float) -> None:
    high, last = 0, 0.0
    while True:
        now, rss = time.time(), resident()
        if rss > high + STEP or now - last > 1.0:
            high, last = max(high, rss), now
            log.write(f"{now - start:8.1f}s {rss / 2**30:6.2f} GiB  {where(thread)}\n")
            log.flush()
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", required=True, help="file to write the samples to")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="embedrec's arguments")
    args = parser.parse_args()
    log = open(args.log, "w")  # noqa: SIM115 (the sampler writes to it until the process ends)
    thread = threading.main_thread().ident
    assert thread is not None
    threading.Thread(target=sample, args=(log, thread, time.time()), daemon=True).start()
    sys.argv = ["embedrec", *args.command]
    try:
        runpy.run_module("embedrec", run_name="__main__")
    finally:
        with open("/proc/self/status") as status:
            peak = status.read().split("VmHWM:")[1].split()[0]
        log.write(f"VmHWM {peak} kB\n")
        log.flush()


if __name__ == "__main__":
    main()
