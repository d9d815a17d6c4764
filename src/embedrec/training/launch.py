"""`embedrec train --nproc N`: the N processes of a one-machine distributed run, started by
torch.distributed's own launcher (the elastic agent that `torchrun --standalone` runs), in this
process instead of a separate `torchrun` command.

Why not just print the torchrun line: a user gets the run's outcome as the rest of the CLI gives
it. When a process dies, torchrun prints its own report and a Python traceback after the ranks'
`error:` lines and exits 1; here the launcher's logging is kept quiet, the failure becomes one
`error:` line naming the rank and how it ended, and the exit code is 2, as for any other failed
command. The ranks themselves run the code a torchrun launch runs (`python -m embedrec train ...`
with the same variables), so there is one distributed path, tested both ways.

The outcome is what the model directory says: a rank that dies after rank 0 saved the model
(torch's C++ side can abort a rank at shutdown on a loaded machine) leaves a complete model,
every file matching its checksum, so the run succeeded, with a warning naming the rank; a run
whose model is not new and complete failed, and the old model is untouched.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from embedrec import io
from embedrec.config import TrainConfig
from embedrec.errors import DistributedError, ModelError
from embedrec.model_read import read_model_dir
from embedrec.schemas import EmbedrecWarning
from embedrec.training.distributed import LAUNCHER_PID, World, check_config

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
    os.environ[LAUNCHER_PID] = str(os.getpid())  # the ranks' parent, for `die_with_launcher`
    logs = tempfile.mkdtemp(prefix="embedrec-launch-")
    try:
        yield logs
    finally:
        shutil.rmtree(logs, ignore_errors=True)
        os.environ.pop(LAUNCHER_PID, None)
        if unset:
            os.environ.pop("OMP_NUM_THREADS", None)


def _how_it_ended(exitcode: int) -> str:
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def failed_rank(failures: dict[int, ProcessFailure]) -> tuple[int, ProcessFailure] | None:
    """The failure that ended the run, or None when every process that failed on its own said
    why (exit code 2, its `error:` line above). Processes the launcher stopped afterwards
    (SIGTERM) are effects, not causes; so is a rank that aborted (SIGABRT: torch's C++ side
    ends a rank so when a peer's connection drops) beside one that died otherwise. A process
    killed from outside (SIGKILL: a user, the out-of-memory killer) comes first, then other
    signals, then exit codes; ties go to the earliest, then the lowest rank."""
    own = [(r, f) for r, f in failures.items() if f.exitcode != -signal.SIGTERM]
    if not own:  # all stopped by SIGTERM: whoever was first
        own = list(failures.items())
    unexplained = [(r, f) for r, f in own if f.exitcode != 2]
    if not unexplained:
        return None
    return min(unexplained, key=lambda rf: (_likelihood(rf[1].exitcode), rf[1].timestamp, rf[0]))


def _likelihood(exitcode: int) -> int:
    """How likely a process that ended so is the cause of the run's end: lower first."""
    if exitcode == -signal.SIGKILL:
        return 0
    if exitcode == -signal.SIGABRT:
        return 2
    return 1 if exitcode < 0 else 3


def model_stamp(out: Path | None) -> tuple[int, int] | None:
    """What tells a model saved now from the one there before: its config.json's inode and
    modification time (a save puts a new directory in place, files and all)."""
    try:
        found = (out / io.CONFIG).stat() if out is not None else None
    except OSError:
        return None
    return None if found is None else (found.st_ino, found.st_mtime_ns)


def saved_since(out: Path | None, before: tuple[int, int] | None) -> bool:
    """Whether this run saved a complete model at `out`: a new one, every file matching the
    checksum the save recorded."""
    if out is None or model_stamp(out) in (None, before):
        return False
    try:
        read_model_dir(out)
    except ModelError:
        return False
    return True


def run_local(nproc: int, train_args: Sequence[str], out: Path | None = None) -> None:
    """Run `embedrec train <train_args>` in `nproc` processes on this machine; raise a
    DistributedError that names the failed rank when one fails, unless the model directory
    `out` (train's --out) holds a complete model this run saved: then warn (EmbedrecWarning)."""
    before = model_stamp(out)
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
            cause = failed_rank(failed.failures)
            if cause is None:
                said = DistributedError("the distributed run stopped (see the error above)")
                said.reported = True  # the rank's own line says why
                raise said from None
            rank, failure = cause
            ended = f"process of rank {rank} (of {nproc}) {_how_it_ended(failure.exitcode)}"
            if saved_since(out, before):
                warnings.warn(
                    f"{ended} after the model was saved; the model at {out} is complete "
                    "(every file matches its checksum)",
                    EmbedrecWarning,
                    stacklevel=2,
                )
                return
            raise DistributedError(f"{ended}; the run stopped and no model was written") from None


def train_in_processes(
    data: str | Path,
    config: TrainConfig,
    nproc: int,
    out: Path,
    *,
    split: str,
    force: bool = False,
    data_dir: str | Path | None = None,
    layout: Mapping[str, Any] | None = None,
) -> None:
    """`embedrec.train(data, nproc=N, out=...)`: `embedrec train` in N processes on this machine,
    each reading its shard of `data` and the run's config from a file, rank 0 saving to `out`;
    the checks every rank would make come first, so a refusal is said once, before any process
    starts."""
    if World.launched():
        raise DistributedError(
            f"nproc={nproc}: this process is one of a torchrun run already; torchrun sets the count"
        )
    last = World.device_of(nproc - 1, config.device)  # one GPU each, on CUDA
    check_config(config, World(0, nproc, nproc - 1, last))
    io.check_output(out, force, model_dir=True)  # a model there is kept unless forced
    with tempfile.TemporaryDirectory(prefix="embedrec-config-") as folder:
        config_file = Path(folder) / io.CONFIG
        config_file.write_text(json.dumps(config.to_dict()))
        args = ["--data", str(data), "--config", str(config_file), "--out", str(out)]
        args += ["--split", split]  # random:PCT:SEED, recorded as a one-process run does
        args += [] if data_dir is None else ["--data-dir", str(data_dir)]
        args += layout_arguments(layout or {})
        run_local(nproc, [*args, "--force"] if force else args, out)


def layout_arguments(layout: Mapping[str, Any]) -> list[str]:
    """`load_ratings`'s column, separator and header options as `embedrec train` takes them;
    a value only text can carry (`item_table=` a DataFrame is not) is refused here, before any
    process starts."""
    args: list[str] = []
    for key, value in layout.items():
        flag = "--" + key.replace("_", "-")
        if value is None:
            continue
        if not isinstance(value, (str, Path, int, float, tuple, list)):
            raise DistributedError(
                f"layout {key}=: the processes read their options as text, so it takes a "
                f"file's path, not a {type(value).__name__} in memory"
            )
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{key}")
        elif isinstance(value, (tuple, list)):
            args += [flag, *(str(part) for part in value)]
        else:
            args += [flag, str(value)]
    return args
