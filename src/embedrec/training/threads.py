"""How many CPU threads torch uses while it trains, chosen for the batch size.

torch's default (one intra-op thread per core) pays off on large matrix products and costs a
great deal on small ones: at the chapter's batch of 64, a second thread buys nothing on an idle
2-core machine, while with one other busy process 200 batches took 11.3 s on 2 threads against
2.4 s on 1 (the busy-machine figures of `benchmarks/busy_machine.py`). So small batches train
on one thread; batches of `MANY_THREADS_FROM` rows or more on every core; `threads=` decides
when given. The setting is restored afterwards, since it is process-wide.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from embedrec.errors import ModelError

MANY_THREADS_FROM = 1024  # rows per batch from which every core joins


def threads_for(bs: int, threads: int | None = None) -> int:
    if threads is not None:
        if threads < 1:
            raise ModelError(f"threads must be at least 1, got {threads}")
        return threads
    return 1 if bs < MANY_THREADS_FROM else max(1, torch.get_num_threads())


@contextmanager
def torch_threads(threads: int | None, bs: int, device: torch.device) -> Iterator[int]:
    """Run the block with the thread count `threads_for` chooses (CPU only)."""
    before = torch.get_num_threads()
    chosen = threads_for(bs, threads) if device.type == "cpu" else before
    torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        torch.set_num_threads(before)
