"""One process's shard of a ratings table, for a distributed run (`embedrec.distributed`).

A shard is a contiguous range of the table's rows, cut so that every process gets as many
*training* rows (within one): the random validation rows are a function of the row count, the
fraction and the seed only (`random_valid_rows`), so each process finds its range, and the
validation rows inside it, without reading anyone else's rows. The rows are the table's rows in
order, so the validation rows are exactly those `random_split` picks in one process.

How a shard is read depends on the format:
- Parquet (a file, or a directory of Parquet files read as one `pyarrow.dataset` in file-name
  order): only the row groups that overlap the range are read, from the metadata's row counts.
- Anything else (CSV/TSV, a MovieLens folder): text has no row index to seek to, so every
  process reads and validates the whole table, then keeps its range; that shards the training
  work, not the reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from embedrec.data.encode import duplicate_rows
from embedrec.data.movielens import detect_layout
from embedrec.data.ratings import IdMap, Ratings
from embedrec.errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path: Path) -> bool:
    """A Parquet file, or a directory of them that is not a MovieLens folder."""
    if path.is_file():
        return path.suffix.lower() in PARQUET_SUFFIXES
    if not path.is_dir() or _is_movielens(path):
        return False
    return any(p.suffix.lower() in PARQUET_SUFFIXES for p in path.iterdir())


def _is_movielens(path: Path) -> bool:
    try:
        detect_layout(path)
    except DataError:
        return False
    return True


def shard_range(is_valid: np.ndarray, rank: int, world: int) -> tuple[int, int]:
    """Rows [lo, hi) of process `rank` of `world`: ranges in table order, each holding an equal
    share (within one) of the rows `is_valid` leaves for training."""
    train_rows = np.flatnonzero(~is_valid)
    if len(train_rows) < world:
        rows = f"{len(train_rows)} training row{'s' if len(train_rows) != 1 else ''}"
        raise DataError(
            f"{rows} cannot be shared by {world} processes: each process trains on a share "
            "of the training rows, one at least; use fewer processes (--nproc, or torchrun's "
            "--nproc-per-node) or more data"
        )

    def start(r: int) -> int:
        return 0 if r == 0 else int(train_rows[r * len(train_rows) // world])

    return start(rank), len(is_valid) if rank == world - 1 else start(rank + 1)


@dataclass
class ParquetRows:
    """A Parquet file or directory as one table whose row ranges are read by row group."""

    path: Path
    pieces: list[ds.Fragment]  # one per row group, in table order
    offsets: np.ndarray  # row number of each piece's first row, then the total

    @classmethod
    def open(cls, path: Path) -> ParquetRows:
        try:
            files = sorted(
                p for p in ([path] if path.is_file() else path.iterdir())
                if p.suffix.lower() in PARQUET_SUFFIXES
            )  # fmt: skip
            dataset = ds.dataset([str(p) for p in files], format="parquet")
            pieces = [
                group for fragment in dataset.get_fragments()
                for group in fragment.split_by_row_group()
            ]  # fmt: skip
            counts = [sum(group.num_rows for group in piece.row_groups) for piece in pieces]
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file or directory ({exc})") from None
        return cls(path, pieces, np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]))

    @property
    def num_rows(self) -> int:
        return int(self.offsets[-1])

    def read(self, lo: int, hi: int) -> pa.Table:
        """Rows [lo, hi), reading only the row groups that hold them."""
        first = int(np.searchsorted(self.offsets, lo, side="right")) - 1
        last = int(np.searchsorted(self.offsets, hi, side="left"))
        try:
            tables = [piece.to_table() for piece in self.pieces[first:last]]
            table = pa.concat_tables(tables, promote_options="default")
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{self.path}: cannot read rows {lo}..{hi - 1} ({exc})") from None
        start = lo - int(self.offsets[first])
        return table.slice(start, hi - lo)


def union_maps(id_lists: list[tuple[np.ndarray, np.ndarray]]) -> tuple[IdMap, IdMap]:
    """The user and item maps of the whole table from each shard's (user ids, item ids):
    sorted, as `IdMap` sorts, so every process builds the same maps as one process would."""
    users = IdMap(np.concatenate([u for u, _ in id_lists]))
    items = IdMap(np.concatenate([i for _, i in id_lists]))
    return users, items


def joined(parts: list[Ratings], users: IdMap, items: IdMap, source: str) -> Ratings:
    """The shards, in order, as one `Ratings` on the shared maps: the table one process reads.
    Duplicate (user, item) rows are an error here (one process keeps the last of each, which
    would move the rows the split picks)."""
    recoded = [part.with_maps(users, items)[0] for part in parts]
    titles = None
    if any(part.titles is not None for part in parts):
        titles = np.full(len(items), "", dtype=object)
        for part in parts:
            if part.titles is not None:
                titles[items.indexer(part.item_map.ids)] = part.titles
    stamps = [part.timestamps for part in recoded if part.timestamps is not None]
    whole = Ratings(
        users=np.concatenate([part.users for part in recoded]),
        items=np.concatenate([part.items for part in recoded]),
        ratings=np.concatenate([part.ratings for part in recoded]),
        user_map=users,
        item_map=items,
        timestamps=np.concatenate(stamps) if len(stamps) == len(recoded) else None,
        titles=titles,
        rating_scale=parts[0].rating_scale,
        source=source,
        notes=list(parts[0].notes),
    )
    twice = duplicate_rows(whole.users, whole.items, len(users), len(items))
    if twice.any():
        raise duplicates_error(source, int(twice.sum()))
    return whole


def duplicates_error(source: str, count: int) -> DataError:
    return DataError(
        f"{source}: {count} duplicate (user, item) rows: a distributed run needs each pair "
        "once (drop the duplicates, or train in one process, which keeps the last of each)"
    )
