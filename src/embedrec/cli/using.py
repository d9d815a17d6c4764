"""Commands that use a trained model: predict, recommend, similar, explain, export. They load
it to score only (`arrays_only=True`): the weights memory-mapped, and no torch for the kinds
whose scoring is arrays. (`evaluate` loads it whole, so its figures are Python's.)"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

import embedrec
from embedrec.cli.common import (
    Force,
    JsonOut,
    ModelDir,
    app,
    check_suffix,
    emit,
    err,
    handle_errors,
    out,
    records,
    renamed_flag,
    show,
)

TopN = Annotated[int, typer.Option("-n", "--n", help="How many items.", min=1)]


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
        typer.Option(
            "--out", help="Write user,item,score,error to this CSV [default: none: to stdout]."
        ),
    ] = None,
    force: Force = False,
    as_json: JsonOut = False,
) -> None:
    """Scores for (user, item) pairs; unknown ids are reported in an `error` column."""
    if output is not None:
        embedrec.check_output(output, force)
    rec = embedrec.load(model_dir, arrays_only=True)
    scores = rec.predict(embedrec.read_pairs(pairs))
    if as_json:
        emit({"predictions": records(scores)})
    elif output is not None:
        embedrec.write_table(scores, output, force=force)
        out.print(f"wrote {len(scores):,} scores to {output}", markup=False)
    else:
        scores.to_csv(out.file, index=False)


@app.command()
@handle_errors
def recommend(
    model_dir: ModelDir,
    user: Annotated[
        Optional[str], typer.Option("--user", help="A user id from training [default: none].")
    ] = None,
    ratings: Annotated[
        Optional[str],
        typer.Option(
            "--ratings",
            help="A new user's ratings as JSON: '{\"Star Wars (1977)\": 5}' [default: none].",
        ),
    ] = None,
    ratings_file: Annotated[
        Optional[Path],
        typer.Option(
            "--ratings-file",
            help="The same as a JSON file or a CSV with item and rating [default: none].",
        ),
    ] = None,
    liked: Annotated[
        Optional[str],
        typer.Option(
            "--liked",
            help="A model trained on interactions (plays, clicks): a new user from the items "
            "they chose, ids or titles separated by commas (or a JSON list) [default: none].",
        ),
    ] = None,
    n: TopN = 10,
    include_seen: Annotated[
        bool,
        typer.Option(
            "--include-seen", help="Also rank items the user already rated [default: off]."
        ),
    ] = False,
    as_json: JsonOut = False,
) -> None:
    """Top-n items for a known user, or for a new user folded in from a few ratings (or, on a
    model trained on interactions, from the items they chose: --liked)."""
    given = [g for g in (ratings, ratings_file, liked) if g is not None]
    if (user is None) == (not given) or len(given) > 1:
        raise embedrec.DataError("give one of --user, --ratings/--ratings-file or --liked")
    rec = embedrec.load(model_dir, arrays_only=True)
    if user is not None:
        frame = rec.recommend(user, n=n, exclude_seen=not include_seen)
    elif liked is not None:
        chosen = embedrec.read_liked(liked)
        try:
            frame = rec.recommend(liked=chosen, n=n, exclude_seen=not include_seen)
        except embedrec.UnknownIdError as exc:
            if len(chosen) == 1 or liked.lstrip().startswith("["):
                raise
            raise embedrec.UnknownIdError(  # a title holding a comma was cut in two
                f"{exc}. --liked is split at commas: name a title holding one in a JSON list, "
                """--liked '["Crosby, Stills & Nash", 52]'"""
            ) from None
    else:
        new = embedrec.read_user_ratings(ratings, ratings_file)
        frame = rec.recommend(ratings=new, n=n, exclude_seen=not include_seen)
    fallback = "fallback" in frame
    frame = frame.drop(columns="fallback") if fallback else frame
    if as_json:
        emit({"user": user, "n": n, "fallback": fallback, "items": records(frame)})
        return
    if fallback:
        err.print(
            "nothing to go on for this user: the most popular items (fallback)"
            if rec.interactions
            else "no usable ratings for this user: the items typical users rate highest (fallback)"
        )
    show(frame, f"top {n} for " + (f"user {user}" if user is not None else "the new user"))


@app.command()
@handle_errors
def similar(
    model_dir: ModelDir,
    item: Annotated[Optional[str], typer.Argument(help="Item id or title.")] = None,
    user: Annotated[
        Optional[str], typer.Option("--user", help="Similar users instead [default: none: items].")
    ] = None,
    n: TopN = 10,
    min_ratings: Annotated[
        Optional[int],
        typer.Option(
            "--min-ratings",
            help="Leave out items/users with fewer training ratings (their factors are noise) "
            f"[default: {embedrec.MIN_RATINGS}, lowered where fewer than n items reach it].",
            min=0,
        ),
    ] = None,
    as_json: JsonOut = False,
) -> None:
    """The most similar items (or users) by what the model learned."""
    if (item is None) == (user is None):
        raise embedrec.DataError("give an ITEM or --user")
    rec = embedrec.load(model_dir, arrays_only=True)
    if item is not None:
        frame, name = rec.similar_items(item, n, min_ratings), item
    else:
        frame = rec.similar_users(user, n, min_ratings)
        name = f"user {user}"
    if as_json:
        emit({"item": item, "user": user, "n": n, "similar": records(frame)})
        return
    show(frame, f"most similar to {name}")


@app.command()
@handle_errors
def explain(
    model_dir: ModelDir,
    plot: Annotated[
        Optional[Path],
        typer.Option(
            "--plot",
            help="Save the PCA map of the most rated items' factors (PNG) [default: none].",
        ),
    ] = None,
    n: Annotated[int, typer.Option("-n", "--n", help="Rows per bias table.", min=1)] = 10,
    map_n: Annotated[
        int, typer.Option("--map-n", help="Items on the PCA map (as /map?n=).", min=1)
    ] = 50,
    top: Annotated[Optional[int], typer.Option("--top", hidden=True, min=1)] = None,
    n_items: Annotated[Optional[int], typer.Option("--n-items", hidden=True, min=1)] = None,
    force: Force = False,
    as_json: JsonOut = False,
) -> None:
    """Learned item and user biases (lowest and highest) and the PCA map of item factors."""
    n = renamed_flag(top, "--top", "--n", n, default=10)
    map_n = renamed_flag(n_items, "--n-items", "--map-n", map_n, default=50)
    if plot is not None:
        embedrec.check_output(plot, force)
        check_suffix(plot, ".png", "--plot")
    rec = embedrec.load(model_dir, arrays_only=True)
    payload: dict[str, Any] = {}
    try:
        for which, tables in embedrec.bias_extremes(rec, n).items():
            payload[f"{which}_bias"] = {name: records(t) for name, t in tables.items()}
            if not as_json:
                show(tables["lowest"], f"lowest {which} bias")
                show(tables["highest"], f"highest {which} bias")
    except embedrec.ModelError as exc:
        err.print(f"note: {exc}", markup=False)
    if plot is not None:
        embedrec.pca_map(rec, n=map_n, path=plot, force=force)
        payload["plot"] = str(plot)
        if not as_json:
            out.print(f"PCA map of the {map_n} most rated items saved to {plot}", markup=False)
    if as_json:
        emit(payload)


@app.command()
@handle_errors
def export(
    model_dir: ModelDir,
    output: Annotated[Path, typer.Option("--out", help="Folder (parquet, csv) or file (npz).")],
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or npz.")] = "parquet",
    force: Force = False,
    as_json: JsonOut = False,
) -> None:
    """All learned factors and biases with their ids (and titles), for use elsewhere."""
    embedrec.check_output(output, force)
    rec = embedrec.load(model_dir, arrays_only=True)
    written = [str(p) for p in embedrec.export_factors(rec, output, fmt, force=force)]
    if as_json:
        emit({"files": written})
    else:
        out.print("wrote " + ", ".join(written), markup=False)
