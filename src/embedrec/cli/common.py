"""What every command shares: the app, the consoles, a few one-flag options, error handling and
JSON output. The option groups are in `options` (data and split) and `model_options`.

Every command is a thin face over the public API (`import embedrec`): it parses, calls one or
two library functions, and prints.
"""

from __future__ import annotations

import functools
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional, TypeVar

import typer
from rich.console import Console
from rich.table import Table

import embedrec

if TYPE_CHECKING:
    import pandas as pd

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
T = TypeVar("T")

JsonOut = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout [default: off].")
]
Force = Annotated[
    bool,
    typer.Option(
        "--force", help="Replace an existing output, never a non-model folder [default: off]."
    ),
]
ModelDir = Annotated[Path, typer.Argument(help="A model directory written by train.")]
SEED = embedrec.declared_settings()["seed"]  # the setting (TrainConfig.seed), declared once
Seed = Annotated[
    Optional[int], typer.Option(SEED.flag, help=f"{SEED.text} [default: {SEED.said()}].")
]


def handle_errors(command: F) -> F:
    """Turn embedrec's own errors into one clear line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", embedrec.EmbedrecWarning)
                warnings.showwarning = _warning_line
                return command(*args, **kwargs)
        except embedrec.EmbedrecError as exc:
            if not exc.reported:  # else said once, by another process of the run
                err.print(f"error: {exc}", highlight=False, markup=False)
            raise typer.Exit(2) from None
        except MemoryError:
            _out_of_memory()
        except RuntimeError as exc:  # torch's allocators fail with a RuntimeError
            if not any(text in str(exc).lower() for text in ALLOCATION_FAILED):
                raise
            _out_of_memory()
        except KeyboardInterrupt:
            err.print("error: interrupted (Ctrl-C)", highlight=False)
            raise typer.Exit(INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


# what torch's CPU and CUDA allocators say when memory runs out
ALLOCATION_FAILED = ("can't allocate memory", "out of memory", "cannot allocate memory")
INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C (128 + SIGINT)


def _out_of_memory() -> NoReturn:
    err.print(
        "error: out of memory: the model or data is too large for this machine "
        "(fewer --n-factors, a smaller --bs or a smaller model kind)",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(2) from None


def _warning_line(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    """A warning as one `warning:` line on stderr (no source line, no module path)."""
    err.print(f"warning: {message}", highlight=False, markup=False)


def check_suffix(path: Path, suffix: str, option: str) -> None:
    """An output whose name says another format than the one written (map.txt holding a PNG)
    is refused, naming the option."""
    if path.suffix.lower() != suffix:
        raise embedrec.DataError(
            f"{option} {path}: writes {suffix[1:].upper()}; give a name ending in {suffix}"
        )


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
    """A DataFrame as a rich table on stdout; a title column is left out where the model has
    no titles (a column of None says nothing)."""
    if "title" in frame and (frame["title"].isna() | frame["title"].eq("")).all():
        frame = frame.drop(columns="title")
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(str(column), justify="right" if column != "title" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row])
    out.print(table)


def note(text: str) -> None:
    err.print(f"note: {text}", highlight=False, markup=False)


def renamed_flag(old_value: T | None, old: str, new: str, value: T, default: T | None = None) -> T:
    """`value`, or the one given by `old`, a flag renamed `new` (said once as a note, so a
    script keeps working and learns the new spelling); both typed, at different values (`value`
    not its `default`), is an error naming both."""
    if old_value is None:
        return value
    if value != default and value != old_value:
        raise typer.BadParameter(
            f"{new} {value} and {old} {old_value} are one option ({old} is its old name): "
            f"give {new} only"
        )
    note(f"{old} is renamed {new}; {old} still works for now and will be removed")
    return old_value
