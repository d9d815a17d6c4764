import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from embedrec import IdMap, ratings_from_frame


@given(st.lists(st.one_of(st.integers(-1000, 1000)), min_size=1, max_size=50))
def test_idmap_round_trips_integer_ids(raw):
    m = IdMap(raw)
    codes = m.encode(raw)
    assert m.decode(codes).tolist() == raw
    assert len(m) == len(set(raw))
    assert sorted(set(raw)) == m.ids.tolist()


@given(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=50))
def test_idmap_round_trips_string_ids(raw):
    m = IdMap(np.array(raw, dtype=object))
    assert m.decode(m.encode(raw)).tolist() == raw


def test_lookup_accepts_ids_typed_as_text():
    ints, strs = IdMap([3, 1, 2]), IdMap(["10", "7"])
    assert ints.lookup("2") == 1 and ints.lookup(2) == 1
    assert strs.lookup(7) == 1
    assert ints.lookup("nope") == -1 and ints.lookup(99) == -1


def test_crosstab_shows_most_active_users_and_most_rated_items():
    frame = pd.DataFrame(
        {
            "user": [1, 1, 1, 2, 2, 3],
            "item": [10, 20, 30, 10, 20, 10],
            "rating": [5, 4, 3, 2, 1, 4],
            "title": ["A", "B", "C", "A", "B", "A"],
        }
    )
    table = ratings_from_frame(frame).crosstab(n_users=2, n_items=2)
    assert table.index.tolist() == [1, 2]
    assert table.columns.tolist() == ["A", "B"]
    assert table.loc[2, "B"] == 1


def test_to_frame_speaks_raw_ids(small_frame):
    ratings = ratings_from_frame(small_frame)
    back = ratings.to_frame()
    original = small_frame.set_index(["user", "item"])["rating"]
    again = back.set_index(["user", "item"])["rating"]
    assert again.sort_index().equals(original.astype("float32").sort_index())
