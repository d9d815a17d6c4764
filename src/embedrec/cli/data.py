"""Commands that make data: synth."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

import embedrec
from embedrec.cli.common import Force, JsonOut, app, emit, handle_errors, out


@app.command()
@handle_errors
def synth(
    output: Annotated[Path, typer.Option("--out", help="File to write (.parquet or .csv).")],
    preset: Annotated[
        str, typer.Option("--preset", help=f"One of: {', '.join(embedrec.SYNTHETIC_PRESETS)}.")
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
