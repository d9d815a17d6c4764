"""Pictures: the PCA map of item factors as a labelled scatter plot, and the training curves
(matplotlib figures, saved as PNG or shown in a notebook)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embedrec.io import new_figure, save_figure


def pca_map_plot(
    coords: pd.DataFrame, path: str | Path, title: str | None = None, force: bool = False
) -> Path:
    """`pca_map_figure` saved as a PNG."""
    return save_figure(pca_map_figure(coords, title), path, force)


def pca_map_figure(coords: pd.DataFrame, title: str | None = None) -> Any:
    """A readable labelled scatter (a matplotlib Figure): large canvas, small labels nudged
    apart so titles of neighbouring films do not print over each other."""
    x_col, y_col = [c for c in coords.columns if c.startswith("pc")][:2]
    labels = coords["title"] if "title" in coords else coords["item"].astype(str)
    x, y = coords[x_col].to_numpy(), coords[y_col].to_numpy()
    fig = new_figure(14, 11, 110)
    ax = fig.subplots()
    ax.scatter(x, y, s=18, color="C0", alpha=0.8)
    widths = np.array([len(str(text)) for text in labels]) * 0.0058  # of the x span, at 8 pt
    for (tx, ty), px, py, text in zip(_spread(x, y, widths), x, y, labels):
        moved = abs(ty - py) > 1e-9
        ax.annotate(
            str(text),
            (px, py),
            xytext=(tx, ty),
            textcoords="data",
            fontsize=8,
            ha="center",
            va="bottom",
            arrowprops=dict(arrowstyle="-", color="0.6", lw=0.5) if moved else None,
        )
    ax.set_xlabel(f"principal component {x_col[2:]}")
    ax.set_ylabel(f"principal component {y_col[2:]}")
    ax.set_title(title or f"Item factors of the {len(coords)} most rated items (PCA)")
    ax.grid(alpha=0.2)
    fig.tight_layout()
    return fig


def loss_figure(history: pd.DataFrame, title: str | None = None) -> Any:
    """Train and valid loss against the epoch (a matplotlib Figure), as fastai's
    `learn.recorder.plot_loss()` draws them, from a frame with `epoch` and loss columns."""
    fig = new_figure(6, 4, 120)
    ax = fig.subplots()
    epochs = history["epoch"].to_numpy()  # numbered as the epoch table numbers them
    for column in ("train_loss", "valid_loss"):
        losses = history[column].to_numpy(dtype=float)
        # the epochs that have one: bmf validates about every tenth sweep, and the gaps
        # between would cut its curve into unconnected dots
        shown = np.isfinite(losses)
        style = "o-" if shown.sum() <= 30 else "-"  # 200 bmf sweeps: a line, not 200 dots
        if shown.any():
            ax.plot(epochs[shown], losses[shown], style, label=column.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.xaxis.get_major_locator().set_params(integer=True)  # whole epochs, a readable few
    ax.legend()
    ax.set_title(title or "Training curves")
    ax.grid(alpha=0.2)
    fig.tight_layout()
    return fig


def _spread(x: np.ndarray, y: np.ndarray, widths: np.ndarray, rounds: int = 100) -> np.ndarray:
    """Label positions pushed apart vertically where labels would overlap (pairwise repulsion
    in axis-scaled units, each label as wide as its text); points stay where they are."""
    span = np.array([np.ptp(x) or 1.0, np.ptp(y) or 1.0])
    pos = np.stack([x, y], axis=1) / span
    min_dx = (widths[:, None] + widths[None, :]) / 2
    min_dy = 0.025  # about one label's height
    for _ in range(rounds):
        dx = pos[:, None, 0] - pos[None, :, 0]
        dy = pos[:, None, 1] - pos[None, :, 1]
        overlap = (np.abs(dx) < min_dx) & (np.abs(dy) < min_dy)
        np.fill_diagonal(overlap, False)
        if not overlap.any():
            break
        push = np.where(overlap, np.sign(dy + 1e-9) * (min_dy - np.abs(dy)) / 2, 0).sum(1)
        pos[:, 1] += push
    return pos * span
