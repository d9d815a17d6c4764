"""An item table beside the ratings (`--item-table`, `item_table=`): titles and genres joined by
item id, found by column name or by position, on both sides of a split and in a trained model;
a table that names none of the rated items, or lacks the columns, is an error naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import embedrec
from embedrec import DataError
from tests.hostile import assert_refused, invoke
from tests.test_interactions_data import LASTFM

PLAYS = [(1, 10, 5), (1, 11, 2), (2, 10, 7), (2, 12, 1), (3, 11, 4), (3, 12, 9), (4, 10, 3)]
ARTISTS = {10: "Pet Shop Boys", 11: "a-ha", 12: "Erasure", 99: "Nobody Played Us"}


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    plays = tmp_path / "user_artists.tsv"
    plays.write_text(
        "userID\tartistID\tweight\n" + "".join(f"{u}\t{a}\t{w}\n" for u, a, w in PLAYS)
    )
    artists = tmp_path / "artists.tsv"
    artists.write_text(
        "id\tname\turl\n" + "".join(f"{i}\t{n}\thttp://x/{i}\n" for i, n in ARTISTS.items())
    )
    return plays, artists


def named(ratings: embedrec.Ratings) -> dict:
    return dict(zip(ratings.item_map.ids.tolist(), ratings.titles.tolist()))


def test_titles_join_by_the_id_column_found_by_name(files):
    plays, artists = files
    ratings = embedrec.load_ratings(plays, item_table=artists)
    assert named(ratings) == {10: "Pet Shop Boys", 11: "a-ha", 12: "Erasure"}
    assert ratings.genres is None  # the table has none
    assert any("3 of 3 items named" in note and "title 'name'" in note for note in ratings.notes)


def test_a_headerless_table_is_id_title_genres_by_position(tmp_path):
    frame = pd.DataFrame({"user": [1, 1, 2], "item": [2844, 1074638, 2844], "rating": [7, 0, 10]})
    (tmp_path / "movies.dat").write_text(
        "0002844::Fantômas (1913)::Crime|Drama\n1074638::Skyfall (2012)::Action\n"
    )
    ratings = embedrec.load_ratings(frame, item_table=tmp_path / "movies.dat")
    assert named(ratings) == {2844: "Fantômas (1913)", 1074638: "Skyfall (2012)"}
    assert ratings.genres.tolist() == ["Crime|Drama", "Action"]


def test_both_sides_of_a_split_are_named_from_files_or_a_frame(files, tmp_path):
    plays, artists = files
    test = tmp_path / "test.tsv"
    test.write_text("userID\tartistID\tweight\n4\t12\t6\n5\t99\t1\n")
    table = pd.DataFrame({"artist": list(ARTISTS), "title": list(ARTISTS.values())})
    split = embedrec.load_split(plays, valid=test, item_table=table)
    for side in (split.train, split.valid):
        assert named(side) == {i: ARTISTS[i] for i in side.item_map.ids.tolist()}
    random = embedrec.load_split(plays, valid_pct=0.3, seed=0, item_table=artists)
    assert named(random.valid) == named(random.train) == {i: ARTISTS[i] for i in (10, 11, 12)}


def test_a_model_trained_with_an_item_table_speaks_its_names(files, tmp_path):
    plays, artists = files
    out = tmp_path / "m"
    trained = invoke(
        "train", "--data", plays, "--item-table", artists, "--model", "ease", "--out", out
    )
    assert trained.exit_code == 0, trained.output
    assert "titles from" in trained.output
    listed = invoke("recommend", out, "--user", 4, "-n", 2, "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)["items"]
    assert {row["item"]: row["title"] for row in rows} == {11: "a-ha", 12: "Erasure"}
    rec = embedrec.load(out)
    assert rec.recommend(liked=["pet shop boys"], n=1)["item"].iloc[0] in (11, 12)  # by name


def test_a_table_of_other_ids_or_without_the_columns_is_refused(files, tmp_path):
    plays, _ = files
    others = tmp_path / "others.csv"
    others.write_text("id,name\n500,X\n501,Y\n")
    result = invoke("train", "--data", plays, "--item-table", others, "--out", tmp_path / "m")
    assert_refused(result, "others.csv", "names none of the rated items", "500")
    assert not (tmp_path / "m").exists()
    unnamed = tmp_path / "unnamed.csv"
    unnamed.write_text("code,label\n10,X\n")
    with pytest.raises(DataError, match=r"unnamed.csv.*columns are: code, label"):
        embedrec.load_ratings(plays, item_table=unnamed)
    lone = tmp_path / "ids.csv"
    lone.write_text("id\n10\n11\n")
    with pytest.raises(DataError, match="ids.csv: an item table holds an id and a title column"):
        embedrec.load_ratings(plays, item_table=lone)
    missing = tmp_path / "absent.csv"
    refused = invoke("train", "--data", plays, "--item-table", missing, "--out", tmp_path / "m")
    assert_refused(refused, "absent.csv")
    with pytest.raises(DataError, match="genres_col"):
        embedrec.data.read_item_table(pd.DataFrame({"id": [10], "name": ["x"]}), genres_col="kind")


def test_real_lastfm_artists_name_every_artist_played():
    if not LASTFM.is_file():
        pytest.skip(f"needs Last.fm (HetRec 2011) at {LASTFM.parent} (absent here)")
    ratings = embedrec.load_ratings(LASTFM, item_table=LASTFM.parent / "artists.dat")
    played = set(pd.read_csv(LASTFM, sep="\t")["artistID"])
    listed = pd.read_csv(LASTFM.parent / "artists.dat", sep="\t", quoting=3)
    names = dict(zip(listed["id"], listed["name"]))
    assert ratings.n_items == len(played)
    assert named(ratings) == {artist: names.get(artist, "") for artist in played}
    assert named(ratings)[1686] == '"Weird Al" Yankovic'  # a tab-separated file's quotes kept


def test_a_json_lines_table_is_read_by_its_keys_not_by_position(files, tmp_path):
    plays, _ = files
    table = tmp_path / "artists.jsonl"  # keys in no particular order, and a url beside them
    rows = [{"name": n, "url": f"http://x/{i}", "id": i} for i, n in ARTISTS.items()]
    table.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ratings = embedrec.load_ratings(plays, item_table=table)
    assert named(ratings) == {10: "Pet Shop Boys", 11: "a-ha", 12: "Erasure"}
    assert ratings.genres is None  # the url is no genre


def test_ids_written_as_text_or_beside_a_missing_id_still_join(files, tmp_path):
    plays, _ = files
    text_ids = tmp_path / "artists.json"  # JSON keeps "10" as text; the plays read 10
    text_ids.write_text(json.dumps([{"id": str(i), "name": n} for i, n in ARTISTS.items()]))
    assert named(embedrec.load_ratings(plays, item_table=text_ids))[12] == "Erasure"
    holed = tmp_path / "holed.csv"  # a row without an id made the column floats: '10.0'
    holed.write_text("id,name\n10,Pet Shop Boys\n,Unknown\n12,Erasure\n")
    assert named(embedrec.load_ratings(plays, item_table=holed)) == {
        10: "Pet Shop Boys",
        11: "",
        12: "Erasure",
    }


def test_a_table_without_genres_keeps_a_movielens_folder_s_own(ml100k_dir, tmp_path):
    table = tmp_path / "names.csv"
    table.write_text("item,title\n50,Star Wars\n")
    ratings = embedrec.load_ratings(ml100k_dir, item_table=table)
    star_wars = ratings.item_map.lookup(50)
    assert ratings.titles[star_wars] == "Star Wars"
    assert ratings.genres is not None and "Sci-Fi" in ratings.genres[star_wars]


def test_zero_padded_ids_kept_as_text_by_json_ratings_find_a_text_table(tmp_path):
    plays = tmp_path / "plays.jsonl"  # JSON keeps "0012" text; a CSV's 0012 was read as 12
    plays.write_text('{"user": 1, "item": "0012"}\n{"user": 2, "item": "0013"}\n')
    table = tmp_path / "items.csv"
    table.write_text("id,title\n0012,Twelve\n0013,Thirteen\n")
    assert named(embedrec.load_ratings(plays, item_table=table)) == {
        "0012": "Twelve",
        "0013": "Thirteen",
    }


def test_book_crossing_headers_are_found_by_name(tmp_path):
    """Book-Crossing writes `"User-ID";"ISBN";"Book-Rating"` and `"ISBN";"Book-Title"`: the
    hyphenated names are the usual ones, so neither file needs renaming to train."""
    ratings = tmp_path / "BX-Book-Ratings.csv"
    ratings.write_text(
        '"User-ID";"ISBN";"Book-Rating"\n'
        + "".join(
            f'"{u}";"{i}";"{r}"\n'
            for u, i, r in [(7, "034545104X", 8), (7, "0155061224", 5), (9, "034545104X", 9)]
        )  # fmt: skip
    )
    books = tmp_path / "BX-Books.csv"
    books.write_text(
        '"ISBN";"Book-Title";"Book-Author"\n'
        '"034545104X";"Flesh Tones; a Novel";"M. J. Rose"\n'
        '"0155061224";"Rites of Passage";"Judith"\n'
    )
    loaded = embedrec.load_ratings(ratings, item_table=books)
    assert loaded.n_users == 2 and loaded.ratings.tolist() == [8.0, 5.0, 9.0]
    assert named(loaded) == {"0155061224": "Rites of Passage", "034545104X": "Flesh Tones; a Novel"}


def test_liked_says_how_to_name_a_title_holding_a_comma(files, tmp_path):
    """A shop's titles hold commas ('Widget, deluxe'): `--liked` splits at them, so the first
    half is unknown; the error says to give a JSON list, and that list works."""
    plays, artists = files
    artists.write_text(artists.read_text().replace("Erasure", "Erasure, live"))
    out = tmp_path / "m"
    assert invoke("train", "--data", plays, "--item-table", artists, "--model", "ease",
                  "--out", out).exit_code == 0  # fmt: skip
    assert_refused(
        invoke("recommend", out, "--liked", "Erasure, live", "-n", 1),
        "unknown item 'Erasure'",
        "--liked is split at commas",
        "a JSON list",
    )
    listed = invoke("recommend", out, "--liked", '["Erasure, live"]', "-n", 1, "--json")
    assert listed.exit_code == 0, listed.output


def test_a_shops_products_table_is_read_by_its_usual_names(tmp_path):
    """A shop's products.csv: `product_id,product_name,category`, names holding commas and
    quotes. The name column is the title (a single column named *_name), category the genre."""
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,product_id,rating\n1,10,5\n1,11,3\n2,10,4\n")
    products = tmp_path / "products.csv"
    pd.DataFrame(
        {
            "product_id": [10, 11],
            "product_name": ['Mug, "big"', "Plate"],
            "category": ["Cup", "Dish"],
        }
    ).to_csv(products, index=False)
    loaded = embedrec.load_ratings(orders, item_table=products)
    assert named(loaded) == {10: 'Mug, "big"', 11: "Plate"}
    assert loaded.genres is not None and list(loaded.genres) == ["Cup", "Dish"]
