"""Reading what a user hands a trained model: pairs to score and a new user's ratings, from text,
JSON, CSV/TSV and Parquet; every unusable input is a DataError naming the file or the option."""

import json

import pandas as pd
import pytest

from embedrec import DataError
from embedrec.data import read_pairs, read_user_ratings


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pairs_from_csv_keep_file_order_and_drop_other_columns(tmp_path):
    path = write(tmp_path, "pairs.csv", "user,item,note\nu1,100,a\nu1,999,b\nu2,100,c\n")
    pairs = read_pairs(path)
    assert list(pairs.columns) == ["user", "item"]
    assert pairs.to_dict(orient="list") == {"user": ["u1", "u1", "u2"], "item": [100, 999, 100]}


def test_pairs_guess_movielens_column_names_in_tsv(tmp_path):
    path = write(tmp_path, "pairs.tsv", "userId\tmovieId\n1\t50\n2\t7\n")
    pairs = read_pairs(str(path))
    assert pairs.to_dict(orient="list") == {"user": [1, 2], "item": [50, 7]}


def test_pairs_from_parquet(tmp_path):
    path = tmp_path / "pairs.parquet"
    pd.DataFrame({"customer_id": ["c1", "c2"], "product_id": ["p9", "p8"]}).to_parquet(path)
    pairs = read_pairs(path)
    assert pairs.to_dict(orient="list") == {"user": ["c1", "c2"], "item": ["p9", "p8"]}


def test_pairs_without_a_user_or_item_column_name_the_file_and_columns(tmp_path):
    path = write(tmp_path, "pairs.csv", "who,what\nu1,100\n")
    with pytest.raises(DataError) as error:
        read_pairs(path)
    message = str(error.value)
    assert str(path) in message and "who, what" in message
    assert "name them user and item in its header" in message  # predict has no --user-col


def test_pairs_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="nothere.csv: no such file"):
        read_pairs(tmp_path / "nothere.csv")


def test_user_ratings_from_json_text():
    given = read_user_ratings('{"Star Wars (1977)": 5, "50": 4.5, "7": "3"}')
    assert given == {"Star Wars (1977)": 5.0, "50": 4.5, "7": 3.0}
    assert all(isinstance(v, float) for v in given.values())


def test_user_ratings_from_json_file(tmp_path):
    path = write(tmp_path, "mine.json", json.dumps({"100": 5, "Heat (1995)": 2}))
    assert read_user_ratings(path=path) == {"100": 5.0, "Heat (1995)": 2.0}


def test_user_ratings_from_csv_by_item_and_by_title(tmp_path):
    by_item = write(tmp_path, "mine.csv", "item,rating\n100,5\n101,1.5\n")
    assert read_user_ratings(path=by_item) == {100: 5.0, 101: 1.5}
    by_title = write(tmp_path, "titles.csv", 'title,stars\n"Heat, The (1995)",4\nAlien,5\n')
    assert read_user_ratings(path=str(by_title)) == {"Heat, The (1995)": 4.0, "Alien": 5.0}


def test_user_ratings_from_parquet_prefer_the_item_column(tmp_path):
    path = tmp_path / "mine.parquet"
    pd.DataFrame({"movieId": [1, 2], "title": ["A", "B"], "rating": [3, 4]}).to_parquet(path)
    assert read_user_ratings(path=path) == {1: 3.0, 2: 4.0}


def test_user_ratings_bad_json_text_names_the_option():
    with pytest.raises(DataError, match="--ratings is not JSON"):
        read_user_ratings("{Star Wars: 5}")
    with pytest.raises(DataError, match="--ratings takes a JSON object"):
        read_user_ratings("[5, 4]")
    with pytest.raises(DataError, match="--ratings: the rating of 'Alien' is 'great'"):
        read_user_ratings('{"Alien": "great"}')


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("mine.json", "{not json", "not JSON"),
        ("mine.json", "[1, 2]", "needs a JSON object"),
        ("mine.json", '{"Alien": null}', "the rating of 'Alien' is None, not a number"),
        ("mine.csv", "item,score\n1,five\n", "line 2: field 'score' is 'five', not a number"),
        ("mine.csv", "item,rating\n1,\n", "line 2: field 'rating' is empty"),
        ("mine.csv", "item,rating\n1,4\n,3\n", "line 3: field 'item' is empty"),
        ("mine.csv", "what,rating\n1,4\n", "needs an item (or title) and a rating column"),
        ("mine.csv", "item,rating\n1,4,9\n", "line 2: expected 2 fields"),
    ],
)
def test_user_ratings_bad_file_names_the_file(tmp_path, name, text, expected):
    path = write(tmp_path, name, text)
    with pytest.raises(DataError) as error:
        read_user_ratings(path=path)
    message = str(error.value)
    assert str(path) in message and expected in message


def test_user_ratings_need_exactly_one_source(tmp_path):
    with pytest.raises(DataError, match="no ratings given"):
        read_user_ratings()
    path = write(tmp_path, "mine.json", '{"1": 5}')
    with pytest.raises(DataError, match="not both"):
        read_user_ratings('{"1": 5}', path)
    with pytest.raises(DataError, match="missing.csv: no such file"):
        read_user_ratings(path=tmp_path / "missing.csv")


def test_user_ratings_from_json_lines_by_their_keys(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"rating": 5, "item": 50, "when": 1}\n{"rating": 3, "item": 172, "when": 2}\n')
    assert read_user_ratings(path=path) == {50: 5.0, 172: 3.0}
