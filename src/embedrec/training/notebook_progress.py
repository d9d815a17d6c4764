"""The epoch table in a Jupyter notebook, as fastai's `fit` shows it: one HTML output that
grows a row per epoch, under a progress bar for the epoch under way, updated in place.

Rich's console prints each row as an output of its own in a notebook, with its terminal styling
in the text; here the cell keeps one table, with the terminal table's columns and cells
(`table_columns`, `table_cells`). `live_reporter()` is what `train(progress=True)`
uses: this table in a notebook, rich's bar and table elsewhere.
"""

from __future__ import annotations

import sys
import time

from embedrec.notebook import LiveHTML, html_table, in_notebook
from embedrec.training.progress import (
    EpochStats,
    Reporter,
    RichReporter,
    column_widths,
    table_cells,
    table_columns,
)
from embedrec.training.progress import _fmt_time as clock  # the terminal table's mm:ss

REFRESH_SECONDS = 0.25  # at most this often the bar is redrawn (each redraw is a message)


def live_reporter() -> Reporter:
    """The progress a user asked for: the notebook table in Jupyter, rich's elsewhere."""
    return NotebookReporter() if in_notebook() else RichReporter()


class NotebookReporter(Reporter):
    """One live output per training run: a bar (epoch, batches, elapsed and left) above the
    table of the epochs done."""

    def __init__(self) -> None:
        self.header = table_columns()
        self.rows: list[tuple[str, ...]] = []
        self.output: LiveHTML | None = None

    def start(self, epochs: int, batches_per_epoch: int, metric: str = "valid_rmse") -> None:
        self.epochs, self.batches = epochs, batches_per_epoch
        self.header = table_columns(metric)
        self.rows, self.done, self.epoch = [], 0, 0
        self.began = self.drawn = time.monotonic()
        self.output = LiveHTML(self.markup(), self.text())

    def advance(self, batches: int) -> None:
        self.done += batches
        now = time.monotonic()
        if self.output is not None and now - self.drawn >= REFRESH_SECONDS:
            self.drawn = now
            self.output.update(self.markup(), self.text())

    def end_epoch(self, stats: EpochStats) -> None:
        self.rows.append(table_cells(stats))
        self.epoch, self.done = stats.epoch + 1, 0
        self.began = self.drawn = time.monotonic()
        if self.output is not None:
            self.output.update(self.markup(), self.text())

    def close(self) -> None:
        if self.output is not None:
            self.output.update(self.markup(), self.text())
            self.output = None

    def note(self, text: str) -> None:
        print(f"note: {text}", file=sys.stderr)

    def markup(self) -> str:
        """The bar (while epochs remain) and the table, as HTML."""
        parts = []
        if self.epoch < self.epochs:
            elapsed = time.monotonic() - self.began
            left = elapsed / self.done * (self.batches - self.done) if self.done else 0.0
            parts.append(
                f'<div><progress value="{self.done}" max="{self.batches}" '
                'style="width:300px;height:10px;vertical-align:middle"></progress> '
                f"epoch {self.epoch + 1}/{self.epochs}, {self.done}/{self.batches} batches "
                f"[{clock(elapsed)}&lt;{clock(left)}]</div>"
            )
        if self.rows:
            parts.append(html_table(self.rows, self.header))
        return "".join(parts)

    def text(self) -> str:
        """The table as plain text, as the terminal prints it."""
        if not self.rows:
            return f"epoch {self.epoch + 1}/{self.epochs}"
        widths = column_widths(self.header)  # as the terminal's
        lines = [self.header, *self.rows]
        return "\n".join("".join(f"{c:>{w}}" for c, w in zip(line, widths)) for line in lines)
