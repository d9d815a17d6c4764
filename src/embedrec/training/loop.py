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
from embedrec.models.base import LR_HINT, RMSE, ValidationMetric
from embedrec.training.progress import EpochStats, Reporter

# validate(model, metric) -> (valid_loss or None, the metric's value); the model is an
# `embedrec.models.Model`, the metric its kind's (`Model.validation_metric`)
Validate = Callable[[Any, ValidationMetric], tuple[float | None, float]]
# one_epoch(epoch) -> (train_loss or None where the engine has none, model to validate now or
# None to skip validation)
OneEpoch = Callable[[int], tuple[float | None, Any]]


class EpochLoop:
    """`metric`: what validation scores the model by (its kind's: RMSE, lower is better, or
    NDCG@10, higher is better); `keep_best`: remember the validated model with the best score
    and hand it back as `best` (a copy rebuilt from its state); `patience`: stop after that
    many validated epochs without a new best; `hint`: what to change when the training loss
    stops being a number (the model kind's own settings, `Model.divergence_hint`)."""

    def __init__(
        self,
        validate: Validate | None = None,
        reporter: Reporter | None = None,
        *,
        keep_best: bool = False,
        patience: int | None = None,
        metric: ValidationMetric = RMSE,
        hint: str = LR_HINT,
    ):
        self.validate = validate
        self.hint = hint
        self.reporter = reporter or Reporter()
        self.keep_best, self.patience, self.metric = keep_best, patience, metric
        self.best: Any = None  # the best model, when it is not the last one
        self._best_score: float | None = None
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
        self.reporter.start(epochs, steps_per_epoch, self.metric.label)
        try:
            for epoch in range(epochs):
                start = time.perf_counter()
                train_loss, candidate = one_epoch(epoch)
                if train_loss is not None and not math.isfinite(train_loss):
                    raise ModelError(
                        f"training diverged in epoch {epoch} (train loss {train_loss}); "
                        + self.hint
                    )
                valid_loss = score = None
                if candidate is not None and self.validate is not None:
                    valid_loss, score = self.validate(candidate, self.metric)
                stats = EpochStats.scored(
                    epoch, train_loss, valid_loss, self.metric.name, score,
                    time.perf_counter() - start,
                )  # fmt: skip
                history.append(stats)
                stop = score is not None and self._track(candidate, epoch, score)
                last = epoch == epochs - 1 or stop
                if score is not None or epoch % show_every == 0 or last:
                    self.reporter.end_epoch(stats)
                if stop:
                    break
        finally:
            self.reporter.close()
        self._restore(history)
        return history

    def _track(self, candidate: Any, epoch: int, score: float) -> bool:
        """Remember a new best; True when patience has run out. A score that is not a number
        (a validation side with nothing relevant to find) is shown, never kept."""
        if not math.isfinite(score):
            return False
        if self._best_score is None or self.metric.better(score, self._best_score):
            self._best_score, self._since_best = score, 0
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
            f"kept epoch {self._best_epoch}, the best on validation (valid "
            f"{self.metric.name.upper()} "
            f"{self._best_score:.4f}); the last epoch scored {history[-1].valid_metric:.4f}"
        )
