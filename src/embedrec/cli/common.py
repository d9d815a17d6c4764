"""What every command shares: the app, the consoles, the option groups (data and split options,
model and training options) declared once, error handling and JSON output.

Every command is a thin face over the public API (`import embedrec`): it parses, calls one or
two library functions, and prints.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

import embedrec
from embedrec.cli.options import DATA_OPTIONS as DATA_OPTIONS
from embedrec.cli.options import DataOptions as DataOptions
from embedrec.cli.options import _option, option_group
from embedrec.cli.options import with_data_options as with_data_options

app = typer.Typer(
    name="embedrec",
    help="Collaborative filtering with learned embeddings (fastai's collab models, as a tool).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: "[default: ...]" must not be eaten as markup
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
Force = Annotated[
    bool, typer.Option("--force", help="Replace an existing output (never a non-model folder).")
]
Seed = Annotated[
    Optional[int], typer.Option("--seed", help="Seed for the split and the model [default: 42].")
]


def handle_errors(command: F) -> F:
    """Turn embedrec's own errors into one clear line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except embedrec.EmbedrecError as exc:
            err.print(f"error: {exc}", highlight=False, markup=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


# ---- model and training options ----------------------------------------------------------------
def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{flag} takes sizes like 100,50, got {text!r}") from None


def _kind_options(pairs: list[str] | None) -> dict[str, Any]:
    """`--option KEY=VALUE` pairs; values are read as JSON where they parse (numbers, true,
    lists), else kept as text."""
    parsed: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--option takes KEY=VALUE, got {pair!r}")
        try:
            parsed[key.strip()] = json.loads(text)
        except ValueError:
            parsed[key.strip()] = text
    return parsed


def build_config(
    config_file: Path | None = None,
    no_y_range: bool = False,
    options: list[str] | None = None,
    ranker_options: list[str] | None = None,
    **typed_options: Any,
) -> embedrec.TrainConfig:
    """The config file's values (if any), overridden by the options the user typed."""
    base = embedrec.TrainConfig.from_file(config_file) if config_file else embedrec.TrainConfig()
    typed = {k: v for k, v in typed_options.items() if v is not None}
    if options:
        typed["options"] = {**base.options, **_kind_options(options)}
    if ranker_options:
        typed["ranker_options"] = {**base.ranker_options, **_kind_options(ranker_options)}
    if typed.get("ranker") == "none":
        typed["ranker"] = None
    if "layers" in typed:
        typed["layers"] = _int_list(typed["layers"], "--layers")
    if "members" in typed:
        typed["members"] = [{"model": name.strip()} for name in typed["members"].split(",")]
        typed.setdefault("model", "average")
    if "weights" in typed:
        try:
            typed["weights"] = [float(w) for w in typed["weights"].split(",")]
        except ValueError:
            raise typer.BadParameter(
                f"--weights takes numbers like 0.4,0.4,0.2, got {typed['weights']!r}"
            ) from None
    if no_y_range:
        typed["y_range"] = None
    return base.replace(**typed)


MODEL_OPTIONS: dict[str, Any] = {
    "model": (
        _option("--model", f"Model kind [default: bmf]. {embedrec.models_help()}."),
        None,
    ),
    "n_factors": (
        _option(
            "--factors",
            "Rank of bmf, width of the dot models and of nn's embeddings "
            "[default: bmf 10, dot 50, nn fastai's rule].",
            Optional[int],
        ),
        None,
    ),
    "layers": (_option("--layers", "Hidden layer sizes of nn [default: 100,50]."), None),
    "dropout": (_option("--dropout", "nn dropout [default: 0].", Optional[float]), None),
    "epochs": (
        _option("--epochs", "Epochs [default: 5; bmf: 100 sweeps].", Optional[int]),
        None,
    ),
    "implicit": (
        _option(
            "--implicit/--no-implicit",
            "bmf: use which items each user rated, as SVD++ does [default: on].",
            Optional[bool],
        ),
        None,
    ),
    "robust": (
        _option(
            "--robust/--no-robust",
            "bmf: a noise level per user and item [default: on].",
            Optional[bool],
        ),
        None,
    ),
    "members": (
        _option(
            "--members",
            "average: the models to average, e.g. bmf,bmf,nn (each with its own defaults; "
            "more options per member via --config) [default: bmf,bmf,bmf].",
        ),
        None,
    ),
    "weights": (_option("--weights", "average: one weight per member [default: equal]."), None),
    "lr": (_option("--lr", "Peak learning rate [default: 5e-3].", Optional[float]), None),
    "wd": (_option("--wd", "Decoupled weight decay [default: 0.1].", Optional[float]), None),
    "bs": (_option("--bs", "Batch size [default: 64].", Optional[int]), None),
    "y_range": (
        _option(
            "--y-range",
            "Output range LOW HIGH [default: (0, 1.1 x max rating)].",
            Optional[tuple[float, float]],
        ),
        None,
    ),
    "no_y_range": (_option("--no-y-range", "No sigmoid on the output.", bool), False),
    "schedule": (
        _option("--schedule", "one-cycle or constant [default: one-cycle]."),
        None,
    ),
    "device": (_option("--device", "auto, cpu, cuda or mps [default: auto]."), None),
    "engine": (
        _option(
            "--engine",
            f"{', '.join(embedrec.engine_names())} [default: auto: the model's first engine "
            "that runs on the device].",
        ),
        None,
    ),
    "threads": (
        _option("--threads", "CPU threads of the engine [default: all].", Optional[int]),
        None,
    ),
    "keep": (
        _option(
            "--keep",
            "Which epoch's model to save: last or best (lowest valid RMSE) [default: last].",
        ),
        None,
    ),
    "patience": (
        _option(
            "--patience",
            "Stop after this many validated epochs without a better valid RMSE [default: never].",
            Optional[int],
        ),
        None,
    ),
    "config_file": (
        _option("--config", "JSON training config; typed options override it.", Optional[Path]),
        None,
    ),
    "ranker": (
        _option(
            "--ranker",
            "A ranking model trained beside the rating model for recommend and similar: "
            "ease, ials, or none [default: auto: beside the default bmf, ease where its "
            "items x items solve fits in memory, else ials; none beside a named --model].",
        ),
        None,
    ),
    "ranker_options": (
        _option(
            "--ranker-option",
            "An option of the ranker as KEY=VALUE, repeatable.",
            Optional[list[str]],
        ),
        None,
    ),
    "blend": (
        _option(
            "--blend",
            "Weight of the rating model's standardised predictions added to the ranker's "
            "standardised scores [default: 0.5, chosen on validation carved from training].",
            Optional[float],
        ),
        None,
    ),
    "options": (
        _option(
            "--option",
            "A model kind's own option as KEY=VALUE, repeatable (each kind's options are "
            "listed under --model).",
            Optional[list[str]],
        ),
        None,
    ),
}
with_model_options = option_group("config", build_config, MODEL_OPTIONS)


# ---- output ----------------------------------------------------------------------------------
def emit(payload: dict[str, Any]) -> None:
    """Print one JSON object on stdout."""
    sys.stdout.write(json.dumps(payload, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: numpy scalars to Python, NaN titles to null."""
    frame = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def show(frame: pd.DataFrame, title: str | None = None, digits: int = 3) -> None:
    """A DataFrame as a rich table on stdout."""
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(str(column), justify="right" if column != "title" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row])
    out.print(table)


def note(text: str) -> None:
    err.print(f"note: {text}", highlight=False, markup=False)
