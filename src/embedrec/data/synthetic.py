"""Synthetic explicit ratings shaped like MovieLens, from a known low-rank model.

Scale can only be tested here on data of the right shape: Zipf-like item popularity (a few
blockbusters, a long tail), a long tail of user activity (every user has at least 20 ratings, a
few have thousands), and ratings from biases + a rank-k dot product + noise, rounded to the
release's star steps. The `ml-25m` preset matches MovieLens 25M's counts exactly.

The `sparse` preset is the other kind of data MovieLens hides (every MovieLens user has at
least 20 ratings): tens of thousands of users and items, most users with one to four ratings,
so that a random split leaves many validation rows with a user or item training never saw.

The generator knows its own noise, so accuracy at scale is measured against it, not guessed:
every row also carries `true_rating`, the rating the generating model expects for the pair
(the mean of the rounded, clipped `score + noise`, computed exactly from the normal noise). Its
RMSE against `rating` on a split's validation rows is the *noise floor*, the lowest RMSE any
model can expect there; `embedrec train` and `embedrec benchmark` print it beside the valid
RMSE (`true_ratings` finds it). The Parquet file's schema metadata holds the generator's
settings under `embedrec.synthetic` (preset, seed, rank, noise sd).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from embedrec.data.files import Table, column_names, column_values, read_table
from embedrec.data.parquet import ParquetColumns
from embedrec.data.ratings import Ratings
from embedrec.errors import DataError
from embedrec.io import atomic_file, check_output

TRUE_RATING = "true_rating"  # the column with each row's expected rating under the true model
METADATA_KEY = b"embedrec.synthetic"
RANK, NOISE = 16, 0.8  # the generating model's rank and noise sd
USER_BIAS_SD, ITEM_BIAS_SD = 0.4, 0.5  # its biases' spread (items' plus a popularity term)


@dataclass(frozen=True)
class Preset:
    n_users: int
    n_items: int
    n_ratings: int
    rating_scale: tuple[float, float]
    step: float  # 0.5 for half stars
    min_per_user: int = 20  # MovieLens keeps users with at least 20 ratings
    activity_spread: float = 1.3  # sigma of the log-normal tail of ratings per user


PRESETS = {
    "ml-100k": Preset(943, 1_682, 100_000, (1.0, 5.0), 1.0),
    "ml-1m": Preset(6_040, 3_706, 1_000_209, (1.0, 5.0), 1.0),
    "ml-10m": Preset(69_878, 10_677, 10_000_054, (0.5, 5.0), 0.5),
    "ml-20m": Preset(138_493, 26_744, 20_000_263, (0.5, 5.0), 0.5),
    "ml-25m": Preset(162_541, 59_047, 25_000_095, (0.5, 5.0), 0.5),
    "sparse": Preset(40_000, 30_000, 100_000, (1.0, 5.0), 1.0, min_per_user=1, activity_spread=1.3),
}


@dataclass(frozen=True)
class GeneratingModel:
    """The model a synthetic set was drawn from, row r of each array being the user (item) whose
    file id is `user_ids[r]` (`item_ids[r]`): rating = clip(round(mean + user_bias + item_bias
    + user_factors . item_factors + Normal(0, noise^2)) to the star steps). How near the noise
    floor a model can get is estimated against it (`benchmarks/oracle_bounds.py`)."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    mean: float
    noise: float
    user_bias_sd: float
    spec: Preset

    def expected_rating(
        self, scores: np.ndarray, extra_variance: np.ndarray | float = 0.0
    ) -> np.ndarray:
        """E[rating] for noise-free scores, the noise's variance widened by `extra_variance`
        (an estimate's own uncertainty about the score)."""
        low, high = self.spec.rating_scale
        sd = np.sqrt(self.noise**2 + np.broadcast_to(extra_variance, scores.shape))
        sd = sd.astype(np.float64).ravel() if sd.ndim else np.full(1, float(sd))
        flat = np.ravel(scores).astype(np.float32)
        return _expected_rating(flat, sd, low, high, self.spec.step).reshape(np.shape(scores))


def synthetic_ratings(
    preset: str | Preset = "ml-25m",
    *,
    rank: int = RANK,
    noise: float = NOISE,
    zipf: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Ratings as a DataFrame with MovieLens' CSV columns (userId, movieId, rating, timestamp)
    and `true_rating`, the rating the generating model expects (see the module docstring).

    Distinct (user, item) pairs; user and item ids start at 1 in random order of popularity.
    """
    return synthetic_set(preset, rank=rank, noise=noise, zipf=zipf, seed=seed)[0]


def synthetic_set(
    preset: str | Preset = "ml-25m",
    *,
    rank: int = RANK,
    noise: float = NOISE,
    zipf: float = 1.0,
    seed: int = 0,
) -> tuple[pd.DataFrame, GeneratingModel]:
    """`synthetic_ratings`' frame and the model it was drawn from (same arguments, same draw)."""
    spec = PRESETS[preset] if isinstance(preset, str) else preset
    if spec.n_ratings > spec.n_users * _most_per_user(spec) // 2:
        raise DataError("too many ratings for that many users and items")
    rng = np.random.default_rng(seed)
    counts = _user_activity(spec, rng)
    popularity = 1.0 / (np.arange(spec.n_items) + 10.0) ** zipf
    popularity = rng.permutation(popularity / popularity.sum())
    users, items = _distinct_pairs(counts, popularity, spec.n_items, rng)

    mean = (spec.rating_scale[0] + spec.rating_scale[1]) / 2 + 0.8
    user_factors = rng.normal(0, 1 / np.sqrt(rank), (spec.n_users, rank)).astype(np.float32)
    item_factors = rng.normal(0, 1 / np.sqrt(rank), (spec.n_items, rank)).astype(np.float32)
    user_bias = rng.normal(0, USER_BIAS_SD, spec.n_users).astype(np.float32)
    item_bias = (
        rng.normal(0, ITEM_BIAS_SD, spec.n_items) + 3 * (popularity - popularity.mean())
    ).astype(np.float32)
    scores = np.empty(len(users), dtype=np.float32)
    for start in range(0, len(users), 1 << 22):  # chunks keep the (n, rank) product small
        u, i = users[start : start + (1 << 22)], items[start : start + (1 << 22)]
        scores[start : start + len(u)] = (
            np.einsum("ij,ij->i", user_factors[u], item_factors[i]) + user_bias[u] + item_bias[i]
        )
    scores += mean
    low, high = spec.rating_scale
    expected = _expected_rating(scores, np.full(1, noise), low, high, spec.step)
    scores += rng.normal(0, noise, len(scores)).astype(np.float32)
    ratings = np.clip(np.round(scores / spec.step) * spec.step, low, high).astype(np.float32)
    timestamps = 1_000_000_000 + rng.integers(0, 700_000_000, len(users))
    id_users = rng.permutation(spec.n_users).astype(np.int32) + 1
    id_items = rng.permutation(spec.n_items).astype(np.int32) + 1
    frame = pd.DataFrame(
        {
            "userId": id_users[users],
            "movieId": id_items[items],
            "rating": ratings,
            "timestamp": timestamps,
            TRUE_RATING: expected,
        }
    )
    model = GeneratingModel(
        id_users, id_items, user_factors, item_factors, user_bias, item_bias, mean, noise,
        USER_BIAS_SD, spec,
    )  # fmt: skip
    return frame, model


@numba.njit(cache=True, parallel=True)
def _expected_rating(scores, noise, low, high, step):
    """E[clip(round(score + N(0, noise^2)))]: the lowest step plus one step for each threshold
    between two steps that the noisy score passes, weighted by the chance it does. `noise`
    holds one sd for every score, or one for all."""
    out = np.empty(len(scores), dtype=np.float32)
    n_thresholds = int(round((high - low) / step))
    stride = 1 if len(noise) > 1 else 0
    for j in numba.prange(len(scores)):
        scale = 1.0 / (noise[j * stride] * math.sqrt(2.0))
        total = low
        for k in range(n_thresholds):
            threshold = low + step * (k + 0.5)
            total += step * 0.5 * math.erfc((threshold - scores[j]) * scale)
        out[j] = total
    return out


def _user_activity(spec: Preset, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: at least the preset's minimum, log-normal tail, summing exactly to
    n_ratings."""
    minimum = min(spec.min_per_user, spec.n_ratings // spec.n_users)
    extra = rng.lognormal(0.0, spec.activity_spread, spec.n_users)
    budget = spec.n_ratings - minimum * spec.n_users
    cap = _most_per_user(spec) - minimum
    counts = np.minimum(np.floor(extra / extra.sum() * budget), cap).astype(np.int64)
    short = budget - counts.sum()
    while short > 0:  # hand out what rounding and the cap left, to users below the cap
        room = np.flatnonzero(counts < cap)
        take = rng.choice(room, size=min(short, len(room)), replace=False)
        counts[take] += 1
        short = budget - counts.sum()
    return counts + minimum


def _most_per_user(spec: Preset) -> int:
    """The most ratings one user gets: half the catalogue for small sets, an eighth for large
    ones (where it keeps the redraws of duplicate pairs cheap)."""
    return spec.n_items // 2 if spec.n_items < 20_000 else spec.n_items // 8


def _distinct_pairs(
    counts: np.ndarray, popularity: np.ndarray, n_items: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Items for each user drawn by popularity, without repeats: one big draw, duplicates
    dropped, then small redraws of only what is missing (uniform after a few rounds, where
    collisions are rare because heavy users are capped, see `_most_per_user`)."""
    n_users = len(counts)

    def draw(need: np.ndarray, by_popularity: bool) -> np.ndarray:
        users = np.repeat(np.arange(n_users, dtype=np.int64), need)
        if by_popularity:
            items = rng.choice(n_items, size=len(users), p=popularity)
        else:
            items = rng.integers(0, n_items, len(users))
        return _sorted_unique(users * n_items + items)

    keys = draw(counts, True)  # sorted
    extra = np.zeros(0, dtype=np.int64)  # sorted, disjoint from keys
    need = counts - np.bincount(keys // n_items, minlength=n_users)
    attempt = 0
    while need.any():
        new = draw(need, attempt < 3)
        at = np.minimum(np.searchsorted(keys, new), len(keys) - 1)
        new = new[keys[at] != new]
        if len(extra):
            at = np.minimum(np.searchsorted(extra, new), len(extra) - 1)
            new = new[extra[at] != new]
        extra = np.sort(np.concatenate([extra, new]))
        need -= np.bincount(new // n_items, minlength=n_users)
        attempt += 1
    keys = np.concatenate([keys, extra])
    keys = keys[rng.permutation(len(keys))]
    return (keys // n_items).astype(np.int32), (keys % n_items).astype(np.int32)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy 2's hash-based unique is far slower on 25M int64 keys)."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def write_synthetic(
    path: str | Path, preset: str = "ml-25m", seed: int = 0, force: bool = False
) -> Path:
    """Write a preset to Parquet (or CSV, by suffix) atomically; an existing file is replaced
    only with `force=True`."""
    path = check_output(path, force)
    if path.suffix.lower() not in (".parquet", ".pq", ".csv"):  # s.txt would hold Parquet
        raise DataError(f"{path}: name the file .parquet or .csv (the format written)")
    if preset not in PRESETS:
        raise DataError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    frame = synthetic_ratings(preset, seed=seed)
    settings = {
        "preset": preset,
        **asdict(PRESETS[preset]),
        "seed": seed,
        "rank": RANK,
        "noise": NOISE,
    }
    with atomic_file(path, force) as partial:
        if path.suffix.lower() == ".csv":
            frame.to_csv(partial, index=False)
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            metadata = {**(table.schema.metadata or {}), METADATA_KEY: json.dumps(settings)}
            pq.write_table(table.replace_schema_metadata(metadata), partial)
    return path


def true_ratings(source: object, ratings: Ratings) -> np.ndarray | None:
    """The `true_rating` of each of `ratings`' rows, looked up by (userId, movieId) in the file
    or DataFrame they were loaded from; None when the source is not synthetic (no such column)
    or lacks one of the pairs. The RMSE of these against `ratings.ratings` is the noise floor.

    The source is read a slice of rows at a time, keeping only the rows asked for: a pass over
    25M rows for a validation side of 250,000 holds one slice, not the file's columns.

    >>> truth = true_ratings("synth.parquet", split.valid)  # doctest: +SKIP
    """
    columns = ["userId", "movieId", TRUE_RATING]
    if isinstance(source, pd.DataFrame):
        table: Table = source
    elif isinstance(source, (str, Path)) and Path(source).is_file():
        # embedrec's own reader: the file is read as training read it (UTF-16, gzip, zip or
        # Parquet bytes under a .csv name), never by a second parser that knows less
        try:
            table, _ = read_table(source, arrow=True)
        except DataError:
            return None
    else:
        return None
    if not set(columns) <= set(column_names(table)):
        return None
    wanted, inverse = np.unique(
        ratings.users.astype(np.int64) * ratings.n_items + ratings.items, return_inverse=True
    )
    if not len(wanted):
        return np.zeros(0, dtype=np.float32)
    truth = np.zeros(len(wanted), dtype=np.float32)
    found = np.zeros(len(wanted), dtype=bool)
    for batch in row_batches(table, columns):
        users = ratings.user_map.indexer(batch["userId"])
        items = ratings.item_map.indexer(batch["movieId"])
        rows = np.flatnonzero((users >= 0) & (items >= 0))
        keys = users[rows] * ratings.n_items + items[rows]
        # looked up in sorted order, each search near the last one: with a million random
        # searches at a time of a 5M-pair validation side, the docs' 25M-rating train line
        # took 48 s, sorted 27 s (benchmarks/docs_at_scale.py, BENCHMARKS.md)
        order = np.argsort(keys)
        at = np.empty(len(keys), dtype=np.intp)
        at[order] = np.minimum(np.searchsorted(wanted, keys[order]), len(wanted) - 1)
        hit = wanted[at] == keys
        # a pair the file holds twice: its first row's truth, as in file order
        at, first = np.unique(at[hit], return_index=True)
        new = ~found[at]
        truth[at[new]] = batch[TRUE_RATING][rows[hit][first[new]]]
        found[at[new]] = True
    if not found.all():
        return None
    return truth[inverse]


BATCH_ROWS = 1 << 20


def row_batches(table: Table, names: list[str]) -> Iterator[dict[str, np.ndarray]]:
    """The columns `names` of a table `read_table` returned, `BATCH_ROWS` rows at a time in
    row order, each converted as `column_values` converts a whole column."""
    if isinstance(table, pd.DataFrame):
        for start in range(0, len(table), BATCH_ROWS):
            chunk = table.iloc[start : start + BATCH_ROWS]
            yield {name: column_values(chunk, name).to_numpy() for name in names}
        return
    if isinstance(table, ParquetColumns):
        batches = table.parquet.iter_batches(batch_size=BATCH_ROWS, columns=names)
    else:
        batches = iter(table.select(names).to_batches(max_chunksize=BATCH_ROWS))
    for batch in batches:
        part = pa.Table.from_batches([batch])
        yield {name: column_values(part, name).to_numpy() for name in names}
