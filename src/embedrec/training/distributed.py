"""Data-parallel training on torch.distributed: one process per rank, started by torchrun.

torchrun (or `python -m torch.distributed.run`) starts the processes and sets the standard
variables (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`); `World.from_env`
reads them and the process group starts with `init_method="env://"`. The backend follows the
device: NCCL on CUDA (one GPU per local rank), gloo on the CPU. Each rank wraps the network in
`DistributedDataParallel`, which averages the gradients of every step over the ranks, so the
copies stay one model; each rank steps through its own shard of the training rows.

Choices, and why:
- `--bs` is the batch of all ranks together (each takes `bs / world`), so a run takes the
  same steps per epoch at the same learning rate as one process, and its accuracy matches.
- Every rank must take as many steps: shards hold as many training rows within one
  (`data/shards.py`), and a shorter one repeats its first row, as `DistributedSampler` pads.
- Large tables keep their sparse gradients and `SparseAdam` on gloo, which all-reduces sparse
  gradients; NCCL does not, so on CUDA the steps stay dense (AdamW on a GPU costs little).
- gloo's sparse all-reduces run one at a time (`one_sparse_at_a_time`, a DDP comm hook): two in
  flight at once corrupt the heap in torch 2.13 (`malloc(): unaligned tcache chunk detected`,
  about one run in eight with four tables; none in 60,000 one at a time).
- `--patience` is refused: stopping early is rank 0's decision on validation, and every rank
  must run the same epochs.
- A rank that dies breaks the next collective call on the others: `lost_contact` turns the
  backend's error into one line saying so, and torchrun's SIGTERM to the survivors into the
  same, so no process gets as far as saving.
- One error, one line: an error every rank raises alike (a bad file, read by each; rank 0's
  error sent to all) is printed by the first rank that had it, the others exit 2 quietly
  (`EmbedrecError.reported`); so is a lost contact (rank 0 says it) and a stop by the
  launcher (the launcher says why).
- A rank dies with its launcher: torch's launcher starts each rank in a session of its own,
  so a launcher killed outright (kill -9) would leave its ranks training; on Linux each rank
  asks the kernel for SIGTERM when its parent dies (`die_with_launcher`).
"""

from __future__ import annotations

import ctypes
import datetime
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from embedrec.config import AUTO_MODEL, TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.errors import DistributedError, EmbedrecError, ModelError
from embedrec.models.base import Model
from embedrec.models.registry import get_kind, resolve
from embedrec.training.device import resolve_device
from embedrec.training.gradients import gradient_options, wants_sparse
from embedrec.training.loop import EpochLoop
from embedrec.training.progress import EpochStats
from embedrec.training.sparse_allreduce import one_sparse_at_a_time
from embedrec.training.torch_engine import TorchEngine, fit_torch

T = TypeVar("T")
# How long a rank waits for the others in one collective call (a stopped, not dead, peer).
TIMEOUT = datetime.timedelta(minutes=10)
# `train --nproc` names itself to its ranks: a rank whose parent is another process already
# (the launcher died before the rank could ask to die with it) stops at once
LAUNCHER_PID = "EMBEDREC_LAUNCHER_PID"
PR_SET_PDEATHSIG = 1  # prctl option: the signal this process gets when its parent dies


@dataclass(frozen=True)
class World:
    """This process's place in the run: rank of size, the local rank (its GPU) and the device."""

    rank: int
    size: int
    local_rank: int
    device: torch.device

    @property
    def backend(self) -> str:
        return "nccl" if self.device.type == "cuda" else "gloo"

    @property
    def leader(self) -> bool:
        """Rank 0: it validates, reports progress and saves."""
        return self.rank == 0

    @staticmethod
    def launched() -> bool:
        """Whether torchrun started this process (its variables are set)."""
        return "RANK" in os.environ and "WORLD_SIZE" in os.environ

    @staticmethod
    def launched_by_embedrec() -> bool:
        """Whether `embedrec.train(nproc=)` (`train --nproc`) started this process: then its
        launcher, not rank 0, reports the run's outcome."""
        return LAUNCHER_PID in os.environ

    @classmethod
    def from_env(cls, device: str = "auto") -> World:
        """This process's World from torchrun's variables; a clear error outside torchrun."""
        try:
            rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            local_rank = int(os.environ.get("LOCAL_RANK", rank))
        except (KeyError, ValueError):
            raise DistributedError(
                "a distributed run is started by torchrun, which sets RANK and WORLD_SIZE: "
                "torchrun --nproc-per-node 2 -m embedrec train ..."
            ) from None
        return cls(rank, size, local_rank, cls.device_of(local_rank, device))

    @staticmethod
    def device_of(local_rank: int, device: str = "auto") -> torch.device:
        """The device of the process of `local_rank` on its machine: its own GPU on CUDA."""
        resolved = resolve_device(device)
        if resolved.type == "cuda":
            if local_rank >= torch.cuda.device_count():
                raise DistributedError(
                    f"local rank {local_rank} has no GPU ({torch.cuda.device_count()} here): "
                    "start at most one process per GPU (--nproc-per-node, --nproc)"
                )
            resolved = torch.device("cuda", local_rank)
        elif resolved.type != "cpu":
            raise DistributedError(
                f"device {device!r} (--device): a distributed run trains on cpu or cuda"
            )
        return resolved


def check_config(config: TrainConfig, world: World) -> None:
    """What a distributed run refuses, checked on every rank before the processes meet."""
    if config.patience is not None:
        raise ModelError(
            "--patience stops on rank 0's validation, but every rank of a distributed run "
            "must run the same epochs: leave it out (--keep best keeps the best epoch)"
        )
    if config.model == AUTO_MODEL:
        raise ModelError(
            "a distributed run trains one named model with the torch engine: give --model "
            "dot, dot-bias or nn (the default, auto, chooses on one machine)"
        )
    kind = get_kind(config.model)
    if "torch" not in kind.engines:  # the kinds with a network and its objective
        raise ModelError(
            f"a distributed run trains with the torch engine, which does not train "
            f"{kind.name} models (--model dot, dot-bias or nn)"
        )
    bs = resolve(config).bs
    assert bs is not None  # a torch kind defaults it
    if bs % world.size:
        raise ModelError(
            f"--bs {bs} is the batch of all {world.size} processes together: "
            f"use a multiple of {world.size}"
        )
    if config.engine not in ("auto", "torch"):
        raise ModelError(
            f"engine {config.engine!r} (--engine): a distributed run trains with the torch "
            "engine; leave --engine out or say --engine torch"
        )


@contextmanager
def process_group(world: World) -> Iterator[None]:
    """Join the run's process group (torchrun's rendezvous) for the block, and leave it."""
    if world.device.type == "cuda":
        torch.cuda.set_device(world.device)
    previous = signal.signal(signal.SIGTERM, _stopped_by_launcher)
    try:
        die_with_launcher()
        with lost_contact(world):
            dist.init_process_group(
                world.backend, init_method="env://", rank=world.rank,
                world_size=world.size, timeout=TIMEOUT,
            )  # fmt: skip
        yield
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        signal.signal(signal.SIGTERM, previous)


def _stopped_by_launcher(signum: int, frame: FrameType | None) -> None:
    """The launcher (torchrun, or `train --nproc`) sends SIGTERM to the other ranks when one
    fails or when it is stopped itself, and says why itself; so does the kernel when the
    launcher dies (`die_with_launcher`)."""
    stopped = DistributedError(
        "stopped by the launcher (another process of this run failed, or the run was stopped); "
        "no model was written"
    )
    stopped.reported = True
    raise stopped


def die_with_launcher() -> None:
    """Have the kernel send this rank SIGTERM when its parent (the launcher) dies, on Linux
    (PR_SET_PDEATHSIG; elsewhere a rank outlives a launcher killed outright). A parent gone
    already (the rank is a child of another process than the `train --nproc` that started
    it) stops the rank now."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # no C library to ask: nothing set
        return
    launcher = os.environ.get(LAUNCHER_PID, "")
    if launcher.isdigit() and os.getppid() != int(launcher):
        _stopped_by_launcher(signal.SIGTERM, None)


# What gloo and NCCL say when a peer has gone: DDP's all-reduce inside `backward` raises a
# plain RuntimeError with these words, not a `DistError`.
PEER_GONE = ("Connection closed by peer", "Connection reset by peer", "NCCL", "gloo")


@contextmanager
def lost_contact(world: World) -> Iterator[None]:
    """The backend's error when another rank has gone, as one line."""
    try:
        yield
    except RuntimeError as exc:
        if not isinstance(exc, dist.DistError) and not any(w in str(exc) for w in PEER_GONE):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        lost = DistributedError(
            f"rank {world.rank} of {world.size} lost contact with the other processes "
            f"({first[:200]}): a process of this run failed or was killed; "
            "no model was written"
        )
        lost.reported = not world.leader  # rank 0 says it for all
        raise lost from None


def agree(world: World, work: Callable[[], T]) -> T:
    """Run `work` on every rank; when it fails on any, fail on all with the first rank's error,
    so every process exits with the same clear message instead of waiting on a dead one."""
    try:
        result, failure = work(), None
    except EmbedrecError as exc:
        result, failure = None, exc
    failures: list[Any] = [None] * world.size
    with lost_contact(world):
        dist.all_gather_object(failures, failure)
    for rank, found in enumerate(failures):
        if found is not None:
            found.reported = rank != world.rank  # the first rank that had it says it
            raise found
    return result  # type: ignore[return-value]


def all_gather(world: World, value: Any) -> list[Any]:
    """Every rank's `value`, in rank order, on every rank."""
    gathered: list[Any] = [None] * world.size
    with lost_contact(world):
        dist.all_gather_object(gathered, value)
    return gathered


def gather_to_leader(world: World, value: Any) -> list[Any] | None:
    """Every rank's `value` in rank order on rank 0; None elsewhere."""
    gathered: list[Any] | None = [None] * world.size if world.leader else None
    with lost_contact(world):
        dist.gather_object(value, gathered, dst=0)
    return gathered


def from_leader(world: World, work: Callable[[], T]) -> T:
    """`work`'s result, computed on rank 0 and sent to every rank (its error raised on all)."""
    outcome: list[Any] = [None]
    if world.leader:
        try:
            outcome = [(work(), None)]
        except EmbedrecError as exc:
            outcome = [(None, exc)]
    with lost_contact(world):
        dist.broadcast_object_list(outcome, src=0)
    result, failure = outcome[0]
    if failure is not None:
        failure.reported = not world.leader  # rank 0 says it
        raise failure
    return result


class DDPReplicas:
    """`Replicas` for torch.distributed: DistributedDataParallel, and the loss all-reduced."""

    def __init__(self, world: World):
        self.world = world

    def wrap(self, module: nn.Module) -> nn.Module:
        ids = [self.world.device.index] if self.world.device.type == "cuda" else None
        wrapped = DistributedDataParallel(module, device_ids=ids)
        if self.world.backend == "gloo":
            wrapped.register_comm_hook(None, one_sparse_at_a_time)
        return wrapped

    def mean_loss(self, total: torch.Tensor, n: int) -> float:
        summed = torch.stack([total.detach().double(), torch.tensor(float(n)).to(total.device)])
        dist.all_reduce(summed)
        return float(summed[0] / summed[1])


def padded(rows: int, longest: int) -> np.ndarray:
    """Indices of a shard of `rows` rows made `longest` long by repeating its first rows."""
    return np.resize(np.arange(rows), longest)


class DataParallelEngine(TorchEngine):
    """The torch engine's steps on every rank of a torch.distributed run, in step with the
    others (the `Engine` contract): each rank fits its replica of the model on its shard of
    the rows. Not in `ENGINES`: it runs only inside the process group the launcher starts
    (`World`), so `--nproc` chooses it, not `--engine`; a model records `torch`, whose steps
    it takes (`check_config` refuses the other engines' kinds)."""

    def __init__(self, world: World):
        self.world = world

    def fit(
        self, model: Model, data: Ratings, config: TrainConfig, loop: EpochLoop
    ) -> list[EpochStats]:
        """Train this rank's replica of `model` on its shard `data`."""
        trainable = self.trainable(model)
        world = self.world
        longest = max(all_gather(world, len(data)))
        rows = padded(len(data), longest)
        sparse = None if world.backend == "gloo" else False
        if sparse is False and wants_sparse(trainable.network):
            loop.reporter.note("NCCL all-reduces dense gradients only: the embeddings step densely")
        assert config.bs is not None  # resolved: the kind's default
        options = gradient_options(config) | {"bs": config.bs // world.size}
        with lost_contact(world):
            history = fit_torch(
                trainable.network, data.users[rows], data.items[rows], data.ratings[rows],
                device=world.device, threads=config.threads, sparse=sparse,
                objective=trainable.objective(), loop=loop, model=model,
                replicas=DDPReplicas(world), **options,
            )  # fmt: skip
        trainable.network.cpu()
        return history
