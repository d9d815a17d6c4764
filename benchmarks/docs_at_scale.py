"""The documentation's full-scale examples, run as written: every code block of README.md and
docs/ marked `<!-- at full scale ... -->` (the 25M-rating example of docs/training.md). The
test suite runs those blocks on a smaller preset (tests/test_readme.py); this script runs them
at the size the page shows, one line at a time in a fresh folder, and checks each line's
figures against its trailing comment: "valid RMSE X" must be what the command prints, rounded
as the page rounds it; "about N s" / "~N s" is reported beside the measured wall seconds (a
busy machine makes time a report, not a check).

python benchmarks/docs_at_scale.py [--json PATH] [--keep DIR]

Run from the repository's root, with `embedrec` installed (or `PYTHONPATH=src` and the
virtual environment's `bin` on PATH). Exit 1 when a figure differs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKED = re.compile(r"^<!-- at full scale[^\n]*-->\n```bash\n(.*?)^```$", re.M | re.S)
RMSE_SAID = re.compile(r"valid RMSE (\d\.\d+)")
SECONDS_SAID = re.compile(r"(?:about|~)\s*(\d+) s\b")
RMSE_PRINTED = re.compile(r"saved .* valid RMSE (\d\.\d+)")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def marked_lines() -> list[tuple[str, str, str]]:
    """(page, command, its comment) of every line of a marked block, continuations joined."""
    found = []
    for page in documents():
        for block in MARKED.finditer(page.read_text()):
            for line in block.group(1).replace("\\\n", " ").splitlines():
                command, comment = split_comment(line)
                if command.strip():
                    found.append((page.name, " ".join(command.split()), comment.strip()))
    return found


def split_comment(line: str) -> tuple[str, str]:
    """(command, comment) of a shell line as bash reads it: a comment starts at a `#` after a
    blank outside quotes (`--out 'a #1.parquet'` is part of the command)."""
    for blank in re.finditer(r"\s#", line):
        try:
            shlex.split(line[: blank.start()])
        except ValueError:  # an open quote: the `#` is inside it
            continue
        return line[: blank.start()], line[blank.end() :].strip()
    return line, ""


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_line(command: str, folder: Path) -> dict:
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
    )
    return {
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(children_cpu() - cpu, 1),
        "exit": done.returncode,
        "output": done.stdout + done.stderr,
    }


def judge(comment: str, ran: dict) -> list[str]:
    """What differs between the comment's figures and the run (nothing: an empty list)."""
    problems = [] if ran["exit"] == 0 else [f"exit {ran['exit']}: {ran['output'][-1500:]}"]
    said = RMSE_SAID.search(comment)
    if said:
        printed = RMSE_PRINTED.search(ran["output"])
        decimals = len(said.group(1).split(".")[1])
        if not printed:
            problems.append("printed no valid RMSE")
        elif round(float(printed.group(1)), decimals) != float(said.group(1)):
            problems.append(f"valid RMSE {printed.group(1)}, the page says {said.group(1)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep what it writes")
    args = parser.parse_args()
    lines = marked_lines()
    if not lines:
        print("no block is marked <!-- at full scale ... --> in README.md or docs/")
        return 1
    folder = args.keep or Path(tempfile.mkdtemp(prefix="embedrec-at-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows, failed = [], False
    try:
        print(f"{'page':<14} {'wall s':>7} {'CPU s':>7} {'said':>14}  command")
        for page, command, comment in lines:
            ran = run_line(command, folder)
            problems = judge(comment, ran)
            failed |= bool(problems)
            seconds = SECONDS_SAID.search(comment)
            rmse = RMSE_PRINTED.search(ran["output"])
            rows.append(
                {
                    "page": page,
                    "command": command,
                    "comment": comment,
                    "wall_s": ran["wall_s"],
                    "cpu_s": ran["cpu_s"],
                    "said_seconds": int(seconds.group(1)) if seconds else None,
                    "valid_rmse": float(rmse.group(1)) if rmse else None,
                    "problems": problems,
                }
            )
            said = f"~{seconds.group(1)} s" if seconds else ""
            print(f"{page:<14} {ran['wall_s']:>7} {ran['cpu_s']:>7} {said:>14}  {command}")
            if rmse:
                print(f"{'':<14} valid RMSE {rmse.group(1)} (the page: {comment})")
            for problem in problems:
                print(f"{'':<14} DIFFERS: {problem}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print("every figure holds" if not failed else "a figure differs (above)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
