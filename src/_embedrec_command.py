"""The `embedrec` command's entry point, outside the `embedrec` package on purpose: importing
the package (torch, pandas, numba: seconds) is itself inside the Ctrl-C guard, so Ctrl-C at any
moment of a command is one `error: interrupted` line and the shell's code 130, never a
KeyboardInterrupt traceback. A library installs no signal handler on import; this guard is the
command's alone.

The command leaves without Python's shut-down, its exit code decided and its output flushed:
threads of the libraries below may still be finishing work, and one that needs the
interpreter while it shuts down aborts the process (`terminate called without an active
exception`, exit code 134 after the model was saved). Core dumps showed two: a rank's gloo
threads releasing the last collective's tensors (about one two-process run in 60), and a
thread of pyarrow's CSV reader dropping the Python file object it read from (now and then on
a loaded machine, in one-process runs too)."""

from __future__ import annotations

import os
import signal
import sys

INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C (128 + SIGINT)


def wait_passively() -> None:
    """OpenMP threads (torch's pool and numba's) that spin while they wait take the CPU from
    every other process of a busy machine: passive waiting ran numba- and torch-heavy work 1.7x
    faster at load 6 and the same idle (BENCHMARKS.md, the test suite section). Read when
    OpenMP loads, so set before any import; a value the user set is kept, and ranks and
    service workers inherit it."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    wait_passively()
    code: object = 0
    try:
        from embedrec.cli import main as run  # inside the guard: the import takes seconds

        run()
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted (Ctrl-C)\n")
        code = INTERRUPTED
    except SystemExit as done:
        code = done.code
    leave_now(code)


def leave_now(code: object) -> None:
    """End this process with `code` as SystemExit would, skipping the interpreter's shut-down
    (see the module docstring): what it wrote is flushed first, and a Ctrl-C from here on
    cannot turn a decided exit code into death by SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if code is not None and not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a broken pipe: nothing left to keep
            pass
    os._exit(code or 0)


if __name__ == "__main__":
    main()
