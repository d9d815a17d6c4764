"""The `Ratings` container: an encoded ratings table plus the id maps that give it meaning.

Models see dense indices (0..n-1); users see raw ids and titles. `IdMap` converts between the two,
and every `Ratings` made from the same source (a split's train and valid sides, say) shares the
same maps, so an index means the same user or item everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from embedrec.data.encode import group_by_user, order_by_user
from embedrec.errors import DataError
from embedrec.notebook import html_table


class IdMap:
    """Raw ids <-> dense indices, in sorted raw-id order (as fastai's `Categorify` does).

    >>> m = IdMap(["b", "a", "b"])
    >>> m.ids.tolist(), m.encode(["b"]).tolist()
    (['a', 'b'], [1])
    """

    def __init__(self, raw_ids: Iterable, *, already_unique: bool = False):
        values = _as_array(raw_ids)
        self.ids: np.ndarray = values if already_unique else pd.unique(values)
        if not already_unique:
            self.ids = np.sort(self.ids)
        self._index = pd.Index(self.ids)
        self._positions: dict[Any, int] | None = None
        self._unpadded: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, raw_id: object) -> bool:
        return isinstance(raw_id, Hashable) and self.lookup(raw_id) >= 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and np.array_equal(self.ids, other.ids)

    def __repr__(self) -> str:
        head = ", ".join(map(repr, self.ids[:3].tolist()))
        return f"IdMap({len(self)} ids: {head}{', ...' if len(self) > 3 else ''})"

    def indexer(self, raw_ids: Sequence | np.ndarray | pd.Series) -> np.ndarray:
        """Indices of `raw_ids`, -1 where an id is unknown (for callers that report unknowns)."""
        return self._index.get_indexer(pd.Index(_as_array(raw_ids))).astype(np.int64)

    def find(self, raw_ids: Sequence | np.ndarray | pd.Series) -> np.ndarray:
        """As `indexer`, and ids typed otherwise than the map's ('42' read from a text
        column, 42 in the map) are found as `lookup` finds them: another table's ids."""
        found = self.indexer(raw_ids)
        missing = np.flatnonzero(found < 0)
        if len(missing):
            values = _as_array(raw_ids)
            found[missing] = [self.lookup(values[position]) for position in missing]
        return found

    def encode(self, raw_ids: Sequence | np.ndarray | pd.Series, *, what: str = "id") -> np.ndarray:
        """Indices of `raw_ids` as int32; raises `DataError` naming the first unknown id."""
        codes = self.indexer(raw_ids)
        unknown = np.flatnonzero(codes < 0)
        if len(unknown):
            first = np.asarray(raw_ids)[unknown[0]]
            raise DataError(f"unknown {what} {first!r} ({len(unknown)} unknown in all)")
        return codes.astype(np.int32)

    def lookup(self, raw_id: Hashable) -> int:
        """Index of one raw id, -1 if unknown; tolerates '42' for 42 and 42 for '42'."""
        if not isinstance(raw_id, (bool, np.bool_)):  # True == 1 in a dict, not in an Index
            positions = self._positions
            if positions is None:  # one dict look-up beats a pandas call per id (a service)
                positions = self._positions = {v: i for i, v in enumerate(self.ids.tolist())}
            try:
                found = positions.get(raw_id, -1)
            except TypeError:  # unhashable: not an id
                found = -1
            if found >= 0:
                return found
            coerced = _coerce(raw_id, self.ids.dtype)
            found = -1 if coerced is None else positions.get(coerced, -1)
            if found < 0 and isinstance(raw_id, (int, np.integer)) and self.ids.dtype.kind in "OU":
                found = self._zero_padded().get(int(raw_id), -1)
            return found
        index = self._index.get_indexer([raw_id])[0]
        if index < 0:
            coerced = _coerce(raw_id, self.ids.dtype)
            if coerced is not None:
                index = self._index.get_indexer([coerced])[0]
        return int(index)

    def _zero_padded(self) -> dict[int, int]:
        """Text ids of digits with leading zeros ('0000034784', an ISBN) by their number: a
        file of such ids alone reads as integers (34784), and names the same items. A number
        two ids share ('007', '0007') names neither."""
        if self._unpadded is None:
            padded = pd.Series(self.ids.tolist(), dtype=object)
            padded = padded[
                padded.map(lambda v: isinstance(v, str) and ZERO_PADDED.fullmatch(v) is not None)
            ]
            numbers = padded.map(int)
            unique = ~numbers.duplicated(keep=False)
            self._unpadded = dict(zip(numbers[unique].tolist(), padded.index[unique].tolist()))
        return self._unpadded

    def canonical(self, raw_id: Hashable) -> Any:
        """One id however it was written, as this map would hold it: the map's own id where it
        knows it; else the same value in the map's type where that is exact (1, '1' and 1.0 are
        the integer 1 in a map of integers, 1 is '1' in a map of text); else as given ('alice',
        '1.5'). What keys an id the model has not seen (a new user's stored feedback), so one
        user is one user however a client spells the id."""
        index = self.lookup(raw_id)
        if index >= 0:
            found = self.ids[index]
            return found.item() if isinstance(found, np.generic) else found
        coerced = _coerce(raw_id, self.ids.dtype)
        return raw_id if coerced is None else coerced

    def decode(self, indices: np.ndarray | Sequence[int]) -> np.ndarray:
        return self.ids[np.asarray(indices, dtype=np.int64)]

    def to_list(self) -> list:
        return self.ids.tolist()


def _as_array(raw_ids: Iterable) -> np.ndarray:
    """Ids as an array without numpy's fixed-width strings (which drop trailing NULs)."""
    if isinstance(raw_ids, np.ndarray):
        return raw_ids.astype(object) if raw_ids.dtype.kind == "U" else raw_ids
    return pd.Index(list(raw_ids) if not isinstance(raw_ids, pd.Series) else raw_ids).to_numpy()


INTEGER_TEXT = re.compile(r"[-+]?[0-9]+")
ZERO_PADDED = re.compile(r"0[0-9]+")  # an id whose leading zeros an integer column drops


def _coerce(raw_id: Any, dtype: np.dtype) -> int | float | str | None:
    """The same id in the map's type: ids typed on a command line arrive as strings."""
    try:
        if np.issubdtype(dtype, np.integer):
            if isinstance(raw_id, (int, np.integer)) and not isinstance(raw_id, (bool, np.bool_)):
                return _fitting(int(raw_id), dtype)
            if isinstance(raw_id, str) and INTEGER_TEXT.fullmatch(raw_id.strip()):
                return _fitting(int(raw_id), dtype)  # every digit (a float holds 2**53, no more)
            as_float = float(raw_id)
            return _fitting(int(as_float), dtype) if as_float.is_integer() else None
        if np.issubdtype(dtype, np.floating):
            return float(raw_id)
        return str(raw_id)
    except (TypeError, ValueError):
        return None


def _fitting(value: int, dtype: np.dtype) -> int | None:
    """An integer id only where the map's integer type holds it ('1e300' is no int64 id)."""
    limits = np.iinfo(dtype)
    return value if limits.min <= value <= limits.max else None


@dataclass
class Ratings:
    """Encoded ratings: parallel arrays of user index, item index, rating (and timestamp).

    `rating_scale` is the range the source declares (MovieLens: 1-5 or 0.5-5); predictions are
    clipped to it. `notes` records what loading did to the data (duplicates dropped, ...).

    `interactions`: the table says only which items each user chose (plays, clicks, purchases),
    not how much they liked them; `ratings` then holds each row's weight (a count, or 1.0), and
    only ranking models learn from it.
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    user_map: IdMap
    item_map: IdMap
    timestamps: np.ndarray | None = None
    titles: np.ndarray | None = None  # aligned with item_map.ids; "" where unknown
    genres: np.ndarray | None = None  # aligned too: "Action|Comedy", "" where unknown
    rating_scale: tuple[float, float] | None = None
    source: str = "DataFrame"
    notes: list[str] = field(default_factory=list)
    interactions: bool = False

    def __post_init__(self) -> None:
        self.users = np.ascontiguousarray(self.users, dtype=np.int32)
        self.items = np.ascontiguousarray(self.items, dtype=np.int32)
        self.ratings = np.ascontiguousarray(self.ratings, dtype=np.float32)
        if self.timestamps is not None:
            self.timestamps = np.ascontiguousarray(self.timestamps, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ratings)

    def __repr__(self) -> str:
        return (
            f"Ratings({len(self):,} ratings, {self.n_users:,} users, {self.n_items:,} items, "
            f"source={self.source!r})"
        )

    def _repr_html_(self) -> str:
        """A notebook's view: the sizes, the rating range, the source and what loading did."""
        low, high = self.rating_scale or self.observed_range
        rows = [
            ("ratings" if not self.interactions else "interactions", f"{len(self):,}"),
            ("users", f"{self.n_users:,}"),
            ("items", f"{self.n_items:,}"),
            ("rating scale" if self.rating_scale else "ratings seen", f"{low:g} to {high:g}"),
            ("source", self.source),
            *(("note", text) for text in self.notes),
        ]
        return html_table(rows, caption="Ratings")

    @property
    def n_users(self) -> int:
        return len(self.user_map)

    @property
    def n_items(self) -> int:
        return len(self.item_map)

    @property
    def observed_range(self) -> tuple[float, float]:
        if not len(self):
            return (float("nan"), float("nan"))
        return (float(self.ratings.min()), float(self.ratings.max()))

    def subset(self, rows: np.ndarray, source: str | None = None) -> Ratings:
        """The given rows (boolean mask or indices), keeping the same id maps and titles."""
        return replace(
            self,
            users=self.users[rows],
            items=self.items[rows],
            ratings=self.ratings[rows],
            timestamps=None if self.timestamps is None else self.timestamps[rows],
            source=source or self.source,
            notes=list(self.notes),
        )

    def without_timestamps(self) -> Ratings:
        """These ratings without their timestamps, every other array shared: what training
        reads once a split is made (the timestamps take 8 bytes a row, as much as the ids)."""
        return replace(self, timestamps=None, notes=list(self.notes))

    def with_maps(
        self, user_map: IdMap, item_map: IdMap, titles: np.ndarray | None = None
    ) -> tuple[Ratings, int]:
        """These ratings re-encoded with other id maps (a model's, or a union of two files'),
        ids matched as `IdMap.find` matches them; rows with an id the maps lack are dropped
        and counted (returned second)."""
        users = user_map.find(self.user_map.ids)[self.users]
        items = item_map.find(self.item_map.ids)[self.items]
        known = (users >= 0) & (items >= 0)
        recoded = Ratings(
            users=users[known],
            items=items[known],
            ratings=self.ratings[known],
            user_map=user_map,
            item_map=item_map,
            timestamps=None if self.timestamps is None else self.timestamps[known],
            titles=titles,
            rating_scale=self.rating_scale,
            source=self.source,
            notes=list(self.notes),
            interactions=self.interactions,
        )
        return recoded, int((~known).sum())

    def user_counts(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)

    def items_by_user(self) -> tuple[np.ndarray, np.ndarray]:
        """Each user's items in CSR form: user u rated items[indptr[u]:indptr[u + 1]]."""
        return group_by_user(self.users, self.items, self.n_users)

    def by_user(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, items, ratings) in CSR form, as `items_by_user` with each rating beside."""
        indptr, order = order_by_user(self.users, self.n_users)
        return indptr, self.items[order], self.ratings[order]

    def to_frame(self, titles: bool = True) -> pd.DataFrame:
        """The ratings with raw ids (and titles), as a user would write them."""
        frame = pd.DataFrame(
            {
                "user": self.user_map.decode(self.users),
                "item": self.item_map.decode(self.items),
                "rating": self.ratings,
            }
        )
        if self.timestamps is not None:
            frame["timestamp"] = self.timestamps
        if titles and self.titles is not None:
            frame["title"] = self.titles[self.items]
        return frame

    def show_batch(self, n: int = 10, seed: int | None = None) -> pd.DataFrame:
        """A random look at `n` rows with raw ids and titles, as fastai's `dls.show_batch()`."""
        if n < 1:
            raise DataError(f"n must be at least 1, got {n}")
        rows = np.sort(np.random.default_rng(seed).choice(len(self), min(n, len(self)), False))
        return self.subset(rows).to_frame().reset_index(drop=True)

    def one_batch(
        self, bs: int = 64, seed: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A random batch as the models see it (fastai's `dls.one_batch()`): user indices,
        item indices and ratings, each of length `bs`."""
        if bs < 1:
            raise DataError(f"bs must be at least 1, got {bs}")
        rows = np.random.default_rng(seed).choice(len(self), min(bs, len(self)), False)
        return self.users[rows], self.items[rows], self.ratings[rows]

    def crosstab(self, n_users: int = 15, n_items: int = 15) -> pd.DataFrame:
        """The most active users x the most rated items, as the chapter's questionnaire shows.

        Cells are ratings, NaN where the user did not rate the item; columns are titles when known.
        """
        top_users = np.argsort(-self.user_counts(), kind="stable")[:n_users]
        top_items = np.argsort(-self.item_counts(), kind="stable")[:n_items]
        keep = np.isin(self.users, top_users) & np.isin(self.items, top_items)
        frame = pd.DataFrame(
            {"user": self.users[keep], "item": self.items[keep], "rating": self.ratings[keep]}
        )
        table = frame.pivot_table(index="user", columns="item", values="rating", aggfunc="last")
        table = table.reindex(index=top_users, columns=top_items)
        table.index = pd.Index(self.user_map.decode(top_users), name="user")
        raw_ids = self.item_map.decode(top_items)
        titles = self.titles
        labels = (
            raw_ids
            if titles is None
            else [titles[i] or str(raw) for i, raw in zip(top_items, raw_ids)]
        )
        table.columns = pd.Index(labels, name="item")
        return table
