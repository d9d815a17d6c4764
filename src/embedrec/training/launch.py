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
import signal
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from embedrec.errors import DistributedError


@contextmanager
def _quiet_launcher() -> Iterator[None]:
    """The elastic agent logs every start and stop at INFO/WARNING and the failure at ERROR;
    the run's own lines say what happened, so its logger is held to CRITICAL meanwhile."""
    logger = logging.getLogger("torch.distributed.elastic")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _how_it_ended(exitcode: int) -> str:
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def _blame(exitcode: int) -> int:
    """Which failure caused the others, lowest first: a process killed from outside, then one
    that crashed, then one the launcher stopped (SIGTERM) or that exited with its own error
    line (2) when it lost its peers."""
    if exitcode == -signal.SIGTERM or exitcode == 2:
        return 2
    return 0 if exitcode < 0 else 1


def run_local(nproc: int, train_args: Sequence[str]) -> None:
    """Run `embedrec train <train_args>` in `nproc` processes on this machine; raise a
    DistributedError that names the failed rank when one fails."""
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",  # a free port, as torchrun --standalone picks it
        max_restarts=0,  # a rank that dies ends the run; nothing is retried behind its back
        monitor_interval=0.1,
    )
    command = elastic_launch(config, entrypoint=sys.executable)
    try:
        with _quiet_launcher():
            command("-m", "embedrec", "train", *train_args)
    except ChildFailedError as failed:
        ranks = sorted(failed.failures.items())
        if all(f.exitcode == 2 for _, f in ranks):
            raise DistributedError("the distributed run stopped (see the error above)") from None
        rank, first = min(ranks, key=lambda failure: _blame(failure[1].exitcode))
        raise DistributedError(
            f"process of rank {rank} (of {nproc}) {_how_it_ended(first.exitcode)}; "
            "the run stopped and no model was written"
        ) from None
