"""Reading ratings files: separators, column guessing, and every bad-input case named in the
error with file, line and field."""

import warnings

import pandas as pd
import pytest

import embedrec
from embedrec import (
    DataError,
    DuplicatesWarning,
    load_ratings,
    load_split,
    ratings_from_frame,
    read_ratings,
)
from embedrec.data.files import detect_separator


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


@pytest.mark.parametrize("sep", [",", "\t", ";", "|", "::"])
def test_detects_each_separator(tmp_path, sep):
    lines = ["user", "item", "rating"], ["a", "x", "4"], ["b", "y", "2.5"], ["a", "y", "1"]
    path = write(tmp_path, "r.txt", "\n".join(sep.join(line) for line in lines) + "\n")
    ratings = read_ratings(path)
    assert len(ratings) == 3 and ratings.n_users == 2 and ratings.n_items == 2
    assert detect_separator(path.read_text()) == sep


def test_guesses_movielens_style_column_names_and_keeps_string_ids(tmp_path):
    path = write(
        tmp_path, "r.csv", "userId,movieId,rating,timestamp\nann,m1,4.5,100\nbob,m1,3,200\n"
    )
    ratings = read_ratings(path)
    assert ratings.user_map.ids.tolist() == ["ann", "bob"]
    assert ratings.timestamps.tolist() == [100, 200]


def test_named_columns_and_titles(tmp_path):
    path = write(tmp_path, "r.csv", 'who,what,stars,name\n1,7,5,"Heat, 1995"\n2,7,4,"Heat, 1995"\n')
    ratings = read_ratings(
        path, user_col="who", item_col="what", rating_col="stars", title_col="name"
    )
    assert ratings.titles.tolist() == ["Heat, 1995"]


def test_parquet_and_dataframe(tmp_path, small_frame):
    path = tmp_path / "r.parquet"
    small_frame.to_parquet(path)
    from_file, from_frame = load_ratings(path), load_ratings(small_frame)
    assert len(from_file) == len(from_frame) == len(small_frame)
    assert from_file.user_map == from_frame.user_map


def test_parquet_numbers_are_read_a_row_group_at_a_time_alike(tmp_path, small_frame):
    """Number columns are copied into numpy one row group at a time (memory: Arrow never
    holds a whole column); what loads is what the whole-column path and a DataFrame give,
    and a column with a null in a late row group or of text falls back to the whole column."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from embedrec.data.parquet import ParquetColumns

    frame = small_frame.assign(
        user=small_frame["user"].str[1:].astype(np.int32),
        rating=small_frame["rating"].astype(np.float32),
    )
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=7)
    columns = ParquetColumns(pq.ParquetFile(path))
    assert columns.parquet.num_row_groups > 3
    for name in ("user", "item", "rating", "timestamp"):
        numbers = columns.numbers(name)
        whole = columns.column(name).to_numpy()
        assert numbers is not None and numbers.dtype == whole.dtype
        np.testing.assert_array_equal(numbers, whole)
    loaded, expected = load_ratings(path), ratings_from_frame(frame)
    for name in ("users", "items", "ratings", "timestamps"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(expected, name))
    assert loaded.user_map == expected.user_map and loaded.item_map == expected.item_map
    holed = frame.assign(rating=frame["rating"].where(frame.index != len(frame) - 1))
    pq.write_table(pa.Table.from_pandas(holed, preserve_index=False), path, row_group_size=7)
    assert ParquetColumns(pq.ParquetFile(path)).numbers("rating") is None
    with pytest.raises(DataError, match=f"line {len(frame) + 1}|row {len(frame) - 1}"):
        load_ratings(path)
    texts = frame.assign(user=frame["user"].astype(str))
    pq.write_table(pa.Table.from_pandas(texts, preserve_index=False), path, row_group_size=7)
    assert ParquetColumns(pq.ParquetFile(path)).numbers("user") is None
    assert load_ratings(path).user_map.ids.tolist() == sorted(texts["user"].unique())


def test_dates_become_unix_seconds():
    frame = pd.DataFrame({"user": [1], "item": [2], "rating": [3], "date": ["1970-01-02"]})
    assert ratings_from_frame(frame).timestamps.tolist() == [86400]


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "user,item,rating\n1,2,4\n1,3,abc\n",
            "r.csv line 3: field 'rating' is 'abc', not a number",
        ),
        ("user,item,rating\n1,2,4\n1,3,\n", "r.csv line 3: field 'rating' is empty"),
        ("user,item,rating\n1,2,4\n,3,5\n", "r.csv line 3: field 'user' is empty"),
        (
            "user,item,rating\n1,2,4\n1,3\n",
            "r.csv line 3: expected 3 fields separated by comma, found 2",
        ),
        (  # two id columns alone are interactions; an unknown third column is asked about
            "user,item,foo\n1,2,x\n",
            "cannot tell which column holds the rating; columns are: user, item, foo",
        ),
        ("user,item,rating\n", "no ratings"),
    ],
)
def test_bad_files_name_file_line_and_field(tmp_path, text, expected):
    path = write(tmp_path, "r.csv", text)
    with pytest.raises(DataError) as info:
        read_ratings(path)
    assert expected in str(info.value)


def test_rating_nan_in_a_late_row_is_found(tmp_path):
    rows = "".join(f"{i},{i},4\n" for i in range(5000))
    path = write(tmp_path, "r.csv", "user,item,rating\n" + rows + "9,9,nan\n")
    with pytest.raises(DataError, match="line 5002: field 'rating'"):
        read_ratings(path)


def test_empty_file(tmp_path):
    with pytest.raises(DataError, match="the file is empty"):
        read_ratings(write(tmp_path, "r.csv", ""))


def test_missing_file_and_wrong_name(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_ratings(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="no column 'score'"):
        read_ratings(write(tmp_path, "r.csv", "user,item,rating\n1,2,3\n"), rating_col="score")


def test_wrong_separator_says_so(tmp_path):
    path = write(tmp_path, "r.tsv", "user\titem\trating\n1\t2\t3\n")
    with pytest.raises(DataError, match="only one column was found: is the separator right"):
        read_ratings(path, sep=",")


def test_ratings_outside_declared_range(tmp_path):
    path = write(tmp_path, "r.csv", "user,item,rating\n1,2,4\n1,3,7\n")
    with pytest.raises(
        DataError,
        match=r"line 3: field 'rating' is 7, outside the declared "
        r"rating range 1\.\.5",
    ):
        read_ratings(path, rating_scale=(1, 5))


def test_duplicates_keep_last_and_are_reported(tmp_path):
    path = write(tmp_path, "r.csv", "user,item,rating\n1,2,1\n1,3,4\n1,2,5\n")
    with pytest.warns(DuplicatesWarning, match="1 duplicate.*r.csv line 2"):
        ratings = read_ratings(path)
    assert len(ratings) == 2
    assert ratings.to_frame().set_index("item").loc[2, "rating"] == 5
    assert "1 duplicate (user, item) rows: kept the last" in ratings.notes[0]
    assert "line 2, user 1, item 2)" in ratings.notes[0]
    text_ids = write(tmp_path, "t.csv", "user,item,rating\nann,x7,1\nbob,x7,4\nann,x7,5\n")
    with pytest.warns(DuplicatesWarning):
        assert "line 2, user 'ann', item 'x7')" in read_ratings(text_ids).notes[0]


@pytest.mark.parametrize(
    "load",
    [
        lambda path: load_ratings(path),
        lambda path: load_split(path, valid_pct=0.2),
        lambda path: ratings_from_frame(pd.read_csv(path)),
        lambda path: load_ratings(pd.read_csv(path)),
    ],
)
def test_every_public_loader_warns_of_dropped_duplicates_once(tmp_path, load):
    path = write(tmp_path, "r.csv", "user,item,rating\n1,2,1\n1,3,4\n1,2,5\n2,2,3\n2,3,1\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load(path)
    said = [str(w.message) for w in caught if issubclass(w.category, DuplicatesWarning)]
    assert len(said) == 1 and "1 duplicate (user, item) rows: kept the last" in said[0]


def test_dataframe_errors_name_the_row():
    frame = pd.DataFrame({"user": [1, 2], "item": [1, 2], "rating": [4.0, float("nan")]})
    with pytest.raises(DataError, match="DataFrame row 1: field 'rating' is empty"):
        ratings_from_frame(frame)


def test_double_colon_file_with_a_bad_line(tmp_path):
    path = write(tmp_path, "ratings.dat", "user::item::rating\n1::2::4\n1::x\n")
    with pytest.raises(DataError, match=r"line 3: expected 3 fields separated by '::', found 2"):
        read_ratings(path)


def test_ids_in_a_dataframe_s_index_are_its_columns():
    """`set_index(["user", "item"])` or a `groupby(...).mean()` leaves the ids in the index:
    they load as the columns they were, and `train` and `evaluate` take such tables too."""
    frame = pd.DataFrame(
        {"user": [1, 1, 2, 3], "item": ["a", "b", "a", "c"], "rating": [4.0, 5, 3, 2]}
    )
    expected = ratings_from_frame(frame)
    for indexed in (
        frame.set_index(["user", "item"]),
        frame.set_index("user"),
        frame.set_index(["user", "item"])["rating"],  # a Series
        frame.groupby(["user", "item"])["rating"].mean(),
    ):
        loaded = load_ratings(indexed)
        assert loaded.user_map.ids.tolist() == [1, 2, 3]
        assert loaded.item_map.ids.tolist() == ["a", "b", "c"]
        assert loaded.ratings.tolist() == expected.ratings.tolist()
    # ids already columns: an index of its own (an event id) stays out of the table, so plays
    # stay interactions weighing 1, not a table asking which column is the rating
    plays = frame[["user", "item"]].rename_axis("event_id")
    assert load_ratings(plays).interactions
    positional = frame.set_index("rating").rename_axis("score")
    assert load_ratings(positional, user_col="0", item_col="1").interactions
    split = load_split(frame.set_index(["user", "item"]), valid_pct=0.25, seed=0)
    rec = embedrec.train(split, model="bias")
    assert embedrec.evaluate(rec, frame.set_index(["user", "item"]))["n"] == 4
