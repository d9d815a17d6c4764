"""`train`: data + hyper-parameters in, a trained `Recommender` out.

This is the glue between the layers: it builds the model the config names, fits the bias
baseline used for cold pairs, runs an engine with a validation hook that scores exactly as
`Recommender.evaluate` does, and hands back the Recommender with its epoch history.
"""

from __future__ import annotations

import numpy as np
import torch

from embedrec.data.ratings import Ratings
from embedrec.data.splits import Split
from embedrec.errors import ModelError
from embedrec.models import AverageModel, DotProductBias, build_model
from embedrec.models.baseline import BiasBaseline
from embedrec.recommender import Recommender
from embedrec.training import fused_engine
from embedrec.training.config import TrainConfig
from embedrec.training.device import resolve_device
from embedrec.training.gibbs import fit_gibbs
from embedrec.training.progress import Reporter, RichReporter
from embedrec.training.torch_engine import fit_torch

ENGINES = ("auto", "torch", "fused", "gibbs")


def choose_engine(config: TrainConfig, model) -> str:
    """`auto`: the fused engine for the factorization models on the CPU, PyTorch otherwise."""
    device = resolve_device(config.device)
    if config.engine == "fused":
        if not fused_engine.supports(model):
            raise ModelError(
                f"the fused engine trains dot and dot-bias models, not {config.model!r}; "
                "use engine='torch'"
            )
        if device.type != "cpu":
            raise ModelError(f"the fused engine runs on the CPU, not {device}; use engine='torch'")
        return "fused"
    if config.engine == "auto" and device.type == "cpu" and fused_engine.supports(model):
        return "fused"
    return "torch"


def train(
    data: Split | Ratings,
    config: TrainConfig | None = None,
    *,
    progress: bool | Reporter = False,
    **overrides,
) -> Recommender:
    """Train a model on a `Split` (validated after each epoch) or on all of a `Ratings`.

    Keyword arguments override the config's fields (`model=`, `epochs=`, `lr=`, `wd=`, ...).

    >>> split = load_split("movielens-100k")  # doctest: +SKIP
    >>> rec = train(split, model="dot-bias", epochs=5, wd=0.1, progress=True)  # doctest: +SKIP
    """
    config = (config or TrainConfig()).replace(**overrides).resolved()
    if config.model == "average":
        return train_average(data, config, progress)
    if config.engine not in ENGINES:
        raise ModelError(f"unknown engine {config.engine!r}; choose one of {', '.join(ENGINES)}")
    train_set, valid_set = (data.train, data.valid) if isinstance(data, Split) else (data, None)
    if len(train_set) == 0:
        raise ModelError("no training ratings")
    scale = train_set.rating_scale
    torch.manual_seed(config.seed)
    bayesian = config.model == "bmf"
    if bayesian and config.engine not in ("auto", "gibbs"):
        raise ModelError("the bmf model is trained by Gibbs sampling: use engine='auto'")
    model = build_model(
        "dot-bias" if bayesian else config.model,  # bmf: replaced by the posterior mean below
        train_set.n_users,
        train_set.n_items,
        **config.model_config(scale or train_set.observed_range),
    )
    if isinstance(model, DotProductBias) and model.y_range is None:
        with torch.no_grad():  # a linear output starts at the mean rating, not at 0
            model.item_bias.weight += float(train_set.ratings.mean(dtype=np.float64))
    rec = Recommender(
        model=model,
        user_map=train_set.user_map,
        item_map=train_set.item_map,
        baseline=BiasBaseline.fit(
            train_set.users,
            train_set.items,
            train_set.ratings,
            train_set.n_users,
            train_set.n_items,
        ),
        user_counts=train_set.user_counts(),
        item_counts=train_set.item_counts(),
        titles=train_set.titles,
        rating_scale=scale,
        config=config,
    )
    rec.seen_indptr, rec.seen_items = train_set.items_by_user()
    validate = None
    if valid_set is not None and len(valid_set):

        def validate(model):
            rec.model = model  # the same object for the gradient engines; new for Gibbs
            metrics = rec.evaluate(valid_set)
            return metrics["loss"], metrics["rmse"]

    reporter = (
        progress if isinstance(progress, Reporter) else (RichReporter() if progress else Reporter())
    )
    common = dict(
        epochs=config.epochs,
        lr=config.lr,
        wd=config.wd,
        bs=config.bs,
        schedule=config.schedule,
        seed=config.seed,
        validate=validate,
        reporter=reporter,
    )
    rec.engine = "gibbs" if bayesian else choose_engine(config, model)
    users, items, ratings = train_set.users, train_set.items, train_set.ratings
    if rec.engine == "gibbs":
        rec.model, rec.history = fit_gibbs(
            users,
            items,
            ratings,
            train_set.n_users,
            train_set.n_items,
            rank=config.n_factors,
            sweeps=config.epochs,
            implicit=config.implicit,
            robust=config.robust,
            seed=config.seed,
            validate=validate,
            reporter=reporter,
        )
    elif rec.engine == "fused":
        rec.history = fused_engine.fit_fused(
            model, users, items, ratings, threads=config.threads, **common
        )
    else:
        rec.history = fit_torch(model, users, items, ratings, device=config.device, **common)
    rec.model.cpu()
    return rec


def train_average(
    data: Split | Ratings, config: TrainConfig, progress: bool | Reporter = False
) -> Recommender:
    """Train each member of `config.members` on the same data, then average their predictions
    with `config.weights` (equal by default) into one model that saves and serves as one."""
    members = [train(data, member, progress=progress) for member in config.member_configs()]
    rec = members[0]
    rec.model = AverageModel.of([m.model for m in members], config.weights)
    rec.config = config
    rec.history = [stats for m in members for stats in m.history]
    rec.engine = "+".join(m.engine for m in members)
    return rec
