"""Commands that search settings and compare them: lr-find, tune, benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

import embedrec
from embedrec.cli.common import (
    Force,
    JsonOut,
    Seed,
    app,
    check_suffix,
    emit,
    handle_errors,
    out,
)
from embedrec.cli.model_options import with_model_options
from embedrec.cli.options import DataOptions, with_data_options, with_layout_options
from embedrec.help_text import PROTOCOL_HELP


@app.command("lr-find")
@handle_errors
@with_model_options
@with_data_options
def lr_find(
    data: DataOptions,
    config: embedrec.TrainConfig,
    seed: Seed = None,
    plot: Annotated[Path, typer.Option("--plot", help="Where to save the plot (PNG).")] = Path(
        "lr_find.png"
    ),
    force: Force = False,
    as_json: JsonOut = False,
) -> None:
    """Sweep the learning rate on the training side, save the loss curve, suggest a rate
    (the model defaults to dot-bias here: the default, chosen among several, has none)."""
    embedrec.check_output(plot, force)
    check_suffix(plot, ".png", "--plot")
    if seed is not None:
        config = config.replace(seed=seed)
    if config.model == embedrec.TrainConfig().model:
        config = config.replace(model="dot-bias")
    embedrec.check_config(config)
    split = data.load_split(config.seed)
    result = embedrec.lr_find(split.train, config)
    result.plot(plot, force=force)
    if as_json:
        emit(
            {
                "suggestion": result.suggestion,
                "lr_min": result.lr_min,
                "plot": str(plot),
                "lrs": result.lrs,
                "losses": result.losses,
            }
        )
        return
    out.print(
        f"suggested lr (valley): {result.suggestion:.2e}   lr_min/10: {result.lr_min:.2e}"
        f"\nplot saved to {plot}",
        highlight=False,
        markup=False,
    )


@app.command()
@handle_errors
@with_model_options
@with_data_options
def tune(
    output: Annotated[Path, typer.Option("--out", help="Where to save the best config (JSON).")],
    data: DataOptions,
    config: embedrec.TrainConfig,
    trials: Annotated[int, typer.Option("--trials", help="Settings to try.", min=1)] = 50,
    seed: Seed = None,
    force: Force = False,
    as_json: JsonOut = False,
) -> None:
    """Search hyper-parameters with optuna; save the best as a config for train --config.

    The search scores on 10% carved from the training side only; the best settings are then
    retrained on the whole training side and reported once on the split's test side.
    """
    embedrec.check_output(output, force)
    if seed is not None:
        config = config.replace(seed=seed)
    embedrec.check_config(config)
    split = data.load_split(config.seed)
    result = embedrec.tune(
        split,
        config,
        trials=trials,
        seed=config.seed,
        progress=not as_json,
        out=output,
        force=force,
    )
    metric = result.metric
    if as_json:
        emit(
            {
                "best": result.best.to_dict(),
                "metric": metric.name,
                "best_valid": result.best_valid,
                "test": result.test,
                "best_valid_rmse": result.best_valid_rmse,
                "test_rmse": result.test_rmse,
                "trials": result.trials,
                "config": str(output),
            }
        )
        return
    ranked = sorted(result.trials, key=lambda t: t[metric.label], reverse=metric.higher_is_better)[
        :5
    ]
    table = Table(title=f"best of {trials} trials (valid = 10% of {split.name} training)")
    for column in ranked[0]:
        table.add_column(column, justify="right")
    for trial in ranked:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in trial.values()])
    out.print(table)
    name = metric.name.upper()
    test = "-" if result.test is None else f"{result.test:.4f}"
    out.print(
        f"best valid {name} {result.best_valid:.4f}; retrained on all of the training "
        f"side: test {name} {test}; config saved to {output}",
        highlight=False,
        markup=False,
    )


@app.command()
@handle_errors
@with_model_options
@with_layout_options
def benchmark(
    config: embedrec.TrainConfig,
    layout: dict[str, Any],
    protocol: Annotated[
        str, typer.Option("--protocol", help=f"One of: {PROTOCOL_HELP}.")
    ] = "ml100k-5fold",
    data: Annotated[
        str, typer.Option("--data", help="The data set the protocol splits.")
    ] = "movielens-100k",
    data_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--data-dir",
            help=(
                "Where MovieLens folders live [default: $EMBEDREC_DATA, else `embedrec data show`]."
            ),
        ),
    ] = None,
    seed: Seed = None,
    ranking: Annotated[
        bool,
        typer.Option(
            "--ranking",
            help="Top-k lists instead of RMSE: precision, recall, NDCG, MAP, hit rate and "
            "coverage at k of each of --models beside the most-popular row, ranking every "
            "unseen item [default: off].",
        ),
    ] = False,
    models: Annotated[
        str,
        typer.Option(
            "--models",
            help="With --ranking: the systems to compare, comma-separated model names, "
            "'default' for the default (bmf beside its ranker).",
        ),
    ] = "default,ease,ials",
    k: Annotated[int, typer.Option("--k", help="Cut-off of the ranking metrics.", min=1)] = 10,
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            help="A test rating at least this is relevant (leave-last-out: every one is).",
        ),
    ] = 4.0,
    as_json: JsonOut = False,
) -> None:
    """Train and evaluate on every split of a named protocol: RMSE/MAE per fold, mean, spread,
    beside the bias baseline fitted on the same folds and, on synthetic data, the noise floor
    (or, with --ranking, a table of top-k metrics)."""
    if seed is not None:
        config = config.replace(seed=seed)
    if not ranking:
        embedrec.check_config(config)
    if ranking:
        configs = {
            name: config if name == "default" else config.replace(model=name)
            for name in (part.strip() for part in models.split(","))
            if name
        }
        report = embedrec.run_ranking_protocol(
            protocol,
            data,
            configs,
            data_dir=data_dir,
            columns=layout,
            k=k,
            threshold=threshold,
            progress=not as_json,
        )
        if as_json:
            emit(report)
            return
        names = [c for c in report["rows"][0] if c not in ("system", "n_users", "seconds")]
        table = Table(
            title=f"{protocol}: top-{k} over all unseen items ({', '.join(report['splits'])})"
        )
        for column in ("system", *names, "seconds"):
            table.add_column(column, justify="left" if column == "system" else "right")
        for row in report["rows"]:
            cells = [f"{row[c]:.4f}" for c in names]
            table.add_row(row["system"], *cells, f"{row['seconds']:.1f}")
        out.print(table)
        return
    result = embedrec.run_protocol(
        protocol, data, config, data_dir=data_dir, columns=layout, progress=not as_json
    )
    if as_json:
        emit(result)
        return
    for fold in result["folds"]:
        floor = fold["noise_floor"]
        out.print(
            f"{fold['split']:>16}  RMSE {fold['rmse']:.4f}  MAE {fold['mae']:.4f}  "
            f"bias baseline {fold['baseline_rmse']:.4f}"
            + (f"  noise floor {floor:.4f}" if floor is not None else "")
            + f"  {fold['seconds']:.1f} s",
            highlight=False,
            markup=False,
        )
    gain = 100 * (1 - result["rmse_mean"] / result["baseline_rmse_mean"])
    floor = result["noise_floor_mean"]
    out.print(
        f"{protocol}: {result['model']} RMSE {result['rmse_mean']:.4f} +- "
        f"{result['rmse_std']:.4f}, MAE {result['mae_mean']:.4f} ({result['seconds']:.1f} s); "
        f"bias baseline RMSE {result['baseline_rmse_mean']:.4f} ({gain:+.1f}% better)"
        + (f"; noise floor {floor:.4f}" if floor is not None else ""),
        highlight=False,
        markup=False,
    )
