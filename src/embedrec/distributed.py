"""`train_distributed`: this process's part of a torchrun training run (see
`training/distributed.py` for the process group and DistributedDataParallel).

The run, rank by rank:
1. Shards (`data/shards.py`): each rank holds a contiguous range of the table's rows with an
   equal share of the training rows. Parquet: each rank reads only the row groups of its range
   and validates only its rows; text and MovieLens: each rank reads the whole table, keeps its
   range.
2. Id maps, agreed before any embedding is built: each rank sends the distinct user and item
   ids of its rows (`all_gather`), and every rank sorts their union the same way. That reads
   nothing beyond the shard, costs one message the size of the distinct ids, and gives the
   maps one process builds (sorted ids), so indices, initial weights and the saved model match
   a one-process run's. (Scanning the id columns of the whole table on every rank would read
   two thirds of the data again on each.)
3. The validation split is `random_split`'s, computed by every rank from the row count, the
   fraction and the seed, so it is identical on every rank and to one process's with the same
   seed: the RMSE comparison is fair. Only this random split is offered (`--valid-pct`,
   `--split random:PCT:SEED`); temporal splits, folds and `--valid` files are refused.
4. Rank 0 sets up the run as `embedrec.train` does (`learner.start`): the model built with the
   seed, the bias baseline, counts and seen items of the whole training side, which the model
   directory stores; for Parquet it gathers the other ranks' validated rows to do so. It sends
   the untrained model to the others, validates after each epoch, reports progress and, after
   training, adds the ranker; the CLI then saves on rank 0 only, through `io`'s atomic save.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedrec.config import TrainConfig
from embedrec.data import load_ratings, movielens_folder
from embedrec.data.files import Where
from embedrec.data.item_table import read_item_table, split_with_item_table
from embedrec.data.movielens import is_movielens_name
from embedrec.data.ratings import Ratings
from embedrec.data.shards import (
    ParquetRows,
    duplicates_error,
    is_parquet,
    joined,
    shard_range,
    union_maps,
)
from embedrec.data.splits import Split, random_split, random_valid_rows
from embedrec.data.validate import ratings_from_frame
from embedrec.errors import DataError
from embedrec.learner import Run, finish, start
from embedrec.recommender import Recommender
from embedrec.training.distributed import (
    DataParallelEngine,
    World,
    agree,
    all_gather,
    check_config,
    from_leader,
    gather_to_leader,
    process_group,
)
from embedrec.training.engines import Engine
from embedrec.training.loop import EpochLoop

FILE_ONLY = ("sep", "header", "columns")  # reader options Parquet has no use for


@dataclass
class Shard:
    """This rank's training rows (on the shared id maps) and, on rank 0, how to make the whole
    split (run inside `from_leader`, so that its errors reach every rank)."""

    train: Ratings
    whole_split: Callable[[], Split] | None


def load_shard(
    data: str | Path,
    world: World,
    *,
    valid_pct: float = 0.2,
    seed: int = 42,
    data_dir: str | Path | None = None,
    **columns: Any,
) -> Shard:
    """This rank's shard of `data` (a Parquet file or directory, a text file, a MovieLens
    name or folder); every rank must call it. See the module docstring."""
    path = Path(data).expanduser()
    if is_parquet(path):
        return _parquet_shard(path, world, valid_pct, seed, columns)
    if is_movielens_name(str(data)) and not path.exists():
        from_leader(world, lambda: movielens_folder(str(data), data_dir))  # one download

    def read() -> tuple[Ratings, np.ndarray, tuple[int, int]]:
        ratings = load_ratings(data, data_dir=data_dir, **columns)
        is_valid = random_valid_rows(len(ratings), valid_pct, seed)
        return ratings, is_valid, shard_range(is_valid, world.rank, world.size)

    ratings, is_valid, (lo, hi) = agree(world, read)
    rows = lo + np.flatnonzero(~is_valid[lo:hi])
    split = (lambda: random_split(ratings, valid_pct, seed)) if world.leader else None
    return Shard(ratings.subset(rows), split)


def _parquet_shard(
    path: Path, world: World, valid_pct: float, seed: int, columns: dict[str, Any]
) -> Shard:
    options = {k: v for k, v in columns.items() if k not in FILE_ONLY}

    def read() -> tuple[Ratings, np.ndarray]:
        table = ParquetRows.open(path)
        if table.num_rows == 0:
            raise DataError(f"{path}: no ratings (no rows)")
        is_valid = random_valid_rows(table.num_rows, valid_pct, seed)
        lo, hi = shard_range(is_valid, world.rank, world.size)
        where = Where(str(path), first_row=lo)
        part = ratings_from_frame(table.read(lo, hi), where=where, **options)
        if len(part) != hi - lo:
            raise duplicates_error(f"{path} rows {lo}..{hi - 1}", hi - lo - len(part))
        return part, is_valid[lo:hi]

    part, is_valid = agree(world, read)
    users, items = union_maps(all_gather(world, (part.user_map.ids, part.item_map.ids)))
    parts = gather_to_leader(world, part)
    train = part.subset(~is_valid).with_maps(users, items)[0]
    if parts is None:
        return Shard(train, None)
    gathered = parts

    def whole_split() -> Split:
        return random_split(joined(gathered, users, items, str(path)), valid_pct, seed)

    return Shard(train, whole_split)


def train_distributed(
    data: str | Path,
    config: TrainConfig,
    world: World,
    *,
    valid_pct: float = 0.2,
    seed: int | None = None,
    progress: bool = True,
    data_dir: str | Path | None = None,
    **columns: Any,
) -> tuple[Recommender, Split] | None:
    """This rank's part of a distributed run, started by torchrun on every rank (`World.from_env`);
    rank 0 gets the trained Recommender and the split, the others None.

    >>> config = TrainConfig(model="dot-bias")
    >>> trained = train_distributed("r.parquet", config, World.from_env())  # doctest: +SKIP
    """
    check_config(config, world)
    seed = config.seed if seed is None else seed
    items = columns.pop("item_table", None)  # names items for rank 0's model only
    table = None if items is None else read_item_table(items)
    with process_group(world):
        shard = load_shard(
            data, world, valid_pct=valid_pct, seed=seed, data_dir=data_dir, **columns
        )
        leader: list[tuple[Run, Split]] = []

        def set_up() -> tuple[Any, ...]:
            assert shard.whole_split is not None
            split = shard.whole_split()
            split = split if table is None else split_with_item_table(split, table)
            run = start(split, config, progress=progress)
            leader.append((run, split))
            m = run.rec.model
            return type(m), m.n_users, m.n_items, m.config(), m.arrays(), run.config

        kind, n_users, n_items, options, arrays, resolved = from_leader(world, set_up)
        if leader:
            run, split = leader[0]
            model = run.rec.model
            loop = EpochLoop(
                run.validate,
                run.reporter,
                keep_best=resolved.keep == "best",
                metric=model.validation_metric(),
            )
        else:
            model = kind.from_state(n_users, n_items, options, arrays)
            loop = EpochLoop()
        engine: Engine = DataParallelEngine(world)
        history = engine.fit(model, shard.train, resolved, loop)
    if not leader:
        return None
    return finish(run, history, engine.name, loop.best or model), split
