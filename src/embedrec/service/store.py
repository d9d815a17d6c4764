"""The feedback store: ratings users give through the service, and items hidden from every list,
in a real database through SQLAlchemy Core.

SQLite (the default, a file next to the model directory, never inside it: a retrain replaces the
model directory) runs in WAL mode with `synchronous=FULL`, so a rating is on disk before its 2xx
and readers never wait for a writer; several worker processes share the file. PostgreSQL
(`postgresql://...`) lets servers on several machines share one store. Ids are stored as text
(the model's raw id, or the path's text for a user the model never saw); ratings keep every row
in arrival order, and the latest rating of an item counts (for a model trained on interactions,
its events add up). Writes go through one writer thread per process that commits whatever is
waiting in one transaction (group commit), so a thousand concurrent ratings pay for a few
fsyncs, not a thousand, and still each 2xx follows its commit.
A batch the database refuses is committed again request by request, so one request's bad values
fail that request alone (RejectedWrite), never its neighbours.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

import embedrec
from embedrec.service.sqlite_mode import sqlite_pragmas
from embedrec.service.tables import (
    create_tables,
    hidden_table,
    metadata,
    ratings_table,
    reloads_table,
)

# a database host that does not answer fails a request after this long, never hangs it (lists
# are then served from the model alone; see Service.feedback_of)
CONNECT_TIMEOUT_SECONDS = 5


class StoreError(embedrec.EmbedrecError):
    """The feedback database cannot be opened or written (the message names its URL)."""


class RejectedWrite(StoreError):
    """The database refused one request's ratings for their values (the request's fault: a
    4xx); the requests committed beside it are not affected."""


def default_url(model_dir: str | Path) -> str:
    """The SQLite file beside a model directory: models/ml-100k -> models/ml-100k.feedback.db."""
    path = Path(model_dir).resolve()
    return f"sqlite:///{path.with_name(path.name + '.feedback.db')}"


def _driver_url(url: str) -> str:
    """`postgresql://` picks psycopg (version 3), the driver embedrec installs."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


class GroupCommit:
    """One writer thread that commits every batch of rows waiting for it in one transaction:
    concurrent requests pay one fsync between them, and each returns after its commit."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.pending: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def write(self, values: list[dict[str, Any]]) -> None:
        """Insert `values`; returns once committed, or raises the database's error."""
        waiting = _Pending(values)
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="feedback-writer")
                self.thread.daemon = True
                self.thread.start()
            self.pending.put(waiting)
        waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error

    def close(self) -> None:
        with self.lock:
            if self.thread is not None and self.thread.is_alive():
                self.pending.put(None)
                self.thread.join(30)
            self.thread = None

    def _run(self) -> None:
        while True:
            first = self.pending.get()
            if first is None:
                return
            batch = [first]
            while not self.pending.empty():
                more = self.pending.get()
                if more is None:
                    self.pending.put(None)  # stop after this batch
                    break
                batch.append(more)
            try:
                self._commit([v for b in batch for v in b.values])
            except Exception as exc:  # noqa: BLE001 - every waiting request hears of it
                if len(batch) == 1:
                    batch[0].error = _reported(exc)
                else:
                    self._one_by_one(batch)
            for waiting in batch:
                waiting.done.set()

    def _commit(self, values: list[dict[str, Any]]) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(ratings_table), values)

    def _one_by_one(self, batch: list[_Pending]) -> None:
        """After a failed batch, each request's rows in a transaction of their own, so a
        request the database refuses fails alone and its neighbours commit. Once the database
        itself fails (not a request's values), the rest hear of that without trying."""
        for index, waiting in enumerate(batch):
            try:
                self._commit(waiting.values)
            except Exception as exc:  # noqa: BLE001 - the request hears of it
                waiting.error = _reported(exc)
                if not isinstance(waiting.error, RejectedWrite):
                    for rest in batch[index + 1 :]:
                        rest.error = exc
                    return


def sqlite_file(url: str) -> Path | None:
    """The file a sqlite:/// URL names; None for other databases and in-memory SQLite."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _check_columns(engine: Engine, where: str) -> None:
    """Tables of embedrec's names made by something else (other columns) are named here, at
    open, not as a database error at the first query."""
    found = inspect(engine)
    for table in metadata.tables.values():
        if not found.has_table(table.name):
            continue
        have = {column["name"] for column in found.get_columns(table.name)}
        missing = [column.name for column in table.columns if column.name not in have]
        if missing:
            raise StoreError(
                f"feedback database {where}: its table {table.name} has other columns than "
                f"embedrec's (no {', '.join(missing)}); use another database"
            )


def _check_is_a_store(engine: Engine, where: str) -> None:
    """A database opened to read feedback from (`train --feedback`) holds embedrec's ratings
    table: an existing file or server database without it (a wrong name, in-memory SQLite) is
    refused rather than given empty tables and trained on as if it held no ratings."""
    if not inspect(engine).has_table(ratings_table.name):
        raise StoreError(
            f"feedback database {where} has no {ratings_table.name} table: it is not a store "
            "`embedrec serve` wrote; check the URL"
        )


def database_message(exc: BaseException) -> str:
    """A database error as a person reads it: the driver's own first line, without the SQL
    statement and SQLAlchemy's link to its documentation ("(Background on this error at:
    https://sqlalche.me/...)"). Any other error as it is (a reload fails for either)."""
    if not isinstance(exc, SQLAlchemyError):
        return str(exc)
    orig = getattr(exc, "orig", None)  # the driver's own error, on DBAPIError
    text = str(orig) if orig is not None else str(exc)
    lines = text.split("(Background on this error")[0].strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _reported(exc: Exception) -> Exception:
    """A write's failure as its request should hear it: values the database refuses (NUL in
    text, too long, not encodable) as RejectedWrite; the database failing as it is."""
    if isinstance(exc, (sa_exc.DataError, sa_exc.IntegrityError)):
        why = database_message(exc)
    elif isinstance(exc, ValueError):  # UnicodeEncodeError among them: in the driver
        why = str(exc)
    else:
        return exc
    return RejectedWrite(f"the feedback database refused these ratings: {why}")


@dataclass
class _Pending:
    values: list[dict[str, Any]]
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


class FeedbackStore:
    """Ratings and hidden items in the database at `url` (tables created when missing;
    `create=False`: the database must be a store already, a SQLite file there and embedrec's
    ratings table in it, so a typo is not a new, empty store)."""

    def __init__(self, url: str, create: bool = True):
        self.url = url
        if not create and (file := sqlite_file(url)) is not None and not file.is_file():
            raise StoreError(
                f"feedback database {file} does not exist (from --feedback {url}); check the "
                "path: a store that is not there holds no ratings to train on"
            )
        try:
            parsed = make_url(_driver_url(url))
            connect_args = {}
            if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
            self.engine: Engine = create_engine(
                parsed, pool_pre_ping=True, connect_args=connect_args
            )
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot use feedback database {self.safe_url}: {exc}") from None
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._writer = GroupCommit(self.engine)
        if self.is_sqlite and create:
            event.listen(self.engine, "connect", sqlite_pragmas)
        try:
            _check_columns(self.engine, self.safe_url)
            if create:
                create_tables(self.engine)
            else:  # read only: a database without the table (a wrong URL) holds no ratings
                _check_is_a_store(self.engine, self.safe_url)
        except (SQLAlchemyError, StoreError) as exc:
            self.engine.dispose()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(
                f"cannot open feedback database {self.safe_url}: {database_message(exc)}"
            ) from None
        if self.is_sqlite and not create:  # a store: WAL as serve runs it, never another file
            self.engine.dispose()
            event.listen(self.engine, "connect", sqlite_pragmas)

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages and /health."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except ArgumentError:
            return "<unparseable URL>"

    def close(self) -> None:
        self._writer.close()
        self.engine.dispose()

    def add(self, user: str, rows: Iterable[tuple[str, float]]) -> int:
        """Store a user's ratings [(item, rating)]; returns how many, only once the database has
        committed them durably. Ratings arriving together from several threads share one commit
        (one fsync), and one request's ratings always commit together."""
        now = time.time()
        values = [
            {"user_id": user, "item_id": item, "rating": float(rating), "created": now}
            for item, rating in rows
        ]
        if values:
            self._writer.write(values)
        return len(values)

    def ratings_of(self, user: str, summed: bool = False) -> dict[str, float]:
        """A user's stored ratings {item: rating}: the latest rating of each item, or with
        `summed` (a model trained on interactions) the sum of its events, leaving out rows of
        weight 0 or less as a retrain does (an older version stored any number)."""
        rows = ratings_table.c
        if summed:  # in the database: one row per item, in order of its first event
            query = select(rows.item_id, func.sum(rows.rating)).where(rows.rating > 0)
            query = query.group_by(rows.item_id).order_by(func.min(rows.id))
        else:
            query = select(rows.item_id, rows.rating).order_by(rows.id)
        query = query.where(rows.user_id == user)
        with self.engine.connect() as connection:
            return {item: rating for item, rating in connection.execute(query)}

    def latest_id(self) -> int:
        """The id of the newest stored rating (0: none): one indexed lookup through the driver,
        cheap enough to ask on every request, so a list served from memory is never one that a
        rating stored by another worker or server made stale."""
        statement = "SELECT max(id) FROM embedrec_ratings"
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            connection = self.engine.raw_connection()  # a database down fails here
            try:
                cursor = connection.cursor()
                cursor.execute(statement)
                found = cursor.fetchone()
                cursor.close()
            finally:
                connection.close()  # back to the pool
        except dbapi_error as exc:  # as SQLAlchemy itself reports it (a 503, not a 500)
            raise DBAPIError.instance(statement, None, exc, dbapi_error) from exc
        return int(found[0] or 0) if found else 0

    def has_ratings(self, user: str) -> bool:
        """Whether any rating is stored for `user` (one indexed lookup)."""
        query = select(ratings_table.c.id).where(ratings_table.c.user_id == user).limit(1)
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def users_since(self, after_id: int) -> set[str]:
        """The users with a rating stored after the rating `after_id` (0: every user)."""
        query = select(ratings_table.c.user_id).where(ratings_table.c.id > after_id).distinct()
        with self.engine.connect() as connection:
            return {row[0] for row in connection.execute(query)}

    def all_ratings(self) -> pd.DataFrame:
        """Every stored rating in arrival order, columns user, item, rating, timestamp and row
        (the database's row id, what an error about a stored rating names): what a retrain adds
        to the original data, as stored. `with_feedback` checks it and keeps the latest rating
        of a user and item, or adds up the events of interactions."""
        query = select(
            ratings_table.c.user_id,
            ratings_table.c.item_id,
            ratings_table.c.rating,
            ratings_table.c.created,
            ratings_table.c.id,
        ).order_by(ratings_table.c.id)
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"feedback database {self.safe_url}: its ratings cannot be read "
                f"({database_message(exc)})"
            ) from None
        return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp", "row"])

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(ratings_table)).one()[0])

    def hide(self, item: str) -> None:
        """Never recommend `item` again (idempotent)."""
        row = {"item_id": item, "created": time.time()}
        dialect_insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(hidden_table).values(**row).on_conflict_do_nothing()
        with self.engine.begin() as connection:
            connection.execute(statement)

    def unhide(self, item: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(hidden_table).where(hidden_table.c.item_id == item))

    def announce(self, server_id: str, model_dir: str) -> int:
        """Record that the workers of `server_id` are to serve `model_dir`; returns the new
        generation (1, 2, ...) the other workers compare theirs with."""
        row = {"model_dir": model_dir, "created": time.time()}
        key = reloads_table.c.server_id == server_id
        with self.engine.begin() as connection:
            found = connection.execute(select(reloads_table.c.generation).where(key)).first()
            generation = 1 if found is None else int(found[0]) + 1
            if found is None:
                connection.execute(
                    insert(reloads_table).values(server_id=server_id, generation=1, **row)
                )
            else:
                statement = update(reloads_table).where(key).values(generation=generation, **row)
                connection.execute(statement)
        return generation

    def announcement(self, server_id: str) -> tuple[int, str] | None:
        """(generation, model directory) last announced for `server_id`, or None."""
        columns = (reloads_table.c.generation, reloads_table.c.model_dir)
        query = select(*columns).where(reloads_table.c.server_id == server_id)
        with self.engine.connect() as connection:
            found = connection.execute(query).first()
        return None if found is None else (int(found[0]), str(found[1]))

    def hidden(self) -> set[str]:
        with self.engine.connect() as connection:
            return {row[0] for row in connection.execute(select(hidden_table.c.item_id))}
