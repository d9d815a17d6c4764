"""What every command shares: the app, consoles, data and split options, error handling and
JSON output."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from embedrec.data import load_split
from embedrec.data.splits import SPEC_HELP
from embedrec.errors import EmbedrecError
from embedrec.training.config import TrainConfig

app = typer.Typer(
    name="embedrec",
    help="Collaborative filtering with learned embeddings (fastai's collab models, as a tool).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)

Data = Annotated[
    str,
    typer.Option(
        "--data",
        help="movielens-100k (or 1m, 10m, 20m, 25m, 32m, latest, latest-small), a "
        "MovieLens folder, or a CSV/TSV/Parquet ratings file.",
    ),
]
DataDir = Annotated[
    Optional[Path],
    typer.Option(
        "--data-dir",
        help="Where MovieLens folders live [default: $EMBEDREC_DATA or ~/.cache/embedrec].",
    ),
]
UserCol = Annotated[Optional[str], typer.Option("--user-col", help="User id column.")]
ItemCol = Annotated[Optional[str], typer.Option("--item-col", help="Item id column.")]
RatingCol = Annotated[Optional[str], typer.Option("--rating-col", help="Rating column.")]
TimeCol = Annotated[Optional[str], typer.Option("--timestamp-col", help="Timestamp column.")]
TitleCol = Annotated[Optional[str], typer.Option("--title-col", help="Item title column.")]
Sep = Annotated[
    Optional[str],
    typer.Option(
        "--sep", help="Field separator (default: detected among '::', tab, ',', ';', '|')."
    ),
]
Scale = Annotated[
    Optional[tuple[float, float]],
    typer.Option(
        "--rating-scale",
        help="Declared rating range LOW HIGH: ratings outside it are an error, "
        "predictions are clipped to it.",
    ),
]
ValidPct = Annotated[float, typer.Option("--valid-pct", help="Random validation fraction.")]
SplitOpt = Annotated[
    Optional[str], typer.Option("--split", help=f"Instead of --valid-pct: {SPEC_HELP}.")
]
Seed = Annotated[
    Optional[int], typer.Option("--seed", help="Seed for the split and the model [default: 42].")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def handle_errors(command):
    """Turn embedrec's own errors into one clear line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EmbedrecError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


DATA_OPTIONS = (
    "data_dir",
    "user_col",
    "item_col",
    "rating_col",
    "timestamp_col",
    "title_col",
    "sep",
    "rating_scale",
    "valid_pct",
)


def load_data_split(options: dict, seed: int):
    """The split a command's shared data options describe; `options` is the command's
    `locals()`, so every command reads --data, --split and the column flags the same way."""
    picked = {name: options[name] for name in DATA_OPTIONS}
    return load_split(options["data"], options["split"], seed=seed, **picked)


def build_config(config_file, **options) -> TrainConfig:
    """The config file's values (if any), overridden by the options the user typed."""
    base = TrainConfig.from_file(config_file) if config_file else TrainConfig()
    typed = {k: v for k, v in options.items() if v is not None}
    if typed.get("layers") is not None:
        typed["layers"] = int_list(typed["layers"])
    if typed.get("members") is not None:
        typed["members"] = [{"model": name.strip()} for name in typed["members"].split(",")]
        typed.setdefault("model", "average")
    if typed.get("weights") is not None:
        try:
            typed["weights"] = [float(w) for w in typed["weights"].split(",")]
        except ValueError:
            raise typer.BadParameter(
                f"--weights takes numbers like 0.4,0.4,0.2, got {typed['weights']!r}"
            ) from None
    return base.replace(**typed)


def int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"--layers takes sizes like 100,50, got {text!r}") from None


def emit(as_json: bool, payload: dict) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, default=_jsonable) + "\n")


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
