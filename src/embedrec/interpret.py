"""What a trained model has learned, in the chapter's terms: tables of biases and factors, the
extremes the chapter looks at, a PCA map of item factors, the training curves, and an export of
everything learned.
Functions of a `Recommender`; the pictures come from `embedrec.plots`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embedrec.errors import ModelError
from embedrec.io import atomic_dir, atomic_file, png_bytes, save_figure
from embedrec.notebook import in_notebook, show_png
from embedrec.plots import loss_figure, pca_map_figure, pca_map_plot
from embedrec.recommender import Recommender
from embedrec.renamed import renamed_keyword

EXPORT_FORMATS = ("parquet", "csv", "npz")


def bias_table(rec: Recommender, is_item: bool = True) -> pd.DataFrame:
    """Learned biases of every trained item (or user), highest first: the chapter's films
    "liked beyond their factors" at the top. `bias` is the learned parameter (fastai's
    `model.bias`); `rating` says it in stars: the mean rating the model predicts for the item
    over typical users (for a user, over typical items)."""
    counts = rec.item_counts if is_item else rec.user_counts
    trained = np.flatnonzero(counts > 0)
    frame = rec.describe(trained, is_item)
    frame.insert(len(frame.columns) - 1, "bias", rec.bias(None, is_item)[trained])
    frame.insert(len(frame.columns) - 1, "rating", rec.typical_ratings(is_item)[trained])
    return frame.sort_values("bias", ascending=False, kind="stable").reset_index(drop=True)


def bias_extremes(
    rec: Recommender, n: int = 10, *, top: int | None = None
) -> dict[str, dict[str, pd.DataFrame]]:
    """The `n` lowest and highest biases of items and of users (what `explain` shows); `top=`
    is the old spelling of `n=`."""
    n = renamed_keyword("bias_extremes", "top", "n", top, n, default=10)
    if n < 1:
        raise ModelError(f"n must be at least 1, got {n}")
    result = {}
    for which, is_item in (("item", True), ("user", False)):
        table = bias_table(rec, is_item)
        result[which] = {
            "lowest": table.tail(n).iloc[::-1].reset_index(drop=True),
            "highest": table.head(n),
        }
    return result


def factor_frame(rec: Recommender, is_item: bool = True) -> pd.DataFrame:
    """All learned factors, one row per item (or user), columns f0..f{k-1}."""
    weights = rec.weight(None, is_item)
    frame = rec.describe(np.arange(len(weights)), is_item)
    factors = pd.DataFrame(weights, columns=[f"f{i}" for i in range(weights.shape[1])])
    return pd.concat([frame, factors], axis=1)


def pca_coordinates(
    rec: Recommender, n: int = 50, components: tuple[int, int] = (0, 1), pool: int = 1000
) -> pd.DataFrame:
    """Item factors projected on principal components: the axes are fitted on the `pool` most
    rated items (as the chapter does with 1,000), the `n` most rated are returned."""
    if n < 1:
        raise ModelError(f"n must be at least 1, got {n}")
    weights = rec.weight(None, True).astype(np.float64)
    most_rated = np.argsort(-rec.item_counts, kind="stable")
    fit_on = most_rated[:pool]
    centre = weights[fit_on].mean(0)
    _, _, axes = np.linalg.svd(weights[fit_on] - centre, full_matrices=False)
    if max(components) >= len(axes):
        raise ModelError(f"the model has only {len(axes)} principal components")
    shown = most_rated[:n]
    coords = (weights[shown] - centre) @ axes[list(components)].T
    frame = rec.describe(shown, True)
    frame[f"pc{components[0] + 1}"] = coords[:, 0]
    frame[f"pc{components[1] + 1}"] = coords[:, 1]
    return frame


def pca_map(
    rec: Recommender,
    n: int = 50,
    components: tuple[int, int] = (0, 1),
    path: str | Path | None = None,
    force: bool = False,
    show: bool | None = None,
    *,
    n_items: int | None = None,
) -> pd.DataFrame:
    """`pca_coordinates`, drawn as a labelled scatter plot: saved as a PNG at `path`, shown
    in the cell's output in a notebook (`show=None`: where no path is given; True or False
    decides; outside a notebook nothing is shown). The figure itself, for a script, is
    `embedrec.plots.pca_map_figure(coords)`. `n_items=` is the old spelling of `n=`.

    >>> coords = pca_map(rec)  # in Jupyter: the map, then its coordinates  # doctest: +SKIP
    """
    n = renamed_keyword("pca_map", "n_items", "n", n_items, n, default=50)
    coords = pca_coordinates(rec, n, components)
    if path is not None:
        pca_map_plot(coords, path, force=force)
    if in_notebook() and (path is None if show is None else show):
        show_png(png_bytes(pca_map_figure(coords)))
    return coords


def plot_loss(
    rec: Recommender, path: str | Path | None = None, force: bool = False, show: bool | None = None
) -> pd.DataFrame:
    """The loss of each epoch (fastai's `learn.recorder.plot_loss()`), drawn as curves: saved
    as a PNG at `path`, shown in the cell's output in a notebook (as `pca_map`). Returns the
    epochs' table; the figure itself is `embedrec.plots.loss_figure(table)`.

    >>> embedrec.plot_loss(rec)  # in Jupyter: the curves, then the table  # doctest: +SKIP
    """
    columns = ["epoch", "train_loss", "valid_loss"]
    table = pd.DataFrame([[getattr(h, c) for c in columns] for h in rec.history], columns=columns)
    if not len(table):
        raise ModelError(f"this {rec.model_name} model holds no epoch history to plot")
    if table[columns[1:]].isna().all(axis=None):
        raise ModelError(
            f"this {rec.model_name} model recorded no loss to plot: it is fitted in one solve, "
            "not epoch by epoch (dot, dot-bias, nn, bmf, your own module are)"
        )
    if path is not None:
        save_figure(loss_figure(table), path, force)
    if in_notebook() and (path is None if show is None else show):
        show_png(png_bytes(loss_figure(table)))
    return table


def learned_tables(rec: Recommender) -> dict[str, pd.DataFrame]:
    """Factors (and biases, where the model has them) of every item and user, with ids."""
    tables = {}
    for name, is_item in (("items", True), ("users", False)):
        table = factor_frame(rec, is_item)
        biases = rec.model.biases("item" if is_item else "user")
        if biases is not None:
            table["bias"] = biases
        tables[name] = table
    return tables


def export_factors(
    rec: Recommender, path: str | Path, fmt: str = "parquet", force: bool = False
) -> list[Path]:
    """Write everything learned for use elsewhere: a folder of `items` and `users` tables
    (parquet or csv), or one `.npz` file of arrays. Returns the files written."""
    if fmt not in EXPORT_FORMATS:
        raise ModelError(f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    path = Path(path)
    if fmt == "npz" and path.suffix != ".npz":
        raise ModelError("the npz format writes one file: give a path ending in .npz")
    named = path.suffix.lower().lstrip(".")
    if fmt != "npz" and named in EXPORT_FORMATS:  # `--out factors.csv` with parquet: a slip
        raise ModelError(
            f"{path}: the {fmt} format writes a folder of {fmt} files (items.{fmt}, "
            f"users.{fmt}), not a .{named} file; give a folder name"
            + ("" if named == fmt else f", or the format {named} (--format {named})")
        )
    tables = learned_tables(rec)
    if fmt == "npz":
        arrays: dict[str, Any] = {}
        for name, table in tables.items():
            key = name[:-1]
            factor_cols = [c for c in table.columns if c.startswith("f") and c[1:].isdigit()]
            arrays[f"{key}_ids"] = table[key].to_numpy()
            arrays[f"{key}_factors"] = table[factor_cols].to_numpy(np.float32)
            if "bias" in table:
                arrays[f"{key}_bias"] = table["bias"].to_numpy(np.float32)
            if "title" in table:
                arrays[f"{key}_titles"] = table["title"].astype(str).to_numpy()
        arrays = {k: (v.astype(str) if v.dtype == object else v) for k, v in arrays.items()}
        with atomic_file(path, force) as partial, open(partial, "wb") as handle:
            np.savez(handle, **arrays)
        return [path]
    with atomic_dir(path, force) as staging:
        for name, table in tables.items():
            target = staging / f"{name}.{fmt}"
            if fmt == "parquet":
                table.to_parquet(target, index=False)
            else:
                table.to_csv(target, index=False)
    return [path / f"{name}.{fmt}" for name in tables]
