"""Commands about data: `synth` makes it, `data set-dir` and `data show` say where it lives."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

import embedrec
from embedrec.cli.common import Force, JsonOut, app, emit, err, handle_errors, out
from embedrec.help_text import SYNTHETIC_PRESET_NAMES


@app.command()
@handle_errors
def synth(
    output: Annotated[Path, typer.Option("--out", help="File to write (.parquet or .csv).")],
    preset: Annotated[
        str, typer.Option("--preset", help=f"One of: {', '.join(SYNTHETIC_PRESET_NAMES)}.")
    ] = "ml-25m",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generator.")] = 0,
    force: Force = False,
    as_json: JsonOut = False,
) -> None:
    """Write synthetic ratings shaped like a MovieLens release, for scale tests.

    A known low-rank model, Zipf-like item popularity, long-tailed user activity. Each row's
    `true_rating` is what that model expects, so train and benchmark print the noise floor.
    """
    started = time.perf_counter()
    path = embedrec.write_synthetic(output, preset, seed=seed, force=force)
    seconds = time.perf_counter() - started
    if as_json:
        emit({"path": str(path), "preset": preset, "seconds": seconds})
    else:
        out.print(f"wrote {preset}-shaped ratings to {path} in {seconds:.1f} s", markup=False)


data_app = typer.Typer(
    name="data",
    help="Where MovieLens data lives, for every later shell and notebook.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(data_app)


@data_app.command("set-dir")
@handle_errors
def set_dir(
    path: Annotated[Path, typer.Argument(help="The folder MovieLens folders live in.")],
    as_json: JsonOut = False,
) -> None:
    """Remember PATH as the data folder (in your config folder; EMBEDREC_DATA still wins)."""
    written = embedrec.set_data_dir(path)
    location = embedrec.data_location()
    if as_json:
        emit({"data_dir": str(location.path), "source": location.source, "config": str(written)})
        return
    out.print(f"data folder set to {path.expanduser().resolve()} (in {written})", markup=False)
    if location.source == "EMBEDREC_DATA":
        err.print(
            f"note: EMBEDREC_DATA is set in this shell and wins: {location.describe()}",
            markup=False,
            highlight=False,
        )


@data_app.command("show")
@handle_errors
def show(as_json: JsonOut = False) -> None:
    """Print the data folder in use and what decided it."""
    location = embedrec.data_location()
    if as_json:
        emit({"data_dir": str(location.path), "source": location.source})
    else:
        out.print(location.describe(), markup=False, highlight=False)
