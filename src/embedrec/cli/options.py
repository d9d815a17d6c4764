"""The option groups' machinery (`option_group`) and the data and split options every command
that loads ratings shares (`DATA_OPTIONS`, gathered into `DataOptions`)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar, get_type_hints

import typer

import embedrec
from embedrec.help_text import SPLIT_HELP

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_VALID_PCT = 0.2


def option_group(target: str, build: Callable[..., Any], options: dict[str, Any]) -> Callable:
    """A decorator adding the typer `options` (name -> Annotated type with its default) to a
    command, gathered into one object `build(**values)` passed as the argument `target`: a
    group of options is declared once and shared by every command that takes it."""
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, (kind, default) in options.items()
    ]

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        hints = get_type_hints(command, include_extras=True)
        own = [
            p.replace(annotation=hints.get(name, p.annotation))
            for name, p in signature.parameters.items()
            if name != target
        ]
        # a command's own option of the same name stands (train's --seed seeds the split too)
        taken = [p for p in added if p.name not in {q.name for q in own}]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {p.name: kwargs.pop(p.name) for p in taken}
            kwargs[target] = build(**values)
            return command(*args, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=own + taken)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {
            **{k: v for k, v in hints.items() if k != target},
            **{p.name: p.annotation for p in taken},
        }
        return wrapper  # type: ignore[return-value]

    return decorate


# ---- data and split options -------------------------------------------------------------------
@dataclass
class DataOptions:
    data: str
    data_dir: Path | None
    user_col: str | None
    item_col: str | None
    rating_col: str | None
    weight_col: str | None
    timestamp_col: str | None
    title_col: str | None
    item_table: str | None
    sep: str | None
    header: bool | None
    columns: str | None
    rating_scale: tuple[float, float] | None
    valid_pct: float | None
    split: str | None
    valid: Path | None

    def split_spec(self, seed: int) -> str | None:
        """The `--split` spec that gives this split again (None for a --valid file)."""
        if self.valid is not None:
            return None
        if self.split is not None:
            return self.split
        return f"random:{DEFAULT_VALID_PCT if self.valid_pct is None else self.valid_pct}:{seed}"

    def names_split(self) -> bool:
        """Whether the user chose the split (else evaluate uses the one a model records)."""
        return self.valid is not None or self.split is not None or self.valid_pct is not None

    def load_split(self, seed: int | None) -> embedrec.Split:
        with warnings.catch_warnings():  # the commands print it among the data's notes
            warnings.simplefilter("ignore", embedrec.DuplicatesWarning)
            return embedrec.load_split(
                self.data,
                self.split,
                valid=self.valid,
                valid_pct=DEFAULT_VALID_PCT if self.valid_pct is None else self.valid_pct,
                seed=seed,
                data_dir=self.data_dir,
                **self.layout(),
            )

    def layout(self) -> dict[str, Any]:
        """How to read the file: the column, separator and header options, as `load_ratings`
        takes them."""
        return {key: getattr(self, key) for key in LAYOUT_OPTIONS}

    def recorded_layout(self) -> dict[str, Any]:
        """The layout options given, as a model records them so that `evaluate` reads its
        data again as `train` did (not the item table: titles score nothing, and a table
        moved since must not stop an evaluation)."""
        layout = self.layout().items()
        return {key: value for key, value in layout if value is not None and key != "item_table"}

    def with_recorded_layout(self, recorded: dict[str, Any]) -> DataOptions:
        """These options, each layout option not given here taken from a model's record."""
        taken = {key: recorded[key] for key in LAYOUT_OPTIONS if key in recorded}
        if taken.get("rating_scale") is not None:  # JSON keeps a list
            taken["rating_scale"] = tuple(taken["rating_scale"])
        missing = {key: value for key, value in taken.items() if getattr(self, key) is None}
        return dataclasses.replace(self, **missing)


def option(flag: str, text: str, kind: Any = Optional[str]) -> Any:
    return Annotated[kind, typer.Option(flag, help=text)]


DATA_OPTIONS: dict[str, Any] = {
    "data": (
        option(
            "--data",
            "movielens-100k (or 1m, 10m, 20m, 25m, 32m, latest, latest-small), a MovieLens "
            "folder, or a CSV/TSV/Parquet ratings file.",
            str,
        ),
        "movielens-100k",
    ),
    "data_dir": (
        option(
            "--data-dir",
            "Where MovieLens folders live [default: $EMBEDREC_DATA, else `embedrec data show`].",
            Optional[Path],
        ),
        None,
    ),
    "user_col": (
        option(
            "--user-col",
            "User id column, by name or 0-based position (0: the first column) [default: "
            "guessed from names such as user, userId, user_id, customer].",
        ),
        None,
    ),
    "item_col": (
        option(
            "--item-col",
            "Item id column, by name or position [default: guessed: item, itemId, movieId, "
            "product, sku, ...].",
        ),
        None,
    ),
    "rating_col": (
        option(
            "--rating-col",
            "Rating column, by name or position [default: guessed: rating, *Rating, score, "
            "stars, value].",
        ),
        None,
    ),
    "weight_col": (
        option(
            "--weight-col",
            "For plays, clicks or purchases instead of ratings: the column counting them, by "
            "name or position; the file then loads as interactions, which ranking models "
            "learn from [default: guessed: weight, count, plays, clicks, views, purchases, "
            "quantity; a file with no rating or weight column, only ids (and a timestamp), "
            "weighs each row 1].",
        ),
        None,
    ),
    "timestamp_col": (option("--timestamp-col", "Timestamp column [default: guessed]."), None),
    "title_col": (option("--title-col", "Item title column [default: guessed]."), None),
    "item_table": (
        option(
            "--item-table",
            "A file of the items' titles (and genres) beside the ratings, joined by item id: "
            "Last.fm's artists.dat, a shop's products.csv. Its columns are found by name (id "
            "or item, title or name, genres), else by position [default: none; a MovieLens "
            "folder has its own].",
        ),
        None,
    ),
    "sep": (
        option(
            "--sep",
            "Field separator, or 'whitespace' for runs of spaces or tabs [default: detected "
            "among '::', tab, ',', ';', '|', whitespace]. Files may be .gz, .bz2, .zst or a "
            "one-file .zip.",
        ),
        None,
    ),
    "header": (
        option(
            "--header/--no-header",
            "Whether the first line names the columns [default: detected: a first line with a "
            "number in it is data; a headerless file's columns are user, item, rating, then "
            "a date or 4th integer column as timestamp].",
            Optional[bool],
        ),
        None,
    ),
    "columns": (
        option(
            "--columns",
            "Names of the file's columns in order, e.g. user,item,rating,timestamp: for a "
            "headerless file, or with --header instead of the file's header [default: none].",
        ),
        None,
    ),
    "rating_scale": (
        option(
            "--rating-scale",
            "Declared rating range LOW HIGH: ratings outside it are an error, predictions are "
            "clipped to it [default: MovieLens's, else none].",
            Optional[tuple[float, float]],
        ),
        None,
    ),
    "valid_pct": (
        option(
            "--valid-pct",
            f"Random validation fraction (0: train on every row) [default: {DEFAULT_VALID_PCT}].",
            Optional[float],
        ),
        None,
    ),
    "split": (
        option("--split", f"Instead of --valid-pct: {SPLIT_HELP} [default: none]."),
        None,
    ),
    "valid": (
        Annotated[
            Optional[Path],
            typer.Option(
                "--valid",
                "--test",
                help="A validation (test) file with the same columns: all of --data trains; "
                "its rows with a user or item not in --data are kept and counted as cold "
                "[default: none].",
            ),
        ],
        None,
    ),
}
with_data_options = option_group("data", DataOptions, DATA_OPTIONS)

# the options that say how to read a file, for commands that take --data their own way
LAYOUT_OPTIONS = (
    "user_col",
    "item_col",
    "rating_col",
    "weight_col",
    "timestamp_col",
    "title_col",
    "item_table",
    "sep",
    "header",
    "columns",
    "rating_scale",
)
with_layout_options = option_group(
    "layout", lambda **values: values, {key: DATA_OPTIONS[key] for key in LAYOUT_OPTIONS}
)
