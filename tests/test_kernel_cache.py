"""The "compiling kernels (first run)" note: said when numba must compile, not once cached."""

import importlib.util
import subprocess
import sys

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
