"""The feedback store on SQLite and on a real PostgreSQL: what one server writes another reads,
the latest rating of an item counts, hiding is idempotent, a bad URL is one clear error."""

from __future__ import annotations

import sqlite3
import threading
import uuid

import pytest

from embedrec.service import FeedbackStore, StoreError, default_url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.db'}"
    return request.getfixturevalue("postgres_url")


def test_two_servers_share_one_store(url):
    user = f"u-{uuid.uuid4().hex[:8]}"
    one, two = FeedbackStore(url), FeedbackStore(url)
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


def test_concurrent_writers_each_return_after_their_rows_are_committed(url):
    store = FeedbackStore(url)
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
        assert len(FeedbackStore(url).ratings_of(user)) == 320
    finally:
        store.close()
