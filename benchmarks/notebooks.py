"""The example notebooks (examples/*.ipynb) executed in a real Jupyter kernel, and the key
numbers they print read back: what tests/test_examples.py checks and what
benchmarks/render_notebooks.py draws. Run as a script, it executes the chapter notebooks under
several seeds and prints each printed number per seed: the run-to-run spread the tests'
tolerances come from.

    python benchmarks/notebooks.py --seeds 42 1 2 [--notebooks 01_chapter_collab.ipynb ...]

The kernel reads MovieLens 100k from ../shared/data/movielens (EMBEDREC_DATA set for it).

A notebook prints each number a reader (or a test) checks on a line of its own,
`key: value` (`dot_bias_valid_loss: 0.8204`), beside its rich output. Its first code cell
sets `SEED = 42`; `seed=` replaces that line before the kernel runs it.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NOTEBOOKS = (
    "01_chapter_collab.ipynb",
    "02_chapter_nn.ipynb",
    "03_your_own_data.ipynb",
    "04_serve_it.ipynb",
)
SHARED_MOVIELENS = ROOT.parent / "shared" / "data" / "movielens"
SEED_LINE = re.compile(r"^SEED = \d+", re.MULTILINE)
PRINTED_LINE = re.compile(r"^([a-z][a-z0-9_]*): (.*)$", re.MULTILINE)


def kernel_env(data_dir: Path | None = None) -> dict[str, str]:
    """The kernel's environment: this checkout's `src` first on PYTHONPATH (the notebooks
    import the embedrec under test) and EMBEDREC_DATA at the MovieLens folder, as
    `embedrec data set-dir` would leave it for a reader."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env["EMBEDREC_DATA"] = str(data_dir or SHARED_MOVIELENS)
    return env


def execute(
    name: str, seed: int | None = None, timeout: int = 300, data_dir: Path | None = None
) -> Any:
    """The notebook `examples/NAME`, executed cell by cell (its outputs filled in), the working
    directory `examples/`, as a reader opening it there has it. A failing cell raises
    nbclient's CellExecutionError, which names the cell and shows its traceback."""
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    if seed is not None:
        cell = next(c for c in notebook.cells if SEED_LINE.search(c.source))
        cell.source = SEED_LINE.sub(f"SEED = {seed}", cell.source)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute(env=kernel_env(data_dir))
    return notebook


def stdout(notebook: Any) -> str:
    """Everything the notebook's cells printed, in order."""
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("name") == "stdout"
    )


def printed(notebook: Any) -> dict[str, str]:
    """The `key: value` lines the notebook printed, by key."""
    return dict(PRINTED_LINE.findall(stdout(notebook)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS[:2]))
    args = parser.parse_args()
    for name in args.notebooks:
        for seed in args.seeds:
            for key, value in printed(execute(name, seed=seed)).items():
                print(f"{name}\tseed {seed}\t{key}\t{value}", flush=True)


if __name__ == "__main__":
    main()
