"""`embedrec train --nproc N`: the N processes of a one-machine distributed run, started by
torch.distributed's own launcher (the elastic agent that `torchrun --standalone` runs), in this
process instead of a separate `torchrun` command.

Why not just print the torchrun line: a user gets the run's outcome as the rest of the CLI gives
it. When a process dies, torchrun prints its own report and a Python traceback after the ranks'
`error:` lines and exits 1; here the launcher's logging is kept quiet, the failure becomes one
`error:` line naming the rank and how it ended, and the exit code is 2, as for any other failed
command. The ranks themselves run the code a torchrun launch runs (`python -m embedrec train ...`
with the same variables), so there is one distributed path, tested both ways.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from embedrec.errors import DistributedError

LAUNCHER_LOGGERS = ("torch.distributed.elastic", "torch.distributed.launcher")


@contextmanager
def _quiet_launcher() -> Iterator[None]:
    """The elastic agent logs every start and stop at INFO/WARNING and the failure at ERROR,
    each module on a logger of its own level; the run's own lines say what happened, so those
    loggers are held to CRITICAL meanwhile."""
    loggers = [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.startswith(LAUNCHER_LOGGERS)
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextmanager
def _as_torchrun_sets_up() -> Iterator[str]:
    """What torchrun does around its workers: one OpenMP thread a process unless the user
    said otherwise (N processes of all the cores each would oversubscribe the machine N
    times), and a folder for the launcher's logs, removed afterwards."""
    unset = "OMP_NUM_THREADS" not in os.environ
    if unset:
        os.environ["OMP_NUM_THREADS"] = "1"
    logs = tempfile.mkdtemp(prefix="embedrec-launch-")
    try:
        yield logs
    finally:
        shutil.rmtree(logs, ignore_errors=True)
        if unset:
            os.environ.pop("OMP_NUM_THREADS", None)


def _how_it_ended(exitcode: int) -> str:
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def _cause(failures: dict[int, ProcessFailure]) -> tuple[int, ProcessFailure] | None:
    """The failure that ended the run, or None when every process that failed on its own said
    why (exit code 2, its `error:` line above). Processes the launcher stopped afterwards
    (SIGTERM) are effects, not causes; a process killed from outside comes before one that
    crashed; ties go to the earliest."""
    own = [(r, f) for r, f in failures.items() if f.exitcode != -signal.SIGTERM]
    if not own:  # all stopped by SIGTERM: whoever was first
        own = list(failures.items())
    unexplained = [(r, f) for r, f in own if f.exitcode != 2]
    if not unexplained:
        return None
    return min(unexplained, key=lambda rf: (rf[1].exitcode >= 0, rf[1].timestamp, rf[0]))


def run_local(nproc: int, train_args: Sequence[str]) -> None:
    """Run `embedrec train <train_args>` in `nproc` processes on this machine; raise a
    DistributedError that names the failed rank when one fails."""
    with _as_torchrun_sets_up() as logs:
        config = LaunchConfig(
            min_nodes=1,
            max_nodes=1,
            nproc_per_node=nproc,
            run_id=str(uuid.uuid4()),
            rdzv_backend="c10d",
            rdzv_endpoint="localhost:0",  # a free port, as torchrun --standalone picks it
            max_restarts=0,  # a rank that dies ends the run; nothing is retried behind its back
            monitor_interval=0.1,
            logs_specs=DefaultLogsSpecs(log_dir=logs),
        )
        command = elastic_launch(config, entrypoint=sys.executable)
        try:
            with _quiet_launcher():
                command("-m", "embedrec", "train", *train_args)
        except SignalException as stopped:  # Ctrl-C or a kill of this process: ranks stop too
            raise DistributedError(
                f"stopped by {signal.Signals(stopped.sigval).name}: the {nproc} processes "
                "were stopped and no model was written"
            ) from None
        except ChildFailedError as failed:
            cause = _cause(failed.failures)
            if cause is None:
                raise DistributedError(
                    "the distributed run stopped (see the error above)"
                ) from None
            rank, failure = cause
            raise DistributedError(
                f"process of rank {rank} (of {nproc}) {_how_it_ended(failure.exitcode)}; "
                "the run stopped and no model was written"
            ) from None
