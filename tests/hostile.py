"""What the hostile-input corpus (tests/test_hostile_*.py) shares: the one assertion every
case makes (exit code 2, or the documented code; exactly one `error:` line naming the place; no
traceback). Its fixtures, a tiny ratings file and a model trained from it once per session,
are in conftest.py. The kill test is tests/test_kill.py, the loader fuzz tests/test_loader_fuzz.py.

Cases accepted as they are, and why:

- Unreadable files (permissions): root reads anything, so when the tests run as root, as CI
  does, those cases run the command in a process without root's power to read any file
  (`setpriv`, dropping CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH); they are skipped only where
  that cannot be done.
- Model directories written before this change record neither checksums nor the observed
  rating range: they load, their files are checked for shape and count only, and a new user's
  ratings are checked for being finite numbers but not against a scale unless one was declared.
  From format 3 a model must record its checksums (a config.json without them is refused), and
  its weights record the sums of its JSON documents; format 2 models load as before.
- A model directory holds only what the model wrote: other files there are never read (notes,
  a FIFO), `train --force` refuses to replace a model beside them (naming them) rather than
  delete them, and no command writes a file into a model directory.
- Ctrl-C at any moment of the `embedrec` command, its imports included, is one `error:
  interrupted` line and exit code 130: the command's entry point (`_embedrec_command`) sits
  outside the package and imports it inside its guard, since a library must not install signal
  handlers on import. `python -m embedrec` (how torchrun starts each rank) has Python import the
  package before any embedrec code runs: Ctrl-C in that first second or two still ends in
  Python's KeyboardInterrupt traceback there.
- A rank of a `train --nproc` run dies with a launcher killed outright (kill -9) on Linux
  only (PR_SET_PDEATHSIG); elsewhere such ranks train on until they end, and the launcher's
  own stop (Ctrl-C, SIGTERM) still stops them everywhere.
- Test rows of a split of the model's own data (the same id maps) are not checked against the
  model's scale (a validation rating may fall outside the training ratings' range); a test
  table of its own (`evaluate --test`, a DataFrame) is, and so is a validation file given
  beside the data (`train --valid/--test`), against the training ratings' scale.
- Decompression stops at a quarter of the machine's memory (at most 16 GiB): a larger file
  is refused naming its compressed size; decompress and split it.

Each run of the corpus prints its own counts (`hostile corpus: N inputs tried, ...`, from
conftest.py).
- `evaluate` uses the split a model records only for models `train` wrote from the CLI (it
  records the `--split` spec); a model trained in Python records the split's name, and
  evaluate scores the split it is given, warning when its test rows were training rows; with
  neither --data nor --test it is refused (it never falls back to MovieLens 100k).
- A file with an integer id past 2**53 read as a number is read again with every column as
  text: its other ids become text too ('42', found by 42 all the same).
- Unknown keys in a `--config` file are errors, not warnings: a typo in a file the user wrote
  must not be ignored. Unknown keys in a model directory (a newer writer) load with a warning.
- A rating written in hexadecimal (`0x10`) is read as the number it spells (16) by the CSV
  parser (pyarrow converts it before embedrec sees text); it is a number, and inside the
  scale checks like any other.
- Where the system has no atomic exchange of directories (not Linux, or a file system without
  renameat2), an overwrite renames the old model aside first: a kill in that moment leaves no
  model at DIR until the next load or save puts the old one back (`io.recover`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedrec.cli import app

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def assert_refused(result, *expected: str, code: int = 2) -> str:
    """The command failed with `code`, printed no traceback and exactly one error line, which
    holds every `expected` text (the file, line, field, option or id it is about)."""
    output = result.output
    assert result.exit_code == code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, output
    for text in expected:
        assert text in errors[0], f"{text!r} not in {errors[0]!r}"
    return errors[0]


def invoke_bound_by_permissions(tmp_path: Path, *args: object) -> subprocess.CompletedProcess:
    """`embedrec ARGS` in its own process, file permissions enforced even for root (which reads
    any file otherwise): setpriv drops the two capabilities that bypass them. Skips where the
    permissions cannot be enforced."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        prefix = [
            shutil.which("setpriv") or "setpriv",
            f"--bounding-set={drop}",
            f"--inh-caps={drop}",
        ]
        probe = tmp_path / "probe"
        probe.write_text("x")
        probe.chmod(0)
        try:
            read = subprocess.run([*prefix, "cat", str(probe)], capture_output=True, timeout=30)
        except OSError:
            read = None
        probe.unlink()
        if read is None or read.returncode == 0 or b"Permission denied" not in read.stderr:
            pytest.skip("runs as root, and setpriv cannot drop root's power to read any file")
    command = [*prefix, sys.executable, "-m", "embedrec", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def assert_process_refused(done: subprocess.CompletedProcess, *expected: str) -> str:
    """`assert_refused` for a command run in its own process."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, done.stderr
    for text in expected:
        assert text in errors[0], f"{text!r} not in {errors[0]!r}"
    return errors[0]
