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
    """`keep_best`: remember the validated model with the lowest valid RMSE and hand it back
    as `best` (a copy rebuilt from its state); `patience`: stop after that many validated
    epochs without a new best."""

    def __init__(
        self,
        validate: Validate | None = None,
        reporter: Reporter | None = None,
        *,
        keep_best: bool = False,
        patience: int | None = None,
    ):
        self.validate = validate
        self.reporter = reporter or Reporter()
        self.keep_best, self.patience = keep_best, patience
        self.best: Any = None  # the best model, when it is not the last one
        self._best_rmse = math.inf
        self._best_state: tuple[Any, dict[str, Any], dict[str, Any]] | None = None
        self._since_best = 0
        self._best_epoch = -1

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
                stop = valid_rmse is not None and self._track(candidate, epoch, valid_rmse)
                last = epoch == epochs - 1 or stop
                if valid_rmse is not None or epoch % show_every == 0 or last:
                    self.reporter.end_epoch(stats)
                if stop:
                    break
        finally:
            self.reporter.close()
        self._restore(history)
        return history

    def _track(self, candidate: Any, epoch: int, valid_rmse: float) -> bool:
        """Remember a new best; True when patience has run out."""
        if valid_rmse < self._best_rmse:
            self._best_rmse, self._since_best = valid_rmse, 0
            if self.keep_best:
                arrays = {k: v.copy() for k, v in candidate.arrays().items()}
                self._best_state = (candidate, candidate.config(), arrays)
                self._best_epoch = epoch
            return False
        self._since_best += 1
        return self.patience is not None and self._since_best >= self.patience

    def _restore(self, history: list[EpochStats]) -> None:
        if self._best_state is None or not history or self._best_epoch == history[-1].epoch:
            return
        candidate, config, arrays = self._best_state
        self.best = type(candidate).from_state(candidate.n_users, candidate.n_items, config, arrays)
        self.reporter.note(
            f"kept epoch {self._best_epoch}, the best on validation (valid RMSE "
            f"{self._best_rmse:.4f}); the last epoch scored {history[-1].valid_rmse:.4f}"
        )
