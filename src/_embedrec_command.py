"""The `embedrec` command's entry point, outside the `embedrec` package on purpose: importing
the package (torch, pandas, numba: seconds) is itself inside the Ctrl-C guard, so Ctrl-C at any
moment of a command is one `error: interrupted` line and the shell's code 130, never a
KeyboardInterrupt traceback. A library installs no signal handler on import; this guard is the
command's alone.

A rank of a distributed run (torchrun's RANK in its environment) leaves without Python's
shut-down: gloo's worker threads may still be releasing the tensors of the last collective
call, which needs the interpreter; one that does so while it shuts down aborts the process
(`terminate called without an active exception`, about one two-process run in 60), and
torchrun then fails the whole run after the model was saved."""

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
    try:
        from embedrec.cli import main as run  # inside the guard: the import takes seconds

        run()
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted (Ctrl-C)\n")
        raise SystemExit(INTERRUPTED) from None
    except SystemExit as done:
        if launched_as_rank():
            leave_now(done.code)
        raise
    finally:
        # The command is over, its exit code decided: a Ctrl-C while Python shuts down (its
        # thread pools joining) would end it as killed by SIGINT, a model saved or not.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if launched_as_rank():
        leave_now(0)


def launched_as_rank() -> bool:
    """Started by torchrun (or `train --nproc`) as one process of a distributed run."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def leave_now(code: object) -> None:
    """End this process with `code` as SystemExit would, skipping the interpreter's shut-down
    (see the module docstring): what it wrote is flushed first."""
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
