"""`evaluate`: a saved model's figures on a test file or on the split it was trained with.

The test rows go through the model's own id maps, and what the model trained on (its items
per user, its baseline) comes from the model directory, never from a default data set: with
`--test FILE` nothing else is read. Without it, the validation side of a split of the data the
model recorded at train is scored (`--data` only when that file moved).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Annotated, Any, Optional

import typer

import embedrec
from embedrec.cli.common import JsonOut, ModelDir, Seed, app, emit, handle_errors, note, out
from embedrec.cli.options import DataOptions, with_data_options


@app.command()
@handle_errors
@with_data_options
def evaluate(
    ctx: typer.Context,
    model_dir: ModelDir,
    data: DataOptions,
    seed: Seed = None,
    ranking: Annotated[
        bool,
        typer.Option(
            "--ranking",
            help="Also precision/recall/NDCG/MAP/hit rate@k and coverage [default: off].",
        ),
    ] = False,
    k: Annotated[int, typer.Option("--k", help="Cut-off for the ranking metrics.", min=1)] = 10,
    relevant: Annotated[
        Optional[float],
        typer.Option(
            "--relevant",
            "--threshold",
            help="A test rating at least this is relevant [default: 3/4 of the way up the "
            "model's rating scale: 4 on 1-5, 7.5 on 0-10; every row for interactions].",
        ),
    ] = None,
    as_json: JsonOut = False,
) -> None:
    """RMSE and MAE of a saved model on test rows (--ranking: top-k too).

    --test FILE: exactly that file's rows, through the model's own ids. Otherwise the
    validation side of a split of --data (default: the data the model was trained on; the
    split `train` recorded, unless --split, --valid-pct or --seed choose another). Rows whose
    user or item the model never saw or saw without a training rating are cold: scored by the
    bias baseline (ranked by the typical user's list) and reported apart (n_cold), beside the
    warm rows' figures. Ranking leaves each user's training items out of the candidates.
    """
    if relevant is not None and not math.isfinite(relevant):
        raise embedrec.DataError(
            f"--relevant (--threshold) must be a finite rating, got {relevant}"
        )
    # loaded whole, as Python's embedrec.load does: the figures equal evaluate(rec, ...)'s to the
    # last digit (numpy's float32 scoring rounds differently from torch's in the 8th)
    rec = embedrec.load(model_dir)
    test, name = test_rows(rec, data, seed, given=given(ctx, "data"))
    encoded, _ = rec.encode(test)
    overlap = int(rec.trained_on(encoded).sum())
    if overlap:
        note(
            f"{overlap:,} of {len(test):,} test rows are "
            f"{'interactions' if rec.interactions else 'ratings'} this model trained on: "
            "its scores on them are optimistic (and in a ranking, never listed); evaluate on "
            "the split it was trained with (leave out --split/--valid-pct/--seed, or give the "
            "same ones as to train)"
        )
    metrics = embedrec.evaluate(rec, test, ranking=ranking, k=k, relevant=relevant)
    metrics.update(split=name, n_trained_on=overlap)
    if as_json:
        emit(metrics)
        return
    if ranking:
        show_ranking(metrics["ranking"])
    if "rmse" in metrics:
        show_rating(name, metrics)


def given(ctx: typer.Context, option: str) -> bool:
    source = ctx.get_parameter_source(option)
    return source is not None and source.name == "COMMANDLINE"


def test_rows(
    rec: embedrec.Recommender, data: DataOptions, seed: int | None, given: bool
) -> tuple[embedrec.Ratings, str]:
    """The rows to score and their name: the --test file alone, or a split's validation side
    of --data (given, else the data the model recorded at train)."""
    recorded: dict[str, Any] = rec.split or {}
    if data.valid is not None:
        if data.split is not None or data.valid_pct is not None or seed is not None:
            raise embedrec.DataError(
                "--test names the test rows: give it without --split, --valid-pct or --seed"
            )
        if given:
            note("--test: --data is not read; the model's own training items are left out")
        with warnings.catch_warnings():  # said once, among the notes below
            warnings.simplefilter("ignore", embedrec.DuplicatesWarning)
            test = embedrec.load_ratings(data.valid, data_dir=data.data_dir, **data.layout())
        for text in test.notes:  # duplicates cut, columns guessed: as train says them
            note(text)
        return test, test.source
    if not given and not recorded.get("data"):
        raise embedrec.DataError(
            "this model does not record the data it was trained on (saved from Python): give "
            "--test FILE, or --data with its training data"
        )
    source = data.data if given else recorded["data"]
    if not given and not embedrec.source_exists(source):
        raise embedrec.DataError(
            f"this model was trained on {source}, which is not there any more: give --data "
            f"(trained on {source})"
        )
    data = dataclasses.replace(data, data=source)
    if embedrec.same_source(recorded.get("data"), source):  # read as train read it
        data = data.with_recorded_layout(recorded.get("layout") or {})
    spec = recorded.get("spec")
    if spec and embedrec.same_source(recorded.get("data"), source):
        if seed is None and not data.names_split():
            note(f"scoring the split this model was validated on, {spec} (recorded at train)")
            data = dataclasses.replace(data, split=spec)
    split = data.load_split(seed)
    return split.valid, split.name


def show_ranking(scores: dict[str, Any]) -> None:
    figures = {key: value for key, value in scores.items() if "@" in key}
    relevant = scores["relevant"]
    rule = "every test row" if relevant is None else f"test rating >= {relevant:g}"
    out.print(
        "  ".join(f"{key} {value:.4f}" for key, value in figures.items() if "_warm" not in key)
        + f"  ({scores['n_users']:,} users; relevant: {rule})",
        highlight=False,
        markup=False,
    )
    if scores["n_cold"] == scores["n_users"]:
        out.print(
            "  (every one of these users got the model's fallback list: it cannot rank them)",
            highlight=False,
            markup=False,
        )
    elif scores["n_cold"]:
        out.print(
            f"  {scores['n_users'] - scores['n_cold']:,} warm users: "
            + "  ".join(
                f"{key.removesuffix('_warm')} {value:.4f}"
                for key, value in figures.items()
                if key.endswith("_warm")
            )
            + f"  ({scores['n_cold']:,} users the model cannot rank got its fallback list)",
            highlight=False,
            markup=False,
        )


def show_rating(name: str, metrics: dict[str, Any]) -> None:
    cold = metrics["n_cold"]
    text = (
        f"{name}: RMSE {metrics['rmse']:.4f}  MAE {metrics['mae']:.4f}  ({metrics['n']:,} ratings"
    )
    if cold:
        text += (
            f"; {cold:,} cold, scored by the bias baseline ({metrics['n_unknown']:,} with ids "
            f"the model never saw)"
        )
        if metrics["rmse_warm"] is not None:
            text += f"; warm rows: RMSE {metrics['rmse_warm']:.4f}  MAE {metrics['mae_warm']:.4f}"
    out.print(text + ")", highlight=False, markup=False)
