"""Commands that use a trained model: predict, recommend, similar, explain, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from embedrec.cli.common import JsonOut, app, emit, err, handle_errors, out
from embedrec.data.files import guess_column, read_table
from embedrec.errors import DataError, ModelError
from embedrec.interpret import MIN_RATINGS
from embedrec.recommender import Recommender

ModelDir = Annotated[Path, typer.Argument(help="A model directory written by train.")]
TopN = Annotated[int, typer.Option("-n", "--n", help="How many items.")]


def show(frame: pd.DataFrame, title: str | None = None, digits: int = 3) -> None:
    """A DataFrame as a rich table on stdout."""
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(str(column), justify="right" if column != "title" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row])
    out.print(table)


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: numpy scalars to Python, NaN titles to null."""
    frame = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


@app.command()
@handle_errors
def predict(
    model_dir: ModelDir,
    pairs: Annotated[
        Path,
        typer.Option("--pairs", help="CSV/TSV/Parquet with user and item columns (header row)."),
    ],
    output: Annotated[
        Optional[Path],
        typer.Option("--out", help="Write user,item,score to this CSV instead of stdout."),
    ] = None,
    as_json: JsonOut = False,
):
    """Scores for (user, item) pairs; unknown ids are reported in an `error` column."""
    rec = Recommender.load(model_dir)
    frame, _ = read_table(pairs)
    columns = [str(c) for c in frame.columns]
    user_col, item_col = guess_column(columns, "user"), guess_column(columns, "item")
    if user_col is None or item_col is None:
        raise DataError(
            f"{pairs}: needs a user and an item column; columns are: {', '.join(columns)}"
        )
    scores = rec.predict(frame[[user_col, item_col]].set_axis(["user", "item"], axis=1))
    if as_json:
        emit(True, {"predictions": records(scores)})
    elif output is not None:
        if output.exists():
            raise DataError(f"{output} already exists; choose another --out")
        scores.to_csv(output, index=False)
        out.print(f"wrote {len(scores):,} scores to {output}")
    else:
        scores.to_csv(out.file, index=False)


def _read_ratings_arg(text: str | None, file: Path | None) -> dict | None:
    if text is None and file is None:
        return None
    if file is not None:
        if not file.is_file():
            raise DataError(f"{file}: no such file")
        if file.suffix.lower() == ".json":
            text = file.read_text()
        else:
            frame, _ = read_table(file)
            columns = [str(c) for c in frame.columns]
            item, rating = (
                guess_column(columns, "item") or guess_column(columns, "title"),
                guess_column(columns, "rating"),
            )
            if item is None or rating is None:
                raise DataError(f"{file}: needs an item (or title) and a rating column")
            return dict(zip(frame[item].tolist(), frame[rating].astype(float).tolist()))
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"--ratings is not JSON ({exc}); write it like '{{\"Star Wars (1977)\": 5}}'"
        ) from None
    if not isinstance(value, dict):
        raise DataError("--ratings takes a JSON object: {item id or title: rating, ...}")
    return value


@app.command()
@handle_errors
def recommend(
    model_dir: ModelDir,
    user: Annotated[Optional[str], typer.Option("--user", help="A user id from training.")] = None,
    ratings: Annotated[
        Optional[str],
        typer.Option(
            "--ratings", help="A new user's ratings as JSON: '{\"Star Wars (1977)\": 5}'."
        ),
    ] = None,
    ratings_file: Annotated[
        Optional[Path],
        typer.Option(
            "--ratings-file", help="The same as a JSON file or a CSV with item and rating."
        ),
    ] = None,
    n: TopN = 10,
    include_seen: Annotated[
        bool, typer.Option("--include-seen", help="Also rank items the user already rated.")
    ] = False,
    as_json: JsonOut = False,
):
    """Top-n items for a known user, or for a new user folded in from a few ratings."""
    rec = Recommender.load(model_dir)
    given = _read_ratings_arg(ratings, ratings_file)
    if (user is None) == (given is None):
        raise DataError("give either --user or --ratings/--ratings-file")
    if user is not None:
        frame = rec.recommend(user, n=n, exclude_seen=not include_seen)
    else:
        frame = rec.recommend_for_ratings(given, n=n)
    if as_json:
        emit(True, records(frame))
        return
    if "fallback" in frame:
        err.print("no usable ratings for this user: ranked by learned item bias (fallback)")
        frame = frame.drop(columns="fallback")
    show(frame, f"top {n} for " + (f"user {user}" if user is not None else "the new user"))


@app.command()
@handle_errors
def similar(
    model_dir: ModelDir,
    item: Annotated[Optional[str], typer.Argument(help="Item id or title.")] = None,
    user: Annotated[Optional[str], typer.Option("--user", help="Similar users instead.")] = None,
    n: TopN = 10,
    min_ratings: Annotated[
        int,
        typer.Option(
            "--min-ratings",
            help="Leave out items/users with fewer training ratings (their factors are noise).",
        ),
    ] = MIN_RATINGS,
    as_json: JsonOut = False,
):
    """The most cosine-similar items (or users) by learned factors."""
    rec = Recommender.load(model_dir)
    if (item is None) == (user is None):
        raise DataError("give an ITEM or --user")
    if item is not None:
        frame, name = rec.similar_items(item, n, min_ratings), item
    else:
        frame, name = rec.similar_users(user, n, min_ratings), f"user {user}"
    if as_json:
        emit(True, records(frame.drop(columns="n_ratings")))
        return
    show(frame, f"most similar to {name}")


@app.command()
@handle_errors
def explain(
    model_dir: ModelDir,
    plot: Annotated[
        Optional[Path],
        typer.Option("--plot", help="Save the PCA map of the most rated items' factors (PNG)."),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Rows per bias table.")] = 10,
    n_items: Annotated[int, typer.Option("--n-items", help="Items on the PCA map.")] = 50,
    as_json: JsonOut = False,
):
    """Learned item and user biases (lowest and highest) and the PCA map of item factors."""
    rec = Recommender.load(model_dir)
    payload: dict = {}
    try:
        for which, table in (("item", rec.item_bias()), ("user", rec.user_bias())):
            keep = [c for c in (which, "title", "bias", "n_ratings") if c in table]
            lowest = table[keep].tail(top).iloc[::-1]
            highest = table[keep].head(top)
            payload[f"{which}_bias"] = {"lowest": records(lowest), "highest": records(highest)}
            if not as_json:
                show(lowest, f"lowest {which} bias")
                show(highest, f"highest {which} bias")
    except ModelError as exc:
        err.print(f"note: {exc}")
    if plot is not None:
        rec.pca_map(n_items=n_items, path=plot)
        payload["plot"] = str(plot)
        if not as_json:
            out.print(f"PCA map of the {n_items} most rated items saved to {plot}")
    emit(as_json, payload)


@app.command()
@handle_errors
def export(
    model_dir: ModelDir,
    output: Annotated[Path, typer.Option("--out", help="Folder (parquet, csv) or file (npz).")],
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or npz.")] = "parquet",
    as_json: JsonOut = False,
):
    """All learned factors and biases with their ids (and titles), for use elsewhere."""
    if fmt not in ("parquet", "csv", "npz"):
        raise DataError(f"--format must be parquet, csv or npz, not {fmt!r}")
    if output.exists():
        raise DataError(f"{output} already exists; choose another --out")
    if fmt == "npz" and output.suffix != ".npz":
        raise DataError("--format npz writes one file: give --out a name ending in .npz")
    rec = Recommender.load(model_dir)
    tables = {"items": rec.item_factors(), "users": rec.user_factors()}
    try:
        for which, name in (("item", "items"), ("user", "users")):
            bias = rec.item_bias() if which == "item" else rec.user_bias()
            tables[name] = tables[name].merge(bias[[which, "bias"]], on=which, how="left")
    except ModelError:
        pass  # models without biases export factors only
    written = []
    if fmt == "npz":
        arrays = {}
        for name, table in tables.items():
            factor_cols = [c for c in table.columns if c.startswith("f") and c[1:].isdigit()]
            key = name[:-1]
            arrays[f"{key}_ids"] = table[key].to_numpy()
            arrays[f"{key}_factors"] = table[factor_cols].to_numpy(np.float32)
            if "bias" in table:
                arrays[f"{key}_bias"] = table["bias"].to_numpy(np.float32)
            if "title" in table:
                arrays[f"{key}_titles"] = table["title"].astype(str).to_numpy()
        np.savez(
            output, **{k: (v.astype(str) if v.dtype == object else v) for k, v in arrays.items()}
        )
        written.append(str(output))
    else:
        output.mkdir(parents=True)
        for name, table in tables.items():
            path = output / f"{name}.{fmt}"
            table.to_parquet(path, index=False) if fmt == "parquet" else table.to_csv(
                path, index=False
            )
            written.append(str(path))
    if as_json:
        emit(True, {"files": written})
    else:
        out.print("wrote " + ", ".join(written))
