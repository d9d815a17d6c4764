"""The feedback store on SQLite and on a real PostgreSQL: what one server writes another reads,
the latest rating of an item counts, hiding is idempotent, a bad URL is one clear error, and a
write the database refuses fails alone, never the writes committed in the same batch."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from embedrec.service import FeedbackStore, RejectedWrite, StoreError, default_url
from embedrec.service.store import CONNECT_TIMEOUT_SECONDS, database_message
from tests.service_support import new_database


def test_two_servers_share_one_store(store_url):
    user = f"u-{uuid.uuid4().hex[:8]}"
    one, two = FeedbackStore(store_url), FeedbackStore(store_url)
    try:
        assert one.add(user, [("50", 5.0), ("100", 3.0)]) == 2
        two.add(user, [("100", 4.5)])
        assert one.ratings_of(user) == {"50": 5.0, "100": 4.5}
        everything = two.all_ratings()
        mine = everything[everything["user"] == user].set_index("item")["rating"].to_dict()
        assert mine == {"50": 5.0, "100": 4.5}
        item = f"i-{uuid.uuid4().hex[:8]}"
        one.hide(item)
        one.hide(item)
        assert item in two.hidden()
        two.unhide(item)
        assert item not in one.hidden()
        server = f"host:8000:{uuid.uuid4().hex[:8]}"
        assert one.announcement(server) is None
        assert one.announce(server, "models/v2") == 1 and two.announce(server, "models/v3") == 2
        assert one.announcement(server) == (2, "models/v3")
    finally:
        one.close()
        two.close()


def open_together(url: str, openers: int) -> tuple[list[FeedbackStore], list[str]]:
    """`openers` threads open a FeedbackStore of `url` at one moment: (the stores, the errors)."""
    together = threading.Barrier(openers)
    opened: list[FeedbackStore] = []
    failed: list[str] = []

    def open_store() -> None:
        together.wait()
        try:
            opened.append(FeedbackStore(url))
        except StoreError as exc:
            failed.append(str(exc))

    threads = [threading.Thread(target=open_store) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return opened, failed


def test_summed_events_leave_out_weights_of_zero_or_less(store_url):
    """Events of a model trained on interactions add up per item, in order of its first; a row
    of weight 0 or less (an older version stored any number) is no event, as in a retrain, so
    a -5 never cancels the events beside it nor hides the item."""
    user = f"u-{uuid.uuid4().hex[:8]}"
    store = FeedbackStore(store_url)
    try:
        store.add(user, [("50", -5.0), ("100", 1.0), ("50", 1.0), ("7", 0.0), ("50", 2.0)])
        assert list(store.ratings_of(user, summed=True).items()) == [("100", 1.0), ("50", 3.0)]
        assert store.ratings_of(user) == {"50": 2.0, "100": 1.0, "7": 0.0}  # the latest
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_servers_opening_one_new_store_together_all_open_it(backend, request, tmp_path):
    """Servers (or `train --feedback` beside a server) opening a store that does not exist yet
    at the same moment each open it, and what one writes the others read. Before, the losers
    of the race to create its tables failed, on both backends, within the first trials."""
    for trial in range(8):
        if backend == "sqlite":
            opening: AbstractContextManager[str] = nullcontext(f"sqlite:///{tmp_path}/{trial}.db")
        else:
            opening = new_database(request.getfixturevalue("postgres_url"))
        with opening as url:
            opened, failed = open_together(url, 6)
            try:
                assert failed == [], f"trial {trial}: {failed[0]}"
                opened[0].add("u1", [("50", 4.0)])
                assert all(store.ratings_of("u1") == {"50": 4.0} for store in opened)
            finally:
                for store in opened:
                    store.close()


def test_sqlite_runs_in_wal_mode_next_to_the_model(tmp_path):
    url = default_url(tmp_path / "models" / "ml-100k")
    assert url == f"sqlite:///{tmp_path / 'models' / 'ml-100k.feedback.db'}"
    (tmp_path / "models").mkdir()
    FeedbackStore(url).close()
    with sqlite3.connect(tmp_path / "models" / "ml-100k.feedback.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_that_cannot_be_used_is_one_clear_error(tmp_path):
    with pytest.raises(StoreError, match="cannot"):
        FeedbackStore("nosuchdb://x")
    with pytest.raises(StoreError, match="cannot open"):
        FeedbackStore(f"sqlite:///{tmp_path / 'missing-folder' / 'f.db'}")


def test_concurrent_writers_each_return_after_their_rows_are_committed(store_url):
    store = FeedbackStore(store_url)
    user = f"g-{uuid.uuid4().hex[:8]}"
    returned: list[int] = []

    def writer(thread: int) -> None:
        for item in range(10):
            rows = [(f"{thread}-{item}", 3.0), (f"{thread}-x{item}", 4.0)]
            returned.append(store.add(user, rows))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert returned == [2] * 160
        assert len(FeedbackStore(store_url).ratings_of(user)) == 320
    finally:
        store.close()


@contextmanager
def writes_held(url: str) -> Iterator[None]:
    """Another connection holds the ratings table's write lock, so the store's writes wait
    (and queue up into one batch) until the block ends."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.begin()
            connection.exec_driver_sql("LOCK TABLE embedrec_ratings IN EXCLUSIVE MODE")
        yield
        connection.rollback()
    engine.dispose()


def test_a_write_the_database_refuses_fails_alone_not_its_batch(store_url):
    store = FeedbackStore(store_url)
    tag = uuid.uuid4().hex[:8]
    good = [f"good-{tag}-{n}" for n in range(12)]
    bad = [f"bad-{tag}-\ud800", f"bad-{tag}-\udfff"]  # no UTF-8 encoder takes a lone surrogate
    outcome: dict[str, object] = {}

    def write(user: str) -> None:
        try:
            outcome[user] = store.add(user, [("50", 4.0), ("100", 2.0)])
        except Exception as exc:  # noqa: BLE001 - the test looks at what each writer got
            outcome[user] = exc

    threads = [threading.Thread(target=write, args=(user,)) for user in [*good, *bad]]
    with writes_held(store_url):
        threads[0].start()  # the writer thread takes it alone and waits for the lock
        deadline = time.monotonic() + 8  # the lock's holder lets go before SQLite's 10 s
        while store._writer.thread is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        for thread in threads[1:]:
            thread.start()
        while store._writer.pending.qsize() < len(threads) - 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # every other write waits for the next batch, good and bad
    for thread in threads:
        thread.join(60)
    try:
        assert all(outcome[user] == 2 for user in good), outcome
        assert all(isinstance(outcome[user], RejectedWrite) for user in bad), outcome
        assert "refused" in str(outcome[bad[0]])
        assert all(store.ratings_of(user) == {"50": 4.0, "100": 2.0} for user in good)
    finally:
        store.close()


def test_a_postgresql_host_that_never_answers_is_an_error_not_a_hang():
    """A database behind a dead network (the TCP handshake done, nothing after) fails the call
    in seconds, so a request waiting on it ends (and a list is served from the model)."""
    outcome: list[BaseException] = []

    def connect(port: int) -> None:
        try:
            FeedbackStore(f"postgresql://nobody@127.0.0.1:{port}/nothing")
        except StoreError as exc:
            outcome.append(exc)

    with socket.create_server(("127.0.0.1", 0)) as hole:  # accepts, never answers
        attempt = threading.Thread(target=connect, args=(hole.getsockname()[1],), daemon=True)
        attempt.start()
        attempt.join(CONNECT_TIMEOUT_SECONDS * 4)
    assert not attempt.is_alive(), "still waiting on a host that never answers"
    assert outcome and "cannot open" in str(outcome[0])


def test_a_database_error_is_shown_without_sqlalchemys_link(tmp_path):
    """What a user or an operator's log reads: the driver's line, not the SQL statement and
    SQLAlchemy's "(Background on this error at: https://sqlalche.me/...)"."""
    store = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}")
    with pytest.raises(SQLAlchemyError) as caught, store.engine.connect() as connection:
        connection.execute(text("select nosuch from embedrec_ratings"))
    store.close()
    assert "sqlalche.me" in str(caught.value)  # as SQLAlchemy words it
    assert database_message(caught.value) == "no such column: nosuch"
