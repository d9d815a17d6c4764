"""`train`: data + hyper-parameters in, a trained `Recommender` out.

The glue between the layers: it builds the model kind the config names, fits the bias baseline
used for cold pairs, hands the model to the engine that trains it with a validation hook that
scores by the kind's metric exactly as `embedrec.evaluate` (RMSE) or `evaluate_ranking`
(NDCG@10) does, and returns the Recommender with its epoch history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numba
import torch
from torch import nn

from embedrec.config import AUTO_MODEL, TrainConfig
from embedrec.data.ratings import Ratings
from embedrec.data.splits import Split, data_parallel_spec
from embedrec.errors import DataError, DistributedError, ModelError
from embedrec.evaluation.validation import validation_score
from embedrec.models import (
    AverageKind,
    BiasBaseline,
    Model,
    ModuleKind,
    Ranked,
    ResolvedConfig,
    ValidationMetric,
    build_resolved,
    check_learns_from,
    data_defaults,
    get_kind,
    resolve,
)
from embedrec.recommender import Recommender, load
from embedrec.selection import choose_default
from embedrec.training import Reporter, check_engine, fit, launch
from embedrec.training.device import resolve_device
from embedrec.training.loop import Validate
from embedrec.training.notebook_progress import live_reporter
from embedrec.training.progress import EpochStats

# Above this many ratings a Gibbs sweep takes seconds (about 1.3 s per million ratings on
# 2 cores, benchmarks/bmf_speed.py): say so before a long run starts.
LARGE_FOR_BMF = 2_000_000


MAX_THREADS: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]


def check_config(config: TrainConfig) -> None:
    """What can be checked of a run before any data is read: the model kind and its options,
    an average's members, the ranker, the device, the engine and the thread count. The CLI
    calls it first, so a typo never waits for the data to load.

    >>> check_config(TrainConfig(model="dot-bias", device="cpu"))
    """
    resolve(config)
    if config.model == "average":
        for member in AverageKind.members_of(config):
            resolve(member)
    if config.ranker not in (None, "auto"):
        ranker_settings(config)
    elif config.ranker == "auto" and config.ranker_options:
        check_auto_ranker_options(config)
    device = resolve_device(config.device)
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ModelError(
            f"device {config.device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)"
        )
    check_engine(config.engine)
    check_threads(config)


# the personal rankers `--ranker auto` chooses among (with the most popular items), which
# --ranker-option is handed to
AUTO_RANKERS = ("ease", "ials")


def check_auto_ranker_options(config: TrainConfig) -> None:
    """--ranker-option with the ranker chosen for you: the options go to whichever of
    AUTO_RANKERS is tried, so each must take them; said before any model trains."""
    for kind in AUTO_RANKERS:
        try:
            resolve(config.ranker_config(kind))
        except ModelError as exc:
            tried = ", ".join(AUTO_RANKERS)
            raise ModelError(
                f"--ranker-option (ranker_options) goes to each ranker --ranker auto tries "
                f"({tried}), and {exc}; name the ranker with --ranker"
            ) from None


def check_threads(config: TrainConfig) -> None:
    """--threads within what this machine runs (checked again once a --config file is merged)."""
    if config.threads is not None and config.threads > MAX_THREADS:
        raise ModelError(
            f"threads (--threads) is {config.threads}, but this machine runs at most {MAX_THREADS}"
        )


def train(
    data: Split | Ratings | str | Path,
    config: TrainConfig | None = None,
    *,
    progress: bool | Reporter = False,
    nproc: int | None = None,
    out: str | Path | None = None,
    force: bool = False,
    valid_pct: float = 0.2,
    split: str | None = None,
    data_dir: str | Path | None = None,
    layout: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Recommender:
    """Train a model on a `Split` (validated after each epoch) or on all of a `Ratings`.

    Keyword arguments override the config's fields (`model=`, `epochs=`, `lr=`, `wd=`, ...);
    any other keyword is an option of the model kind (`model="ease", l2=300`). `model=` also
    takes your own `nn.Module` of (users, items) -> ratings (see `embedrec.models.module`).
    `out=` saves the model there too (`force=True` replaces one).

    `nproc=N` (N > 1) trains data-parallel in N processes on this machine, as `embedrec train
    --nproc N` does: each process reads its own shard, so `data` is the data's path or name (a
    file, a Parquet directory, a MovieLens name; `data_dir=`, and `layout=` with `load_ratings`'s
    column and separator options, say how to read it), split at random (`valid_pct=` with the
    config's seed, or `split="random:PCT:SEED"`); rank 0 saves to `out=` (required) and the
    model is loaded from there. The processes print the epoch table as the CLI does.

    >>> split = load_split("movielens-100k")  # doctest: +SKIP
    >>> rec = train(split, model="dot-bias", epochs=5, wd=0.1, progress=True)  # doctest: +SKIP
    >>> rec = train("r.parquet", model="dot-bias", nproc=2, out="models/r")  # doctest: +SKIP
    """
    if nproc is not None and nproc > 1:
        return _train_in_processes(
            data, config, nproc, out, force=force, valid_pct=valid_pct, split=split,
            data_dir=data_dir, layout=layout, **overrides,
        )  # fmt: skip
    if not isinstance(data, (Split, Ratings)):
        raise DataError(
            f"train takes a Split or Ratings (embedrec.load_split({str(data)!r}) reads one); "
            "a path is for a run in several processes (nproc=2 or more)"
        )
    if nproc is not None and nproc < 1:
        raise ModelError(f"nproc={nproc}: at least one process")
    if data_dir is not None or layout is not None or split is not None:
        raise DataError("split=, data_dir= and layout= say how to read a path (nproc=2 or more)")
    run = start(data, config, progress=progress, **overrides)
    history, engine, model = fit(
        run.rec.model, run.train_set, run.config, run.validate, run.reporter
    )
    rec = finish(run, history, engine, model)
    if out is not None:
        rec.save(out, force=force)
    return rec


def _train_in_processes(
    data: Split | Ratings | str | Path,
    config: TrainConfig | None,
    nproc: int,
    out: str | Path | None,
    **run: Any,
) -> Recommender:
    """`train(..., nproc=N)`: what a data-parallel run cannot take is refused here, clearly."""
    if isinstance(data, (Split, Ratings)):
        raise DistributedError(
            f"nproc={nproc}: each process reads its own shard of the data, so a data-parallel "
            "run takes the data's path or name (a file, a Parquet directory, a MovieLens "
            f"name), not a {type(data).__name__} in memory"
        )
    if out is None:
        raise DistributedError(
            f"nproc={nproc}: rank 0 saves the model and train loads it from there: give out="
        )
    options = {k: run.pop(k) for k in ("force", "data_dir", "layout")}
    valid_pct, split = run.pop("valid_pct"), run.pop("split")
    config = (config or TrainConfig()).merged(**run)
    check_config(config)
    if split is None:
        split = f"random:{valid_pct}:{config.seed}"
    data_parallel_spec(split)  # refused before any process starts
    launch.train_in_processes(data, config, nproc, Path(out), split=split, **options)
    return load(out)


@dataclass
class Run:
    """A training run set up by `start`: the Recommender around the untrained model (its
    baseline, counts and seen items filled in), the resolved config, the training side, the
    validation hook and the reporter. An engine trains `rec.model`; `finish` makes the trained
    Recommender, with the ranker beside it (`embedrec.models.Ranked`)."""

    rec: Recommender
    config: ResolvedConfig
    train_set: Ratings
    validate: Validate | None
    reporter: Reporter
    ranker: Model | None = None  # built by `start`: its size guard refuses before any epoch
    ranker_config: ResolvedConfig | None = None


def start(
    data: Split | Ratings,
    config: TrainConfig | None = None,
    *,
    progress: bool | Reporter = False,
    **overrides: Any,
) -> Run:
    """Everything `train` does before the engine runs, shared with the distributed run (whose
    rank 0 sets up the same Recommender, so that both validate and save alike)."""
    module = overrides.pop("model") if isinstance(overrides.get("model"), nn.Module) else None
    if module is not None:
        overrides["model"] = ModuleKind.name
    config = (config or TrainConfig()).merged(**overrides)
    train_set, valid_set = (data.train, data.valid) if isinstance(data, Split) else (data, None)
    if len(train_set) == 0:
        raise ModelError("no training ratings")
    reporter = (
        progress
        if isinstance(progress, Reporter)
        else (live_reporter() if progress else Reporter())
    )
    selection = None
    if config.ranker == "auto" and config.ranker_options:
        check_auto_ranker_options(config)  # before the rating models the choice trains
    if config.model == AUTO_MODEL:
        resolve(config)  # options without a model are refused before any candidate trains
        choice = choose_default(train_set, config, _train_quietly, train_set.rating_scale)
        for line in choice.lines():
            reporter.note(line)
        config, selection = choice.config, [t.as_dict() for t in choice.trials]
    check_learns_from(config, train_set)
    filled, picked = data_defaults(config, train_set)
    config = resolve(filled)  # once: the model, the engine and the saved model take this one
    check_threads(config)
    for note in ([picked] if picked else []) + training_notes(config, train_set):
        reporter.note(note)
    # the ranker is built first: a size guard (ease's memory) refuses before the model trains
    ranker_config = None if config.ranker in (None, "auto") else ranker_settings(config)
    ranker = None if ranker_config is None else build_resolved(ranker_config, train_set)
    torch.manual_seed(config.seed)
    model = (
        build_resolved(config, train_set) if module is None else ModuleKind.wrap(module, train_set)
    )
    seen_indptr, seen_items, seen_ratings = train_set.by_user()
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
        genres=train_set.genres,
        rating_scale=train_set.rating_scale,
        observed_scale=train_set.observed_range,  # start refused empty training data
        split=None if not isinstance(data, Split) else {"name": data.name},
        config=config,
        selection=selection,
        interactions=train_set.interactions,
        seen_indptr=seen_indptr,
        seen_items=seen_items,
        seen_ratings=seen_ratings,
    )
    validate = None
    if valid_set is not None and len(valid_set):

        def validate(candidate: Model, metric: ValidationMetric) -> tuple[float | None, float]:
            # a member of an average is validated on its own
            return validation_score(replace(rec, model=candidate), train_set, valid_set, metric)

    return Run(rec, config, train_set, validate, reporter, ranker, ranker_config)


def finish(run: Run, history: list[EpochStats], engine: str, model: Model) -> Recommender:
    """The trained run's Recommender: the `model` an engine trained (its `history`), with the
    ranker the config asks for trained beside it."""
    config, ranker = run.config, run.ranker
    if ranker is None or run.ranker_config is None:
        return replace(run.rec, history=history, engine=engine, model=model)
    # its epochs are shown but not kept: the history is the rating model's, validated
    _, ranker_engine, ranker = fit(ranker, run.train_set, run.ranker_config, None, run.reporter)
    blend = 0.0 if config.blend is None else config.blend
    return replace(
        run.rec,
        history=history,
        engine=f"{engine}+{ranker_engine}",
        model=Ranked(model, ranker, blend),
    )


def _train_quietly(data: Ratings, config: TrainConfig) -> Recommender:
    """One candidate of the default's choice, trained without output or per-epoch validation
    (`embedrec.selection` scores it once, on the carved rows)."""
    return train(data, config)


def ranking_kind(name: str) -> type[Model]:
    """The model kind `name`, which must rank (a rating model cannot be the ranker)."""
    kind = get_kind(name)
    if kind.predicts_ratings:
        raise ModelError(f"ranker {name!r} is a rating model; name a ranking model")
    return kind


def ranker_settings(config: TrainConfig) -> ResolvedConfig:
    """The resolved config of the ranking model `config.ranker` names (a ranking kind)."""
    assert config.ranker is not None
    ranking_kind(config.ranker)
    return resolve(config.ranker_config(config.ranker))


def training_notes(config: TrainConfig, data: Ratings) -> list[str]:
    """What a user should know before this run starts."""
    notes = []
    average = config.model == "average"
    models = [m.model for m in AverageKind.members_of(config)] if average else []
    if (config.model == "bmf" or "bmf" in models) and len(data) > LARGE_FOR_BMF:
        notes.append(
            f"bmf takes about 1.3 s per million ratings per sweep on 2 cores "
            f"({config.epochs} sweeps here); --model dot-bias trains an epoch of this size "
            "in seconds"
        )
    return notes
