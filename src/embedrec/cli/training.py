"""The command that makes a model: train (evaluate is in `evaluating`)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

import embedrec
from embedrec import lazy
from embedrec.cli.common import (
    Force,
    JsonOut,
    Seed,
    app,
    emit,
    err,
    handle_errors,
    note,
    out,
)
from embedrec.cli.model_options import with_model_options
from embedrec.cli.options import DEFAULT_VALID_PCT, DataOptions, with_data_options

if TYPE_CHECKING:  # imported when the command runs: --help needs no torch
    from embedrec import service
else:
    service = lazy.module("embedrec.service")


@app.command()
@handle_errors
@with_model_options
@with_data_options
def train(
    out_dir: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    data: DataOptions,
    config: embedrec.TrainConfig,
    seed: Seed = None,
    feedback: Annotated[
        Optional[str],
        typer.Option(
            "--feedback",
            help="Also train on every rating stored by `embedrec serve` in this database "
            "(sqlite:///models/ml-100k.feedback.db, postgresql://...) [default: none].",
        ),
    ] = None,
    nproc: Annotated[
        Optional[int],
        typer.Option(
            "--nproc",
            min=1,
            help="Train in N processes on this machine with torch.distributed (gloo on CPU, "
            "one process per GPU on CUDA), as `torchrun --standalone --nproc-per-node N -m "
            "embedrec train ...` does [default: one process].",
        ),
    ] = None,
    force: Force = False,
    as_json: JsonOut = False,
) -> None:
    """Train a model and save it to --out (the epoch table goes to stderr)."""
    embedrec.check_output(out_dir, force, model_dir=True)  # before the work, not after
    if seed is not None:
        config = config.replace(seed=seed)
    embedrec.check_config(config)
    started = time.perf_counter()
    if nproc is not None and nproc > 1:
        rec = launch_local(nproc, data, config, feedback, out_dir, force)
        split = data.load_split(config.seed).without_timestamps()  # the split the ranks made
        report(rec, split, data, out_dir, started, as_json)
        return
    if embedrec.World.launched():  # one process of `torchrun ... -m embedrec train`
        trained = train_distributed(data, config, feedback, as_json)
        if trained is None:
            return  # not rank 0: rank 0 validates, reports and saves
        rec, split = trained
    else:
        # the store is opened first: one that is not there, or not embedrec's, is refused
        # before the data is read
        store = None if feedback is None else service.FeedbackStore(feedback, create=False)
        try:
            split = data.load_split(config.seed)
            if store is not None:
                split = embedrec.with_feedback(split, store.all_ratings())
        finally:
            if store is not None:
                store.close()
        # the split is made: from here on nothing reads a timestamp (8 bytes a row)
        split = split.without_timestamps()
        describe(split, as_json)
        rec = embedrec.train(split, config, progress=True)
    split_record = {
        "name": split.name,
        "spec": data.split_spec(config.seed),
        "data": embedrec.recorded_source(data.data),
        "layout": data.recorded_layout(),  # how evaluate reads the file again
    }
    rec = dataclasses.replace(rec, split=split_record)
    rec.save(out_dir, force=force)
    if not embedrec.World.launched_by_embedrec():  # else the launcher reports
        report(rec, split, data, out_dir, started, as_json)


def report(
    rec: embedrec.Recommender,
    split: embedrec.Split,
    data: DataOptions,
    out_dir: Path,
    started: float,
    as_json: bool,
) -> None:
    """The saved model's line (or JSON): its validation scores beside the noise floor."""
    # a ranking model has no RMSE, nor have interactions
    rated = len(split.valid) and rec.model.predicts_ratings and not split.valid.interactions
    metrics = embedrec.evaluate(rec, split.valid) if rated else {}
    floor = embedrec.noise_floor(data.data, split.valid) if rated else None
    seconds = time.perf_counter() - started
    if as_json:
        emit(
            {
                "model_dir": str(out_dir),
                "model": rec.model_name,
                "engine": rec.engine,
                "split": split.name,
                "n_train": len(split.train),
                "n_valid": len(split.valid),
                "n_cold": metrics.get("n_cold", 0),
                "config": rec.config.to_dict(),
                "history": rec.history,
                "valid_rmse": metrics.get("rmse"),
                "valid_rmse_warm": metrics.get("rmse_warm"),
                "noise_floor": floor,
                "valid_mae": metrics.get("mae"),
                "valid_loss": metrics.get("loss"),
                "seconds": seconds,
                "notes": split.train.notes,
            }
        )
        return
    out.print(
        f"saved {rec.model_name} model to {out_dir} ({seconds:.1f} s)"
        + (f", valid RMSE {metrics['rmse']:.4f}" if metrics else "")
        + (floor_note(metrics["rmse"], floor) if floor is not None else "")
        + (cold_note(metrics) if metrics and metrics["n_cold"] else ""),
        highlight=False,
        markup=False,
    )


def floor_note(rmse: float, floor: float) -> str:
    """How far a valid RMSE is above the synthetic data's noise floor (the true model's RMSE)."""
    return f" (noise floor {floor:.4f}: {100 * (rmse / floor - 1):+.1f}%)"


def cold_note(metrics: dict) -> str:
    """The cold rows apart: how many the bias baseline scored, and the warm rows' RMSE."""
    warm = metrics["rmse_warm"]
    return f" ({metrics['n_cold']:,} cold rows scored by the bias baseline" + (
        f"; warm rows {warm:.4f})" if warm is not None else ")"
    )


def describe(split: embedrec.Split, as_json: bool) -> None:
    for text in split.train.notes:
        note(text)
    if not as_json:
        err.print(split.describe(), highlight=False, markup=False)


def launch_local(
    nproc: int,
    data: DataOptions,
    config: embedrec.TrainConfig,
    feedback: str | None,
    out_dir: Path,
    force: bool,
) -> embedrec.Recommender:
    """`--nproc N`: `embedrec.train(..., nproc=N)`, which runs this command again in N
    processes through torch's launcher, after what the CLI's options refuse."""
    if embedrec.World.launched():
        raise embedrec.DistributedError(
            "--nproc: this process is one of a torchrun run already; torchrun sets the count"
        )
    valid_pct, seed = distributed_split(data, config, feedback)
    return embedrec.train(
        data.data, config, nproc=nproc, out=out_dir, force=force,
        split=f"random:{valid_pct}:{seed}", data_dir=data.data_dir, layout=data.layout(),
    )  # fmt: skip


def distributed_split(
    data: DataOptions, config: embedrec.TrainConfig, feedback: str | None
) -> tuple[float, int]:
    """The random split's fraction and seed a distributed run uses; what it refuses."""
    refused = {"--feedback": feedback, "--valid": data.valid}
    for flag, value in refused.items():
        if value is not None:
            raise embedrec.DistributedError(f"{flag}: a distributed run takes --valid-pct only")
    valid_pct = DEFAULT_VALID_PCT if data.valid_pct is None else data.valid_pct
    seed = config.seed
    if data.split is not None:
        valid_pct, seed = embedrec.data_parallel_spec(data.split)  # as one process reads it
    return valid_pct, seed


def train_distributed(
    data: DataOptions, config: embedrec.TrainConfig, feedback: str | None, as_json: bool
) -> tuple[embedrec.Recommender, embedrec.Split] | None:
    """`train`'s part on one rank of a torchrun run; rank 0 gets the model and its split."""
    valid_pct, seed = distributed_split(data, config, feedback)
    world = embedrec.World.from_env(config.device)
    trained = embedrec.train_distributed(
        data.data, config, world, valid_pct=valid_pct, seed=seed, progress=True,
        data_dir=data.data_dir, **data.layout(),
    )  # fmt: skip
    if trained is not None:
        describe(trained[1], as_json)
    return trained
