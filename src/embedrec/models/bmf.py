"""`bmf`: Bayesian matrix factorization, trained by Gibbs sampling (`embedrec.training.gibbs`).

The posterior mean of the samples is one dot product of concatenated, scaled factors, so a
trained bmf model *is* a `DotProductBias` with a linear output: it scores, folds in new users,
finds neighbours and saves exactly like `dot-bias`. Its biases are in rating units. Nothing to
tune but the rank (`n_factors`) and the number of sweeps (`epochs`); `implicit` and `robust`
switch the sampler's two extensions (the classic BPMF has both off).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from embedrec.config import TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.models.dot import DotProductBias, DotProductBiasKind
from embedrec.models.registry import register


@register
class BayesianMFKind(DotProductBiasKind):
    name = "bmf"
    summary = "Bayesian MF by Gibbs sampling, the default (--epochs = sweeps)"
    engines: ClassVar[tuple[str, ...]] = ("gibbs",)

    # Chosen on validation sets carved from the training side of the ML-100k protocols
    # (benchmarks/bmf_defaults.py), never on a test fold.
    defaults: ClassVar[dict[str, Any]] = {"n_factors": 10, "epochs": 100}

    @classmethod
    def build(cls, config: TrainConfig, data: Ratings) -> BayesianMFKind:
        """The prior mean: no factors yet, every prediction the mean rating; sampling replaces
        it with the posterior mean."""
        mean = float(data.ratings.mean(dtype=np.float64)) if len(data) else 0.0
        network = DotProductBias.from_arrays(
            np.zeros((data.n_users, 0)),
            np.zeros((data.n_items, 0)),
            np.zeros(data.n_users),
            np.full(data.n_items, mean),
        )
        return cls(network)

    @classmethod
    def search_space(cls, trial: Any, base: TrainConfig) -> dict[str, Any]:
        return {
            "n_factors": trial.suggest_int("n_factors", 4, 64, log=True),
            "epochs": trial.suggest_int("epochs", 40, 300, log=True),
        }
