"""The epoch loop every engine shares: timing, validation, the epoch history and what the user
sees (`Reporter`), written once. An engine supplies one epoch of its own work; the loop does the
rest, and stops a run whose training loss stops being a number rather than save a broken model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from embedrec.errors import ModelError
from embedrec.training.progress import EpochStats, Reporter

# validate(model) -> (valid_loss, valid_rmse); the model is an `embedrec.models.Model`
Validate = Callable[[Any], tuple[float, float]]
# one_epoch(epoch) -> (train_loss or None where the engine has none, model to validate now or
# None to skip validation)
OneEpoch = Callable[[int], tuple[float | None, Any]]


class EpochLoop:
    def __init__(self, validate: Validate | None = None, reporter: Reporter | None = None):
        self.validate = validate
        self.reporter = reporter or Reporter()

    def advance(self, steps: int) -> None:
        """Progress within the epoch, in the engine's own steps."""
        self.reporter.advance(steps)

    def run(
        self, epochs: int, steps_per_epoch: int, one_epoch: OneEpoch, *, show_every: int = 1
    ) -> list[EpochStats]:
        """Run `one_epoch` for each epoch; validate what it returns; report every
        `show_every`-th epoch, every validated one and the last."""
        history: list[EpochStats] = []
        self.reporter.start(epochs, steps_per_epoch)
        try:
            for epoch in range(epochs):
                start = time.perf_counter()
                train_loss, candidate = one_epoch(epoch)
                if train_loss is not None and not math.isfinite(train_loss):
                    raise ModelError(
                        f"training diverged in epoch {epoch} (train loss {train_loss}); "
                        "try a lower learning rate (--lr) or more weight decay (--wd)"
                    )
                valid_loss = valid_rmse = None
                if candidate is not None and self.validate is not None:
                    valid_loss, valid_rmse = self.validate(candidate)
                stats = EpochStats(
                    epoch, train_loss, valid_loss, valid_rmse, time.perf_counter() - start
                )
                history.append(stats)
                last = epoch == epochs - 1
                if valid_rmse is not None or epoch % show_every == 0 or last:
                    self.reporter.end_epoch(stats)
        finally:
            self.reporter.close()
        return history
