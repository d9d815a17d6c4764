"""The `embedrec` command's entry point, outside the `embedrec` package on purpose: importing
the package (torch, pandas, numba: seconds) is itself inside the Ctrl-C guard, so Ctrl-C at any
moment of a command is one `error: interrupted` line and the shell's code 130, never a
KeyboardInterrupt traceback. A library installs no signal handler on import; this guard is the
command's alone."""

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
    finally:
        # The command is over, its exit code decided: a Ctrl-C while Python shuts down (its
        # thread pools joining) would end it as killed by SIGINT, a model saved or not.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
