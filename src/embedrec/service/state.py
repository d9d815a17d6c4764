"""What one server process holds: the serving model (swapped atomically on reload) with what was
derived from it (kept lists and genre filters, bounded by bytes; the factor map, computed once),
the feedback store, and a short-lived cache of the hidden items.

A request reads `Service.current` once and uses that `Served` to the end, so a reload never
changes the model under a request in flight; a model that fails to load leaves the old one
serving and the error goes back to the caller.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError
from threadpoolctl import threadpool_limits

import embedrec
from embedrec.service.cache import DEFAULT_CACHE_MB, MIB, ByteCache
from embedrec.service.schemas import MAX_MAP
from embedrec.service.store import FeedbackStore, database_message, default_url

log = logging.getLogger("embedrec.service")
HIDDEN_TTL_SECONDS = 1.0  # hidden items set on another server show up within this
FOLLOW_SECONDS = 1.0  # a reload announced by another worker is noticed within this
# after a failed read of the feedback database, lists are the model's alone this long before it
# is asked again: a database down (or slow to refuse) costs a list nothing
STORE_RETRY_SECONDS = 1.0


def limit_threads(threads: int) -> None:
    """Compute threads per server process (BLAS, torch, numba). A worker answers one request
    at a time, and one request's work is small: on a loaded machine several threads per
    request only contend (top-10 of ML-100k's default model: 4 ms on one thread, 50 ms on two
    while other processes run). Parallelism comes from `--workers`."""
    threadpool_limits(threads)
    # torch is imported only by a model that needs it (nn, bpr, a custom module): it reads this
    # when it starts; one already imported is told directly
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


def warm_up(rec: embedrec.Recommender) -> None:
    """One list before the first request: numba loads its compiled top-k from the cache on
    first use (about a second), which would otherwise land on some user's request."""
    trained = rec.user_counts.nonzero()[0][:1]
    if len(trained):
        rec.recommend(rec.user_map.decode(trained).tolist()[0], n=1)


def in_scale(rec: embedrec.Recommender, user: str, feedback: dict[str, float]) -> dict[str, float]:
    """A user's stored ratings without those outside the model's scale (a store written by an
    older version, which took any number, may hold some): skipped with a logged note, so the
    user's lists still answer."""
    low, high = embedrec.accepted_scale(rec)
    outside = {item for item, value in feedback.items() if not low <= value <= high}
    if outside:
        why = (
            "not a count above 0"
            if rec.interactions
            else f"outside the model's scale {low:g}-{high:g}"
        )
        shown = ", ".join(sorted(outside)[:10])
        log.warning(
            "%d stored ratings of user %r skipped: %s (items %s)", len(outside), user, why, shown
        )
    return {item: value for item, value in feedback.items() if item not in outside}


@dataclass
class Served:
    """A loaded model and what was derived from it: responses and genre filters kept in one
    byte-bounded cache (`cache_mb`), and the factor map, computed once on first use."""

    rec: embedrec.Recommender
    model_dir: Path
    loaded_at: float
    load_seconds: float
    cache_mb: float = DEFAULT_CACHE_MB
    cache: ByteCache = field(init=False)
    _map: pd.DataFrame | None = field(default=None, init=False)
    map_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.cache = ByteCache(int(self.cache_mb * MIB))

    def kept(self, key: Any) -> Any | None:
        """A response kept under `key`, or None."""
        return self.cache.get(("list", key))

    def keep(self, key: Any, value: Any) -> Any:
        """Remember a response (within the cache's bytes); returns it."""
        return self.cache.put(("list", key), value)

    def genre_items(self, genres: list[str]) -> list[Any] | None:
        if not genres:
            return None
        key = ("genre", tuple(sorted(g.lower() for g in genres)))
        found = self.cache.get(key)
        if found is None:
            found = self.cache.put(key, embedrec.genre_items(self.rec, genres))
        return found

    def factor_map(self) -> pd.DataFrame:
        """The MAX_MAP most rated items on the first two principal components of the item
        factors (an SVD of up to 1,000 x 800): computed by the first caller, once per loaded
        model; callers meanwhile wait for it rather than computing it again."""
        with self.map_lock:
            if self._map is None:
                coords = embedrec.pca_map(self.rec, n=min(MAX_MAP, self.rec.n_items))
                self._map = coords.rename(columns={"pc1": "x", "pc2": "y"})
            return self._map


def load_served(model_dir: str | Path, cache_mb: float = DEFAULT_CACHE_MB) -> Served:
    started = time.perf_counter()
    rec = embedrec.load(model_dir, arrays_only=True)  # no torch for the kinds that are arrays
    warm_up(rec)
    return Served(rec, Path(model_dir), time.time(), time.perf_counter() - started, cache_mb)


class Service:
    """The model being served, its feedback store and the token writes need.

    With a `server_id` (what `embedrec serve` gives its workers), a reload is announced in the
    database, and the other workers of the same server load the same directory within
    FOLLOW_SECONDS of their next request; a worker that starts later serves it too.
    """

    def __init__(
        self,
        model_dir: str | Path,
        db_url: str | None = None,
        token: str | None = None,
        cache_mb: float = DEFAULT_CACHE_MB,
        server_id: str | None = None,
    ):
        self.cache_mb = cache_mb
        self.store = FeedbackStore(db_url or default_url(model_dir))
        self.server_id = server_id
        self._generation = 0
        announced = None if server_id is None else self.store.announcement(server_id)
        if announced is not None:
            self._generation, model_dir = announced
        self.current = load_served(model_dir, cache_mb)
        self.token = token or None
        self._reload_lock = threading.Lock()
        self._hidden: set[str] = set()
        sqlite = self.store.is_sqlite  # see has_feedback
        self._rated_through = self.store.latest_id() if sqlite else 0  # ids in _raters
        self._raters = self.store.users_since(0) if sqlite else set()
        self._raters_lock = threading.Lock()
        self._hidden_at = -1e9
        self._followed_at = time.monotonic()
        self._store_down_until = -1e9

    def serving(self) -> Served:
        """The model to answer with (after noticing, at most every FOLLOW_SECONDS, a reload
        another worker of this server announced: that loads in the background meanwhile)."""
        if self.server_id is not None:
            now = time.monotonic()
            if now - self._followed_at > FOLLOW_SECONDS:
                self._followed_at = now
                self._follow()
        return self.current

    def _follow(self) -> None:
        assert self.server_id is not None
        try:
            announced = self.store.announcement(self.server_id)
        except SQLAlchemyError as exc:
            log.warning("reloads not checked: %s", database_message(exc))
            return
        if announced is None or announced[0] <= self._generation:
            return
        self._generation = announced[0]  # claimed: one background load per announcement
        threading.Thread(target=self._load_announced, args=(announced[1],), daemon=True).start()

    def _load_announced(self, model_dir: str) -> None:
        try:
            self.reload(model_dir, announce=False)
        except Exception as exc:  # noqa: BLE001 - this worker keeps its model, and says why
            log.error("could not follow the reload to %s: %s", model_dir, database_message(exc))

    def reload(self, model_dir: str | Path | None = None, announce: bool = True) -> Served:
        """Load `model_dir` (default: the current one again) and swap it in; on any error the
        old model keeps serving and the error is raised. Announced to this server's other
        workers unless `announce=False`."""
        with self._reload_lock:
            served = load_served(model_dir or self.current.model_dir, self.cache_mb)
            self.current = served
        if announce and self.server_id is not None:
            self._generation = self.store.announce(self.server_id, str(served.model_dir))
        return served

    def has_feedback(self, user_key: str) -> bool:
        """Whether ratings are stored for this user, counting every rating committed before
        this call by any worker or server sharing the database. On SQLite, whose writers take
        turns so ids commit in order, a per-request probe of the newest rating id and a read of
        only the ratings newer than the last one seen; on PostgreSQL, where concurrent
        transactions may commit ids out of order, a lookup of the user."""
        if not self.store.is_sqlite:
            return self.store.has_ratings(user_key)
        latest = self.store.latest_id()
        if latest > self._rated_through:
            with self._raters_lock:
                if latest > self._rated_through:
                    self._raters |= self.store.users_since(self._rated_through)
                    self._rated_through = latest
        return user_key in self._raters

    def feedback_of(self, user_key: str, summed: bool = False) -> dict[str, float] | None:
        """A user's stored ratings {item: rating} (`summed`: each item's events added up, for a
        model trained on interactions), or None while the database cannot be read (then asked
        again at most every STORE_RETRY_SECONDS): the caller serves the model's list instead,
        as a recommender degrades to what it has."""
        if time.monotonic() < self._store_down_until:
            return None
        try:
            if not self.has_feedback(user_key):
                return {}
            return self.store.ratings_of(user_key, summed=summed)
        except SQLAlchemyError as exc:
            self._store_down_until = time.monotonic() + STORE_RETRY_SECONDS
            log.warning(
                "feedback database unreadable, lists are the model's alone: %s",
                database_message(exc),
            )
            return None

    def add_feedback(self, user_key: str, rows: list[tuple[str, float]]) -> int:
        """Store a user's ratings (the store's errors raised); a write that commits shows the
        database back, so lists read it again at once."""
        stored = self.store.add(user_key, rows)
        self._store_down_until = -1e9
        return stored

    def feedback_state(self) -> tuple[int | None, str]:
        """(stored ratings, 'ok'), or (None, 'unavailable (why)') while the database cannot be
        read: what /health reports, itself answering either way."""
        try:
            count = self.store.count()
        except SQLAlchemyError as exc:
            log.warning("feedback database unavailable: %s", database_message(exc))
            return None, f"unavailable ({type(exc).__name__})"
        self._store_down_until = -1e9
        return count, "ok"

    def hidden(self) -> set[str]:
        """Hidden item ids, read again from the database at most every HIDDEN_TTL_SECONDS."""
        now = time.monotonic()
        if now - self._hidden_at > HIDDEN_TTL_SECONDS:
            try:
                self._hidden = self.store.hidden()
            except SQLAlchemyError as exc:  # the last known set serves until the database is back
                log.warning("hidden items not refreshed: %s", database_message(exc))
            self._hidden_at = now
        return self._hidden

    def set_hidden(self, item: str, hidden: bool) -> None:
        if hidden:
            self.store.hide(item)
        else:
            self.store.unhide(item)
        self._hidden_at = -1e9  # this server sees its own change at once

    def close(self) -> None:
        self.store.close()
