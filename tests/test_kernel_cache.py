"""The "compiling kernels (first run)" note: said when numba must compile, not once cached."""

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from tests import kernel_workflow

KERNEL = """
import numba

@numba.njit(cache=True)
def add_one(x):
    return x + 1
"""

CHECK = """
import importlib.util, sys
from embedrec.training.kernel_cache import compile_note
spec = importlib.util.spec_from_file_location("tiny_kernels", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(compile_note((module,), "tiny"))
"""


def load(path):
    spec = importlib.util.spec_from_file_location("tiny_kernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_note_comes_before_the_first_compile_only(tmp_path):
    from embedrec.training.kernel_cache import compile_note

    path = tmp_path / "tiny_kernels.py"
    path.write_text(KERNEL)
    module = load(path)
    assert compile_note((module,), "tiny") == (
        "compiling the tiny engine's kernels (first run only; cached afterwards)"
    )
    assert module.add_one(1) == 2
    assert compile_note((module,), "tiny") is None
    # a new process finds the cache on disk
    fresh = subprocess.run(
        [sys.executable, "-c", CHECK, str(path)], capture_output=True, text=True, check=True
    )
    assert fresh.stdout.strip() == "None"


SRC = Path(__file__).resolve().parents[1] / "src"


def run_workflow() -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.kernel_workflow"],
        capture_output=True,
        text=True,
        cwd=SRC.parent,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_a_second_process_compiles_nothing():
    kernel_workflow.run()  # here: compiles what the cache lacks (often nothing)
    second = run_workflow()
    assert second["compiled"] == [], f"compiled again in a second process: {second['compiled']}"
    # the kernels of each engine and of top-k came from the cache
    assert {"sgd_stratum", "sample_own", "cg_half_step", "top_k_rows_serial"} <= set(
        second["loaded"]
    ), second["loaded"]


def test_every_kernel_asks_for_the_disk_cache():
    uncached = []
    for path in sorted((SRC / "embedrec").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in JIT_DECORATORS:
                cache = [k for k in node.keywords if k.arg == "cache"]
                if not cache or ast.unparse(cache[0].value) != "True":
                    uncached.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not uncached, f"kernels without cache=True: {uncached}"


JIT_DECORATORS = {"numba.njit", "numba.jit", "njit", "jit", "numba.vectorize", "vectorize"}
