"""Start-up as a user meets it: `import embedrec` and every `--help` load none of torch, numba,
pandas or matplotlib (they are imported by the command that uses them, through
`embedrec.lazy`), and the help's copies of the registries' lists are the registries' own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import _embedrec_command
import embedrec
from embedrec import help_text
from embedrec.data.synthetic import PRESETS
from embedrec.lazy import exports
from embedrec.models import declared

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("torch", "numba", "pandas", "matplotlib", "fastapi", "uvicorn")


def heavy_modules_after(code: str) -> dict:
    """What `code` printed as JSON, run in a fresh interpreter (sys.modules is per process)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_every_help_imports_no_heavy_package():
    code = f"""
import json, sys
from typer.main import get_command
from typer.testing import CliRunner
from embedrec.cli import app
commands = sorted(get_command(app).commands)
runner = CliRunner()
codes = {{c: runner.invoke(app, [*c.split(), "--help"]).exit_code for c in ["", *commands]}}
print(json.dumps({{"codes": codes, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""
    found = heavy_modules_after(code)
    assert len(found["codes"]) > 10 and set(found["codes"].values()) == {0}, found["codes"]
    assert found["loaded"] == [], f"--help imported {found['loaded']}"


def test_import_embedrec_is_cheap_and_its_names_load_on_use():
    code = f"""
import json, sys
import embedrec
before = [m for m in {HEAVY!r} if m in sys.modules]
embedrec.TrainConfig, embedrec.DataError, embedrec.__version__
light = [m for m in {HEAVY!r} if m in sys.modules]
embedrec.train
print(json.dumps({{"before": before, "light": light, "torch": "torch" in sys.modules}}))
"""
    found = heavy_modules_after(code)
    assert found["before"] == [] and found["light"] == []
    assert found["torch"]  # training needs it, and gets it when asked for


def test_the_public_names_are_the_lazy_table_and_all_resolve():
    table = exports(embedrec.__file__)
    assert set(embedrec.__all__) == set(table) | {"__version__"}
    assert set(embedrec.__all__) <= set(dir(embedrec))
    for name in embedrec.__all__:
        assert getattr(embedrec, name) is not None, name


def test_the_help_lists_are_the_registries_lists():
    # the kinds as --help reads them from their files (no import) are the imported kinds
    assert declared.models_help() == embedrec.models_help()
    assert list(help_text.ENGINE_NAMES) == embedrec.engine_names()
    assert list(help_text.SYNTHETIC_PRESET_NAMES) == list(PRESETS)


def test_the_command_waits_passively_unless_told_otherwise(monkeypatch):
    """OpenMP's spinning threads cost 1.7x on a busy machine (BENCHMARKS.md): the command asks
    for passive waiting before anything loads OpenMP, and keeps a value the user set."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    _embedrec_command.wait_passively()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    _embedrec_command.wait_passively()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_a_list_from_a_saved_model_loads_neither_torch_nor_numba(trained_dir):
    """`embedrec recommend` reads weights and lists items: numpy's work, no compiled kernels
    and no torch to load (each costs a command a fraction of a second of CPU)."""
    code = f"""
import json, sys
from typer.testing import CliRunner
from embedrec.cli import app
done = CliRunner().invoke(app, ["recommend", {str(trained_dir)!r}, "--user", "u1", "--n", "3"])
print(json.dumps({{"code": done.exit_code, "output": done.output,
                  "loaded": [m for m in ("torch", "numba") if m in sys.modules]}}))
"""
    found = heavy_modules_after(code)
    assert found["code"] == 0, found["output"]
    assert found["loaded"] == [], f"recommend imported {found['loaded']}"
