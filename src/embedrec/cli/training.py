"""Commands that make and measure models: train, evaluate, lr-find."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from embedrec.cli.common import (
    Data,
    DataDir,
    ItemCol,
    JsonOut,
    RatingCol,
    Scale,
    Seed,
    Sep,
    SplitOpt,
    TimeCol,
    TitleCol,
    UserCol,
    ValidPct,
    app,
    build_config,
    emit,
    err,
    handle_errors,
    load_data_split,
    out,
)
from embedrec.data.synthetic import write_synthetic
from embedrec.evaluation.protocols import PROTOCOL_HELP, run_protocol
from embedrec.evaluation.ranking import evaluate_ranking
from embedrec.learner import train as train_model
from embedrec.recommender import Recommender
from embedrec.training.lr_find import lr_find as run_lr_find
from embedrec.tuning import tune as run_tune

LARGE_FOR_BMF = 2_000_000  # ratings; above this a bmf run takes minutes (BENCHMARKS.md)


@app.command()
@handle_errors
def train(
    out_dir: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    data: Data = "movielens-100k",
    data_dir: DataDir = None,
    user_col: UserCol = None,
    item_col: ItemCol = None,
    rating_col: RatingCol = None,
    timestamp_col: TimeCol = None,
    title_col: TitleCol = None,
    sep: Sep = None,
    rating_scale: Scale = None,
    valid_pct: ValidPct = 0.2,
    split: SplitOpt = None,
    model: Annotated[
        Optional[str],
        typer.Option(
            "--model",
            help="bmf (Bayesian MF by Gibbs sampling; --epochs = sweeps), dot, dot-bias, nn, "
            "or average (of --members) [default: bmf].",
        ),
    ] = None,
    factors: Annotated[
        Optional[int],
        typer.Option(
            "--factors", help="Rank of bmf, width of the dot models [default: 10; dot: 50]."
        ),
    ] = None,
    layers: Annotated[
        Optional[str],
        typer.Option("--layers", help="Hidden layer sizes of the nn model [default: 100,50]."),
    ] = None,
    dropout: Annotated[Optional[float], typer.Option("--dropout", help="nn dropout.")] = None,
    epochs: Annotated[
        Optional[int], typer.Option("--epochs", help="[default: 5; bmf: 100 sweeps]")
    ] = None,
    implicit: Annotated[
        Optional[bool],
        typer.Option(
            "--implicit/--no-implicit",
            help="bmf: use which items each user rated, as SVD++ does [default: on].",
        ),
    ] = None,
    robust: Annotated[
        Optional[bool],
        typer.Option(
            "--robust/--no-robust", help="bmf: a noise level per user and item [default: on]."
        ),
    ] = None,
    members: Annotated[
        Optional[str],
        typer.Option(
            "--members",
            help="average: the models to average, e.g. bmf,bmf,nn (each with its own "
            "defaults; more options per member via --config) [default: bmf,bmf,bmf].",
        ),
    ] = None,
    weights: Annotated[
        Optional[str],
        typer.Option("--weights", help="average: one weight per member [default: equal]."),
    ] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak LR [default: 5e-3].")] = None,
    wd: Annotated[
        Optional[float], typer.Option("--wd", help="Decoupled weight decay [default: 0.1].")
    ] = None,
    bs: Annotated[Optional[int], typer.Option("--bs", help="Batch size [default: 64].")] = None,
    y_range: Annotated[
        Optional[tuple[float, float]],
        typer.Option("--y-range", help="Output range LOW HIGH [default: (0, 1.1 x max rating)]."),
    ] = None,
    no_y_range: Annotated[
        bool, typer.Option("--no-y-range", help="No sigmoid on the output.")
    ] = False,
    schedule: Annotated[
        Optional[str],
        typer.Option("--schedule", help="one-cycle or constant [default: one-cycle]."),
    ] = None,
    seed: Seed = None,
    device: Annotated[
        Optional[str], typer.Option("--device", help="auto, cpu, cuda or mps [default: auto].")
    ] = None,
    engine: Annotated[
        Optional[str],
        typer.Option(
            "--engine",
            help="auto (fused for dot/dot-bias on the CPU, else torch), torch or fused.",
        ),
    ] = None,
    threads: Annotated[
        Optional[int], typer.Option("--threads", help="Fused engine threads [default: all].")
    ] = None,
    config_file: Annotated[
        Optional[Path],
        typer.Option("--config", help="JSON training config; typed options override it."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out.")] = False,
    as_json: JsonOut = False,
):
    """Train a model and save it to --out (the epoch table goes to stderr)."""
    if out_dir.exists() and not force:
        raise typer.BadParameter(
            f"{out_dir} already exists; add --force to replace it", param_hint="--out"
        )
    config = build_config(
        config_file,
        model=model,
        n_factors=factors,
        layers=layers,
        dropout=dropout,
        epochs=epochs,
        implicit=implicit,
        robust=robust,
        members=members,
        weights=weights,
        lr=lr,
        wd=wd,
        bs=bs,
        y_range=None if no_y_range else y_range,
        schedule=schedule,
        seed=seed,
        device=device,
        engine=engine,
        threads=threads,
    )
    if no_y_range:
        config = config.replace(y_range=None)
    started = time.perf_counter()
    the_split = load_data_split(locals(), config.seed)
    for note in the_split.train.notes:
        err.print(f"note: {note}", highlight=False)
    if not as_json:
        err.print(the_split.describe(), highlight=False)
    if config.model == "bmf" and len(the_split.train) > LARGE_FOR_BMF:
        err.print(
            f"note: bmf takes about 1.3 s per million ratings per sweep on 2 cores "
            f"({config.resolved().epochs} sweeps here); --model dot-bias trains an epoch of "
            "this size in seconds",
            highlight=False,
        )
    rec = train_model(the_split, config, progress=True)
    metrics = rec.evaluate(the_split.valid) if len(the_split.valid) else {}
    rec.save(out_dir, overwrite=force)
    seconds = time.perf_counter() - started
    if not as_json:
        out.print(
            f"saved {rec.model_name} model to {out_dir} ({seconds:.1f} s)"
            + (f", valid RMSE {metrics['rmse']:.4f}" if metrics else ""),
            highlight=False,
        )
    emit(
        as_json,
        {
            "model_dir": str(out_dir),
            "model": rec.model_name,
            "split": the_split.name,
            "n_train": len(the_split.train),
            "n_valid": len(the_split.valid),
            "n_cold": metrics.get("n_cold", 0),
            "config": config.to_dict(),
            "history": rec.history,
            "valid_rmse": metrics.get("rmse"),
            "valid_mae": metrics.get("mae"),
            "valid_loss": metrics.get("loss"),
            "seconds": seconds,
            "notes": the_split.train.notes,
        },
    )


@app.command()
@handle_errors
def evaluate(
    model_dir: Annotated[Path, typer.Argument(help="A model directory written by train.")],
    data: Data = "movielens-100k",
    data_dir: DataDir = None,
    user_col: UserCol = None,
    item_col: ItemCol = None,
    rating_col: RatingCol = None,
    timestamp_col: TimeCol = None,
    title_col: TitleCol = None,
    sep: Sep = None,
    rating_scale: Scale = None,
    valid_pct: ValidPct = 0.2,
    split: SplitOpt = None,
    seed: Seed = None,
    ranking: Annotated[
        bool,
        typer.Option("--ranking", help="Also precision/recall/NDCG/MAP/hit rate@k and coverage."),
    ] = False,
    k: Annotated[int, typer.Option("--k", help="Cut-off for the ranking metrics.")] = 10,
    threshold: Annotated[
        float, typer.Option("--threshold", help="A test rating at least this is relevant.")
    ] = 4.0,
    as_json: JsonOut = False,
):
    """RMSE and MAE of a saved model on a split's validation side (--ranking: top-k too).

    The split options default as in train, so the same flags give the split the model was
    validated on; ranking metrics leave each user's training items out of the candidates.
    """
    rec = Recommender.load(model_dir)
    the_split = load_data_split(locals(), 42 if seed is None else seed)
    valid, unknown = rec.encode(the_split.valid)
    metrics = rec.evaluate(valid)
    metrics.update(split=the_split.name, n_unknown=unknown)
    if ranking:
        train_side, _ = rec.encode(the_split.train)
        metrics["ranking"] = evaluate_ranking(rec.score_items, train_side, valid, k, threshold)
    if as_json:
        emit(True, metrics)
        return
    if ranking:
        out.print(
            "  ".join(
                f"{name} {value:.4f}"
                for name, value in metrics["ranking"].items()
                if name != "n_users"
            )
            + f"  ({metrics['ranking']['n_users']} users)",
            highlight=False,
        )
    out.print(
        f"{the_split.name}: RMSE {metrics['rmse']:.4f}  MAE {metrics['mae']:.4f}  "
        f"({metrics['n']:,} ratings; {metrics['n_cold']} scored by the bias baseline; "
        f"{unknown} with ids the model never saw, skipped)",
        highlight=False,
    )


@app.command("lr-find")
@handle_errors
def lr_find(
    data: Data = "movielens-100k",
    data_dir: DataDir = None,
    user_col: UserCol = None,
    item_col: ItemCol = None,
    rating_col: RatingCol = None,
    timestamp_col: TimeCol = None,
    title_col: TitleCol = None,
    sep: Sep = None,
    rating_scale: Scale = None,
    valid_pct: ValidPct = 0.2,
    split: SplitOpt = None,
    model: Annotated[
        Optional[str],
        typer.Option("--model", help="dot, dot-bias or nn [default: dot-bias]."),
    ] = None,
    factors: Annotated[Optional[int], typer.Option("--factors")] = None,
    layers: Annotated[Optional[str], typer.Option("--layers")] = None,
    wd: Annotated[Optional[float], typer.Option("--wd")] = None,
    bs: Annotated[Optional[int], typer.Option("--bs")] = None,
    seed: Seed = None,
    plot: Annotated[Path, typer.Option("--plot", help="Where to save the plot.")] = Path(
        "lr_find.png"
    ),
    config_file: Annotated[Optional[Path], typer.Option("--config")] = None,
    as_json: JsonOut = False,
):
    """Sweep the learning rate on the training side, save the loss curve, suggest a rate."""
    config = build_config(
        config_file, model=model, n_factors=factors, layers=layers, wd=wd, bs=bs, seed=seed
    )
    if model is None and config_file is None:
        config = config.replace(model="dot-bias")  # the default bmf has no learning rate
    the_split = load_data_split(locals(), config.seed)
    result = run_lr_find(the_split.train, config)
    result.plot(plot)
    if as_json:
        emit(
            True,
            {
                "suggestion": result.suggestion,
                "lr_min": result.lr_min,
                "plot": str(plot),
                "lrs": result.lrs,
                "losses": result.losses,
            },
        )
        return
    out.print(
        f"suggested lr (valley): {result.suggestion:.2e}   lr_min/10: {result.lr_min:.2e}"
        f"\nplot saved to {plot}",
        highlight=False,
    )


@app.command()
@handle_errors
def synth(
    output: Annotated[Path, typer.Option("--out", help="File to write (.parquet or .csv).")],
    preset: Annotated[
        str, typer.Option("--preset", help="ml-100k, ml-1m, ml-10m, ml-20m or ml-25m.")
    ] = "ml-25m",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOut = False,
):
    """Write synthetic ratings shaped like a MovieLens release, for scale tests.

    A known low-rank model, Zipf-like item popularity, long-tailed user activity.
    """
    started = time.perf_counter()
    path = write_synthetic(output, preset, seed=seed)
    seconds = time.perf_counter() - started
    if as_json:
        emit(True, {"path": str(path), "preset": preset, "seconds": seconds})
    else:
        out.print(f"wrote {preset}-shaped ratings to {path} in {seconds:.1f} s")


@app.command()
@handle_errors
def benchmark(
    protocol: Annotated[
        str, typer.Option("--protocol", help=f"One of: {PROTOCOL_HELP}.")
    ] = "ml100k-5fold",
    data: Data = "movielens-100k",
    data_dir: DataDir = None,
    model: Annotated[
        Optional[str],
        typer.Option("--model", help="bmf, dot, dot-bias, nn or average [default: bmf]."),
    ] = None,
    factors: Annotated[Optional[int], typer.Option("--factors")] = None,
    layers: Annotated[Optional[str], typer.Option("--layers")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs")] = None,
    implicit: Annotated[Optional[bool], typer.Option("--implicit/--no-implicit")] = None,
    robust: Annotated[Optional[bool], typer.Option("--robust/--no-robust")] = None,
    members: Annotated[Optional[str], typer.Option("--members")] = None,
    weights: Annotated[Optional[str], typer.Option("--weights")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr")] = None,
    wd: Annotated[Optional[float], typer.Option("--wd")] = None,
    bs: Annotated[Optional[int], typer.Option("--bs")] = None,
    engine: Annotated[Optional[str], typer.Option("--engine")] = None,
    seed: Seed = None,
    config_file: Annotated[Optional[Path], typer.Option("--config")] = None,
    as_json: JsonOut = False,
):
    """Train and evaluate on every split of a named protocol: RMSE/MAE per fold, mean, spread."""
    config = build_config(
        config_file,
        model=model,
        n_factors=factors,
        layers=layers,
        epochs=epochs,
        implicit=implicit,
        robust=robust,
        members=members,
        weights=weights,
        lr=lr,
        wd=wd,
        bs=bs,
        engine=engine,
        seed=seed,
    )
    result = run_protocol(protocol, data, config, data_dir=data_dir)
    if as_json:
        emit(True, result)
        return
    for fold in result["folds"]:
        out.print(
            f"{fold['split']:>16}  RMSE {fold['rmse']:.4f}  MAE {fold['mae']:.4f}  "
            f"{fold['seconds']:.1f} s",
            highlight=False,
        )
    out.print(
        f"{protocol}: RMSE {result['rmse_mean']:.4f} +- {result['rmse_std']:.4f}, "
        f"MAE {result['mae_mean']:.4f} ({result['seconds']:.1f} s)",
        highlight=False,
    )


@app.command()
@handle_errors
def tune(
    output: Annotated[Path, typer.Option("--out", help="Where to save the best config (JSON).")],
    data: Data = "movielens-100k",
    data_dir: DataDir = None,
    user_col: UserCol = None,
    item_col: ItemCol = None,
    rating_col: RatingCol = None,
    timestamp_col: TimeCol = None,
    title_col: TitleCol = None,
    sep: Sep = None,
    rating_scale: Scale = None,
    valid_pct: ValidPct = 0.2,
    split: SplitOpt = None,
    model: Annotated[
        Optional[str],
        typer.Option("--model", help="bmf, dot, dot-bias, nn or average [default: bmf]."),
    ] = None,
    engine: Annotated[Optional[str], typer.Option("--engine")] = None,
    trials: Annotated[int, typer.Option("--trials", help="Settings to try.")] = 50,
    seed: Seed = None,
    config_file: Annotated[Optional[Path], typer.Option("--config")] = None,
    as_json: JsonOut = False,
):
    """Search hyper-parameters with optuna; save the best as a config for train --config.

    The search scores on 10% carved from the training side only; the best settings are then
    retrained on the whole training side and reported once on the split's test side.
    """
    if output.exists():
        raise typer.BadParameter(f"{output} already exists", param_hint="--out")
    config = build_config(config_file, model=model, engine=engine, seed=seed)
    the_split = load_data_split(locals(), config.seed)
    result = run_tune(the_split, config, trials=trials, seed=config.seed, progress=not as_json)
    result.save(output)
    if as_json:
        emit(
            True,
            {
                "best": result.best.to_dict(),
                "best_valid_rmse": result.best_valid_rmse,
                "test_rmse": result.test_rmse,
                "trials": result.trials,
                "config": str(output),
            },
        )
        return
    ranked = sorted(result.trials, key=lambda t: t["valid_rmse"])[:5]
    table = Table(title=f"best of {trials} trials (valid = 10% of {the_split.name} training)")
    for column in ranked[0]:
        table.add_column(column, justify="right")
    for trial in ranked:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in trial.values()])
    out.print(table)
    out.print(
        f"best valid RMSE {result.best_valid_rmse:.4f}; retrained on all of the training "
        f"side: test RMSE {result.test_rmse:.4f}; config saved to {output}",
        highlight=False,
    )
