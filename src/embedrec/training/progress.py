"""What a user sees while a model trains: a progress bar within the epoch and an epoch table
(epoch, train_loss, valid_loss, the validation metric's column, time), the same for every
engine; the metric is the kind's: `valid_rmse` for a rating model, `valid_ndcg@10` for a
ranking model. And for runs
made of several trainings (trials, folds), one line per step.

Off a terminal (a log file, CI, `nohup`) bars are noise and would leave a long run silent, so
every step is a plain line instead: a 17-minute `tune` prints a line per trial."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@dataclass
class EpochStats:
    """One epoch of the history. `metric` names the kind's validation metric and
    `valid_metric` holds its value; a rating model's RMSE is in `valid_rmse` too (where every
    rating model's reader looks), a ranking model's `valid_rmse` stays None."""

    epoch: int
    train_loss: float | None
    valid_loss: float | None
    valid_rmse: float | None
    seconds: float
    metric: str | None = None  # "rmse", "ndcg@10"
    valid_metric: float | None = None

    @classmethod
    def scored(
        cls,
        epoch: int,
        train_loss: float | None,
        valid_loss: float | None,
        metric: str,
        score: float | None,
        seconds: float,
    ) -> EpochStats:
        """An epoch validated by `metric` (`score` None: not validated)."""
        rmse = score if metric == "rmse" else None
        return cls(epoch, train_loss, valid_loss, rmse, seconds, metric, score)

    def as_dict(self) -> dict:
        return asdict(self)


class Reporter:
    """Silent by default; subclasses show progress. Engines call these hooks and nothing else."""

    def start(self, epochs: int, batches_per_epoch: int, metric: str = "valid_rmse") -> None:
        """A run of `epochs` begins; `metric`: the validation column's name."""

    def advance(self, batches: int) -> None: ...

    def end_epoch(self, stats: EpochStats) -> None: ...

    def close(self) -> None: ...

    def note(self, text: str) -> None:
        """Something the user should know about the run (printed before it starts)."""


COLUMNS = ("epoch", "train_loss", "valid_loss", "valid_rmse", "time")  # a rating model's


def table_columns(metric: str = "valid_rmse") -> list[str]:
    """The epoch table's header, the kind's validation metric in the metric's column."""
    return [metric if name == "valid_rmse" else name for name in COLUMNS]


def column_widths(columns: list[str]) -> list[int]:
    """Each column's width in the plain-text table: 12, or the name's and two spaces."""
    return [max(12, len(name) + 2) for name in columns]


def table_cells(stats: EpochStats) -> tuple[str, ...]:
    """One epoch's row of the table, as fastai prints it: losses to 6 places, time as mm:ss,
    none as '-'."""
    return (
        str(stats.epoch),
        _fmt(stats.train_loss),
        _fmt(stats.valid_loss),
        _fmt(stats.valid_metric if stats.metric else stats.valid_rmse),
        _fmt_time(stats.seconds),
    )


class RichReporter(Reporter):
    """A live progress bar per epoch and a table row as each epoch ends (to stderr by default,
    so `--json` output on stdout stays clean)."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(file=sys.stderr)
        self.progress: Progress | None = None
        self.epochs = 0
        self.widths = [12] * len(COLUMNS)

    def start(self, epochs: int, batches_per_epoch: int, metric: str = "valid_rmse") -> None:
        self.epochs, self.batches = epochs, batches_per_epoch
        columns = table_columns(metric)
        self.widths = column_widths(columns)
        self.console.print(
            "".join(f"{name:>{width}}" for name, width in zip(columns, self.widths)),
            style="bold",
        )
        self._open_bar(0)

    def _open_bar(self, epoch: int) -> None:
        if not self.console.is_terminal:  # a bar in a log file is noise; the table is enough
            return
        self.progress = Progress(
            TextColumn(f"epoch {epoch + 1}/{self.epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.task = self.progress.add_task("train", total=self.batches)
        self.progress.start()

    def advance(self, batches: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=batches)

    def end_epoch(self, stats: EpochStats) -> None:
        if self.progress is not None:
            self.progress.stop()
        cells = table_cells(stats)
        line = "".join(f"{cell:>{width}}" for cell, width in zip(cells, self.widths))
        self.console.print(line, highlight=False)
        if stats.epoch + 1 < self.epochs:
            self._open_bar(stats.epoch + 1)
        else:
            self.progress = None

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def note(self, text: str) -> None:
        self.console.print(f"note: {text}", highlight=False)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"


def _fmt_time(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes:02d}:{secs:02d}"


class StepProgress:
    """Progress over a known number of steps (tuning trials, protocol folds): a transient bar
    on a terminal, one plain line per step elsewhere. `enabled=False` shows nothing."""

    def __init__(
        self, what: str, total: int, *, enabled: bool = True, console: Console | None = None
    ):
        self.what, self.total, self.done = what, total, 0
        self.console = console or Console(file=sys.stderr)
        self.enabled = enabled
        self.bar: Progress | None = None
        if enabled and self.console.is_terminal:
            self.bar = Progress(
                TextColumn(what),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.task = self.bar.add_task(what, total=total)
            self.bar.start()

    def step(self, text: str) -> None:
        """One step done; `text` says how it went (printed as a line off a terminal)."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1)
        elif self.enabled:
            self.console.print(f"{self.what} {self.done}/{self.total}: {text}", highlight=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
