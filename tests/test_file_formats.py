"""Rating files as they come: headerless, whitespace-separated, compressed, dated; each file is
made here (never a copy of a public data set)."""

import bz2
import gzip
import zipfile

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from embedrec import DataError, DuplicatesWarning, load_ratings, load_split, read_ratings
from embedrec.cli import app
from embedrec.data.files import detect_separator

SPACED = "1 1 2\n1  2 3\n2\t1 4\n3   2 5\n"  # user item rating, no header, spaces and tabs


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_headerless_space_separated_file(tmp_path):
    assert detect_separator(SPACED) == "whitespace"
    ratings = read_ratings(write(tmp_path, "r.txt", SPACED))
    assert (len(ratings), ratings.n_users, ratings.n_items) == (4, 3, 2)
    assert sorted(ratings.ratings.tolist()) == [2, 3, 4, 5]
    assert "no header row" in ratings.notes[0] and "'1 1 2'" in ratings.notes[0]


def test_headerless_file_by_position_and_by_names(tmp_path):
    path = write(tmp_path, "r.txt", SPACED)
    swapped = read_ratings(path, header=False, user_col="1", item_col="0", rating_col="2")
    assert swapped.n_users == 2 and swapped.n_items == 3
    named = read_ratings(path, header=False, columns="user,item,stars")
    assert len(named) == 4 and named.n_users == 3
    with pytest.raises(DataError, match="3 column names given .* the first line has 2 fields"):
        read_ratings(write(tmp_path, "two.txt", "1 2\n3 4\n"), columns="user,item,rating")


def test_headerless_six_column_file_with_iso_dates(tmp_path):
    text = "7,10,4,2005-09-06,a,b\n8,10,3,2005-09-07,a,b\n7,11,5,2005-09-08,a,b\n"
    path = write(tmp_path, "r.csv", text)
    detected = read_ratings(path)
    named = read_ratings(path, columns="user,item,rating,date,x,y")
    day = 86400
    for ratings in detected, named:
        assert len(ratings) == 3 and ratings.n_users == 2
        assert np.diff(ratings.timestamps).tolist() == [day, day]
    assert named.timestamps[0] == 1125964800  # 2005-09-06 UTC


def test_a_header_with_rating_suffix_is_guessed_and_said(tmp_path):
    path = write(tmp_path, "r.csv", "customer,sku,movieRating\na,x,4\nb,x,5\n")
    ratings = read_ratings(path)
    assert len(ratings) == 2
    assert "columns guessed: user=customer, item=sku, rating=movieRating" in ratings.notes[0]
    stars = read_ratings(write(tmp_path, "s.csv", "userId,product,stars\na,x,4\n"))
    assert "user=userId, item=product, rating=stars" in stars.notes[0]
    plain = read_ratings(write(tmp_path, "p.csv", "user,item,rating\na,x,4\n"))
    assert plain.notes == []


def compressed_copies(tmp_path, text):
    data = text.encode()
    (tmp_path / "r.csv.gz").write_bytes(gzip.compress(data))
    (tmp_path / "r.csv.bz2").write_bytes(bz2.compress(data))
    with zipfile.ZipFile(tmp_path / "r.zip", "w") as archive:
        archive.writestr("r.csv", data)
    paths = [tmp_path / "r.csv.gz", tmp_path / "r.csv.bz2", tmp_path / "r.zip"]
    if pa.Codec.is_available("zstd"):
        codec = pa.Codec("zstd")
        with pa.CompressedOutputStream(str(tmp_path / "r.csv.zst"), codec.name) as stream:
            stream.write(data)
        paths.append(tmp_path / "r.csv.zst")
    return paths


def test_compressed_files_load_as_the_plain_file(tmp_path):
    text = "userId,movieId,rating,timestamp\n1,10,4,100\n1,11,3.5,200\n2,10,5,300\n"
    plain = read_ratings(write(tmp_path, "r.csv", text))
    for path in compressed_copies(tmp_path, text):
        ratings = read_ratings(path)
        assert ratings.user_map == plain.user_map and ratings.item_map == plain.item_map
        assert ratings.ratings.tolist() == plain.ratings.tolist()
        assert ratings.timestamps.tolist() == plain.timestamps.tolist()


def test_bad_compressed_files_are_named(tmp_path):
    (tmp_path / "bad.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"bad\.csv\.gz: not a readable gz file"):
        read_ratings(tmp_path / "bad.csv.gz")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("a.csv", "user,item,rating\n1,2,3\n")
        archive.writestr("b.csv", "user,item,rating\n1,2,3\n")
    with pytest.raises(DataError, match=r"two\.zip: a zip must hold exactly one .* \(a\.csv, b"):
        read_ratings(tmp_path / "two.zip")


def test_duplicated_header_names_are_one_clear_error(tmp_path):
    path = write(tmp_path, "r.csv", "u,i,u\na,b,c\n")
    with pytest.raises(DataError) as info:
        read_ratings(path)
    message = str(info.value)
    assert "r.csv line 1" in message and "'u' appears twice" in message
    assert "--no-header" in message
    with pytest.raises(DataError, match=r"r\.txt: the column name 'user' is given twice"):
        read_ratings(write(tmp_path, "r.txt", SPACED), columns="user,user,rating")


def test_separator_detection_failure_names_file_and_first_line(tmp_path):
    path = write(tmp_path, "odd.txt", "1,2;3\n4;5;6,7\n8\n9\n")
    with pytest.raises(DataError) as info:
        read_ratings(path)
    assert "odd.txt: could not detect the separator" in str(info.value)
    assert "'1,2;3'" in str(info.value)
    (tmp_path / "odd.txt.gz").write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(DataError, match=r"odd\.txt\.gz: could not detect"):
        read_ratings(tmp_path / "odd.txt.gz")


def test_duplicates_note_prints_plain_numbers(tmp_path):
    path = write(tmp_path, "r.csv", "user,item,rating\n308,5,1\n308,5,4\n")
    with pytest.warns(DuplicatesWarning, match="user 308, item 5"):
        ratings = read_ratings(path)
    assert "user 308, item 5" in ratings.notes[0]
    assert not any("np." in note for note in ratings.notes)


def test_load_split_passes_header_and_columns(tmp_path):
    path = write(tmp_path, "r.txt", SPACED)
    split = load_split(path, valid_pct=0, header=False, columns="user,item,rating")
    assert len(split.train) == 4


def test_train_help_says_what_is_detected_and_how_to_override():
    result = CliRunner().invoke(app, ["train", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for words in ("--no-header", "--columns", "whitespace", "0-based position", ".gz"):
        assert words in text


def test_cli_reads_a_headerless_file(tmp_path):
    lines = [f"{u} {i} {1 + (u * i) % 5}" for u in range(12) for i in range(10) if (u + i) % 3]
    path = write(tmp_path, "ratings.txt", "\n".join(lines) + "\n")
    args = ["train", "--data", str(path), "--no-header", "--columns", "user,item,rating"]
    result = CliRunner().invoke(
        app, [*args, "--model", "dot-bias", "--epochs", "1", "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output


def test_a_movielens_zip_as_downloaded_loads_like_its_folder(ml100k_dir, tmp_path):
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("u.data", "u.item"):
            zf.write(ml100k_dir / name, f"ml-100k/{name}")
    from_zip = load_ratings(archive)
    from_folder = load_ratings(ml100k_dir)
    assert len(from_zip) == len(from_folder) == 100_000
    assert from_zip.rating_scale == (1.0, 5.0) and from_zip.titles is not None
    assert np.array_equal(from_zip.ratings, from_folder.ratings)


ROWS = [(1, "0012", 4.0), (1, "0013", 2.5), (2, "0012", 5.0)]


@pytest.mark.parametrize("name", ["r.jsonl", "r.ndjson", "r.json", "r.jsonl.gz"])
def test_json_lines_load_with_their_types(tmp_path, name):
    text = "".join(f'{{"user": {u}, "item": "{i}", "rating": {r}}}\n' for u, i, r in ROWS)
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    ratings = load_ratings(path)
    frame = ratings.to_frame()
    assert list(zip(frame["user"], frame["item"], frame["rating"])) == ROWS  # "0012" stays text


def test_a_json_array_of_objects_loads_and_a_bad_value_names_its_row(tmp_path):
    objects = ",".join(f'{{"user": {u}, "item": "{i}", "rating": {r}}}' for u, i, r in ROWS)
    ratings = load_ratings(write(tmp_path, "r.json", f"[{objects}]"))
    assert len(ratings) == 3 and ratings.n_users == 2
    lines = write(tmp_path, "bad.jsonl", '{"user": 1, "item": 2, "rating": 3}\n' * 2)
    lines.write_text(lines.read_text() + '{"user": 2, "item": 2, "rating": "lots"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl line 3: field 'rating' is 'lots'"):
        load_ratings(lines)


@pytest.mark.parametrize("name", ["r.json", "r.jsonl"])
def test_json_saved_with_a_byte_order_mark_and_windows_line_ends_loads(tmp_path, name):
    rows = [f'{{"user": {u}, "item": "{i}", "rating": {r}}}' for u, i, r in ROWS]
    text = f"[{','.join(rows)}]" if name == "r.json" else "\r\n".join(rows) + "\r\n"
    path = tmp_path / name  # as Notepad or PowerShell's Out-File -Encoding utf8 save it
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    frame = load_ratings(path).to_frame()
    assert list(zip(frame["user"], frame["item"], frame["rating"])) == ROWS


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("cut.json", '[{"user": 1, "item": 2', "not readable as a JSON array of objects"),
        ("prose.jsonl", "user item rating\n", "not readable as JSON Lines"),
        ("r.xlsx", "PK\x03\x04", "an Excel workbook, which is not read; save its sheet as CSV"),
        ("r.ods", "x", "an OpenDocument spreadsheet"),
    ],
)
def test_unreadable_json_and_spreadsheets_are_named_with_what_to_do(tmp_path, name, text, expected):
    result = CliRunner().invoke(
        app, ["train", "--data", str(write(tmp_path, name, text)), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert name in result.output and expected in result.output
    with pytest.raises(DataError, match="--columns and --no-header are for text files"):
        load_ratings(write(tmp_path, "r.jsonl", '{"user": 1}\n'), header=False)
