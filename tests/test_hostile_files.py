"""Hostile-input corpus, part 1: rating files and the options that say how to read them.

Each case is a file as a user might feed it (bytes written in code) and the options typed with
it; `train` must refuse it with exit code 2 and one line naming the file (and the line and
field where there is one), print no traceback and write no model.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import sqlite3
import tarfile
import zipfile

import numpy as np
import pandas as pd
import pytest

import embedrec
from embedrec.data.compressed import read_bytes
from embedrec.service import FeedbackStore
from tests.conftest import low_rank_frame
from tests.hostile import (
    assert_process_refused,
    assert_refused,
    invoke,
    invoke_bound_by_permissions,
)

GOOD = b"user,item,rating\nu1,1,3\nu2,2,4\nu3,3,5\nu4,1,2\n"


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def patched_zip(flag: int = 0, method: int | None = None) -> bytes:
    """A one-member zip with its header bits set as another tool's would be: flag 1 is an
    encrypted member, method 9 Deflate64 (neither of which Python reads)."""
    raw = bytearray(zipped({"r.csv": GOOD}))
    central = raw.index(b"PK\x01\x02")
    raw[6] |= flag
    raw[central + 8] |= flag
    if method is not None:
        raw[8] = raw[central + 10] = method
    return bytes(raw)


def corrupt_lzma_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_LZMA) as archive:
        archive.writestr("r.csv", GOOD * 20)
    raw = bytearray(buffer.getvalue())
    raw[60:80] = bytes(20)
    return bytes(raw)


def tar_gz() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo("r.csv")
        member.size = len(GOOD)
        archive.addfile(member, io.BytesIO(GOOD))
    return buffer.getvalue()


# (case id, file name, content, extra options, texts the error line must hold besides the
# file's name)
FILES = [
    ("empty", "r.csv", b"", [], ["empty"]),
    ("blank-lines", "r.csv", b"\n\n  \n", [], ["empty"]),
    ("header-only", "r.csv", b"user,item,rating\n", [], []),
    ("no-rating-column", "r.csv", b"user,item,foo\nu1,1,x\nu2,2,y\n", [], ["rating", "foo"]),
    ("no-item-column", "r.csv", b"user,rating\nu1,1\nu2,2\n", [], ["item"]),
    ("no-user-column", "r.csv", b"item,rating\n1,1\n2,2\n", [], ["user"]),
    ("one-column", "r.csv", b"user item rating x\nu1 1 3 4\nu2;2;3;4\n", ["--sep", ","], []),
    ("word-rating-line-3", "r.csv", b"user,item,rating\nu1,1,3\nu1,3,abc\n", [], ["line 3"]),
    ("empty-rating", "r.csv", b"user,item,rating\nu1,1,\nu2,2,3\n", [], ["line 2", "empty"]),
    ("nan-rating", "r.csv", b"user,item,rating\nu1,1,3\nu2,2,nan\n", [], ["line 3", "NaN"]),
    ("inf-rating", "r.csv", b"user,item,rating\nu1,1,inf\nu2,2,3\n", [], ["line 2"]),
    ("minus-inf-rating", "r.csv", b"user,item,rating\nu1,1,3\nu2,2,-inf\n", [], ["line 3"]),
    ("rating-1e39", "r.csv", b"user,item,rating\nu1,1,3\nu2,2,1e39\n", [], ["line 3", "large"]),
    ("rating-minus-1e39", "r.csv", b"user,item,rating\nu1,1,-1e39\nu2,2,3\n", [], ["line 2"]),
    ("rating-1e400", "r.csv", b"user,item,rating\nu1,1,3\nu2,2,1e400\n", [], ["line 3"]),
    ("rating-5-stars", "r.csv", b"user,item,rating\nu1,1,3\nu2,2,5 stars\n", [], ["line 3"]),
    ("rating-true", "r.csv", b"user,item,rating\nu1,1,3\nu2,2,True\n", [], ["line 3"]),
    ("rating-fraction-slash", "r.csv", b"user,item,rating\nu1,1,3\nu2,2,4/5\n", [], ["line 3"]),
    ("rating-comma-decimal", "r.csv", b"user;item;rating\nu1;1;3\nu2;2;4,5\n", [], ["line 3"]),
    ("empty-user", "r.csv", b"user,item,rating\nu1,1,3\n,2,4\n", [], ["line 3", "empty"]),
    ("blank-user", "r.csv", b"user,item,rating\nu1,1,3\n  ,2,4\n", [], ["line 3", "empty"]),
    ("empty-item", "r.csv", b"user,item,rating\nu1,,3\nu2,2,4\n", [], ["line 2", "empty"]),
    ("only-separators", "r.csv", b"user,item,rating\nu1,1,3\n,,\n", [], ["line 3"]),
    ("extra-field", "r.csv", b"user,item,rating\nu1,1,3\nu2,2,4,9\n", [], ["line 3", "3 fields"]),
    ("missing-field", "r.csv", b"user,item,rating\nu1,1,3\nu2,2\n", [], ["line 3"]),
    ("unclosed-quote", "r.csv", b'user,item,rating\nu1,"1,3\nu2,2,4\n', [], []),
    ("header-again-line-4", "r.csv", GOOD[:-9] + b"user,item,rating\n", [], ["line 4"]),
    ("not-utf8-user", "r.csv", b"user,item,rating\nu1,1,3\nu\xff2,2,4\n", [], ["line 3", "UTF-8"]),
    ("not-utf8-item", "r.csv", b"user,item,rating\nu1,\xe9t\xe9,3\nu2,2,4\n", [], ["line 2"]),
    (
        "not-utf8-title",
        "r.csv",
        b"user,item,rating,title\nu1,1,3,ok\nu2,2,4,Caf\xe9\n",
        [],
        ["line 3", "UTF-8"],
    ),
    ("utf16-no-rating", "r.csv", "user,item,foo\nu1,1,x\n".encode("utf-16"), [], ["rating"]),
    ("not-utf8-header", "r.csv", b"us\xe9r,item,rating\nu1,1,3\n", [], ["line 1", "UTF-8"]),
    ("binary", "r.csv", bytes(range(256)) * 8, [], []),
    ("nul-bytes", "r.csv", b"\x00" * 300, [], []),
    ("mixed-separators", "r.csv", b"user,item;rating\n1,2;3\n1;2,3\n4|5,6\n", [], []),
    ("bad-gzip", "r.csv.gz", b"\x1f\x8b\x08\x00garbage", [], ["gz"]),
    ("truncated-gzip", "r.csv.gz", gzip.compress(GOOD * 50)[:40], [], ["gz"]),
    ("gz-suffix-not-gzip", "r.csv.gz", GOOD, [], ["gz"]),
    ("bad-bz2", "r.csv.bz2", b"BZh91AY&SYgarbage", [], ["bz2"]),
    ("bz2-suffix-not-bz2", "r.csv.bz2", GOOD, [], ["bz2"]),
    ("gzip-named-csv-bad-inside", "r.csv", gzip.compress(b"user,item,x\nu1,1,a\n"), [], ["rating"]),
    ("bz2-named-csv-bad-inside", "r.csv", bz2.compress(b"user,rating\nu1,1\n"), [], ["item"]),
    ("zip-two-files", "r.zip", zipped({"a.csv": GOOD, "b.csv": GOOD}), [], ["exactly one"]),
    ("zip-no-files", "r.zip", zipped({}), [], ["exactly one"]),
    ("zip-garbage", "r.zip", b"PK\x03\x04garbage", [], ["zip"]),
    ("zip-bad-inside", "r.zip", zipped({"r.csv": b"user,item,rating\nu1,1,x\n"}), [], ["line 2"]),
    ("parquet-garbage", "r.parquet", b"PAR1garbagePAR1", [], ["Parquet"]),
    ("parquet-not-parquet", "r.parquet", GOOD, [], ["Parquet"]),
    (
        "parquet-no-rating",
        "r.parquet",
        parquet(pd.DataFrame({"user": ["a"], "item": [1], "foo": ["x"]})),
        [],
        ["rating"],
    ),
    (
        "parquet-word-rating",
        "r.parquet",
        parquet(pd.DataFrame({"user": ["a", "b"], "item": [1, 2], "rating": ["3", "x"]})),
        [],
        ["row 1"],
    ),
    (
        "parquet-nan-rating",
        "r.parquet",
        parquet(pd.DataFrame({"user": ["a", "b"], "item": [1, 2], "rating": [3.0, np.nan]})),
        [],
        ["row 1"],
    ),
    (
        "parquet-inf-rating",
        "r.parquet",
        parquet(pd.DataFrame({"user": ["a", "b"], "item": [1, 2], "rating": [np.inf, 3.0]})),
        [],
        ["row 0"],
    ),
    (
        "parquet-null-user",
        "r.parquet",
        parquet(pd.DataFrame({"user": ["a", None], "item": [1, 2], "rating": [3.0, 4.0]})),
        [],
        ["row 1", "empty"],
    ),
    (
        "parquet-named-csv-huge-rating",
        "r.csv",
        parquet(pd.DataFrame({"user": ["a", "b"], "item": [1, 2], "rating": [3.0, 1e300]})),
        [],
        ["row 1"],
    ),
    ("outside-declared-scale", "r.csv", GOOD, ["--rating-scale", "1", "4"], ["outside"]),
    (
        "bad-timestamp-line-3",
        "r.csv",
        b"user,item,rating,timestamp\nu1,1,3,2020-01-01\nu2,2,4,notadate\nu3,3,5,2020-01-02\n",
        [],
        ["line 3", "notadate"],
    ),
    (
        "timestamp-formats-mixed-bad-line-4",
        "r.csv",
        b"user,item,rating,timestamp\nu1,1,3,2020-01-01T10:00:00\nu2,2,4,2020-01-02\n"
        b"u3,3,5,notadate\n",
        [],
        ["line 4", "notadate"],
    ),
    (
        "empty-timestamp",
        "r.csv",
        b"user,item,rating,timestamp\nu1,1,3,100\nu2,2,4,\n",
        [],
        ["line 3"],
    ),
    (
        "timestamp-1e39",
        "r.csv",
        b"user,item,rating,timestamp\nu1,1,3,100\nu2,2,4,1e39\n",
        [],
        ["line 3", "timestamp"],
    ),
    (
        "timestamp-inf",
        "r.csv",
        b"user,item,rating,timestamp\nu1,1,3,inf\nu2,2,4,5\n",
        [],
        ["line 2", "timestamp"],
    ),
    ("no-such-user-col", "r.csv", GOOD, ["--user-col", "nosuch"], ["nosuch"]),
    ("user-col-position-past-end", "r.csv", GOOD, ["--user-col", "9"], ["'9'"]),
    ("no-such-timestamp-col", "r.csv", GOOD, ["--timestamp-col", "when"], ["when"]),
    ("columns-wrong-count", "r.csv", GOOD, ["--columns", "user,item"], ["2 column names"]),
    ("columns-repeat", "r.csv", GOOD, ["--columns", "user,user,rating"], ["twice"]),
    ("header-repeats-name", "r.csv", b"user,user,rating\nu1,1,3\n", [], ["line 1", "twice"]),
    ("two-character-separator", "r.csv", GOOD, ["--sep", "ab"], ["separator"]),
    ("wrong-separator", "r.csv", b"user\titem\trating\nu1\t1\t3\n", ["--sep", ","], ["--sep"]),
    ("no-header-too-few-columns", "r.csv", b"1\n3\n", ["--no-header"], []),
    (
        "whitespace-extra-field",
        "r.txt",
        b"u1 1 3\nu2 2 4\nu3 3 5 7 8\n",
        ["--sep", "whitespace"],
        ["line 3"],
    ),
    ("double-colon-bad-rating", "r.dat", b"1::1::3::0\n2::2::x::0\n", [], ["line 2"]),
    ("pipe-bad-rating", "r.csv", b"user|item|rating\nu1|1|3\nu2|2|?\n", [], ["line 3"]),
    ("semicolon-empty-item", "r.csv", b"user;item;rating\nu1;;3\n", [], ["line 2"]),
    ("float-ids-beyond-2-53", "r.parquet", b"", [], ["too large"]),  # written below
    ("zip-encrypted-member", "r.zip", patched_zip(flag=1), [], ["'r.csv'", "encrypted"]),
    ("zip-deflate64-member", "r.zip", patched_zip(method=9), [], ["'r.csv'", "not supported"]),
    ("zip-corrupt-lzma-member", "r.zip", corrupt_lzma_zip(), [], ["'r.csv'", "LZMA"]),
    ("zip-holding-gz", "r.zip", zipped({"r.csv.gz": gzip.compress(GOOD)}), [], ["again"]),
    ("tar-gz", "r.tar.gz", tar_gz(), [], ["tar archive"]),
    ("tar-gz-named-csv", "r.csv", tar_gz(), [], ["tar archive"]),
    ("seven-zip", "r.7z", b"7z\xbc\xaf\x27\x1c" + bytes(40), [], ["7-Zip"]),
    ("bad-xz", "r.csv.xz", b"\xfd7zXZ\x00garbage", [], ["xz"]),
    (
        "parquet-with-columns",
        "r.parquet",
        parquet(pd.DataFrame({"u": ["a"], "i": [1], "r": [3.0]})),
        ["--columns", "user,item,rating"],
        ["Parquet", "--columns"],
    ),
    (
        "parquet-no-header",
        "r.parquet",
        parquet(pd.DataFrame({"u": ["a"], "i": [1], "r": [3.0]})),
        ["--no-header"],
        ["Parquet", "--no-header"],
    ),
    ("rating-1e30", "r.csv", b"user,item,rating\nu1,1,3\nu2,2,1e30\n", [], ["line 3", "large"]),
    (
        "rating-dates",
        "r.csv",
        b"user,item,rating\nu1,1,2020-01-01\nu2,2,2021-03-04\n",
        [],
        ["'rating'", "dates"],
    ),
]


@pytest.mark.parametrize(
    "name, content, extra, expected", [c[1:] for c in FILES], ids=[c[0] for c in FILES]
)
def test_a_bad_ratings_file_is_one_line_naming_it(tmp_path, name, content, extra, expected):
    path = tmp_path / name
    if content == b"":
        content = (
            parquet(pd.DataFrame({"user": [2.0**63, 3.0], "item": [1, 2], "rating": [3.0, 4]}))
            if name.endswith(".parquet")
            else b""
        )
    path.write_bytes(content)
    result = invoke("train", "--data", path, *extra, "--epochs", "1", "--out", tmp_path / "m")
    assert_refused(result, name, *expected)
    assert not (tmp_path / "m").exists()


# (case id, options, texts the error line must hold): the data source itself or the split
SOURCES = [
    ("missing-file", ["--data", "{tmp}/absent.csv"], ["absent.csv"]),
    ("a-directory", ["--data", "{tmp}"], ["MovieLens"]),
    ("empty-name", ["--data", ""], []),
    ("unknown-movielens", ["--data", "movielens-7m"], ["movielens-7m"]),
    ("valid-file-missing", ["--valid", "{tmp}/absent.csv"], ["absent.csv"]),
    ("valid-file-bad", ["--valid", "{tmp}/bad.csv"], ["bad.csv", "line 3"]),
    ("valid-file-one-99", ["--valid", "{tmp}/v99.csv"], ["v99.csv", "rated 99", "scale 1..5"]),
    (
        "valid-file-zero-to-ten",
        ["--test", "{tmp}/v10.csv"],
        ["v10.csv", "outside the training ratings' scale 1..5"],
    ),
    ("split-and-valid", ["--split", "u1", "--valid", "{tmp}/bad.csv"], ["not both"]),
    ("split-malformed", ["--split", "random:abc"], ["random:abc"]),
    ("split-fold-past-k", ["--split", "kfold:3:5"], ["kfold:3:5"]),
    ("split-unknown", ["--split", "bogus"], ["bogus"]),
    ("split-u1-on-csv", ["--split", "u1"], ["ratings.csv", "MovieLens"]),
    ("scale-inverted", ["--rating-scale", "5", "1"], ["--rating-scale"]),
    ("scale-nan", ["--rating-scale", "nan", "5"], ["--rating-scale"]),
    ("scale-inf", ["--rating-scale", "1", "inf"], ["--rating-scale"]),
    ("scale-equal", ["--rating-scale", "3", "3"], ["--rating-scale"]),
    ("scale-one-number", ["--rating-scale", "3"], ["--rating-scale"]),
    ("split-random-pct-1", ["--split", "random:1"], ["valid_pct"]),
    ("split-temporal-zero", ["--split", "temporal:0"], ["temporal:0", "--split"]),
    ("split-seed-negative", ["--split", "random:0.2:-1"], ["seed"]),
    ("valid-pct-1", ["--valid-pct", "1"], ["valid_pct"]),
    ("valid-pct-1.5", ["--valid-pct", "1.5"], ["valid_pct"]),
    ("valid-pct-negative", ["--valid-pct", "-0.1"], ["valid_pct"]),
    ("valid-pct-nan", ["--valid-pct", "nan"], ["valid_pct"]),
]


@pytest.mark.parametrize("options, expected", [c[1:] for c in SOURCES], ids=[c[0] for c in SOURCES])
def test_a_bad_source_or_split_is_one_line(tmp_path, good_csv, options, expected):
    (tmp_path / "bad.csv").write_bytes(b"user,item,rating\nu1,1,3\nu2,2,x\n")
    (tmp_path / "v99.csv").write_bytes(b"user,item,rating\nu1,101,3\nu2,102,99\n")
    (tmp_path / "v10.csv").write_bytes(b"user,item,rating\nu1,101,8\nu2,102,10\nu3,100,2\n")
    options = [o.replace("{tmp}", str(tmp_path)) for o in options]
    data = [] if "--data" in options else ["--data", good_csv]
    result = invoke("train", *data, *options, "--epochs", "1", "--out", tmp_path / "m")
    assert_refused(result, *expected)
    assert not (tmp_path / "m").exists()


# (case id, --config file content, texts the error line must hold besides the file's name)
CONFIGS = [
    ("not-json", b"{epochs: 5}", ["JSON"]),
    ("a-list", b"[1, 2]", ["object"]),
    ("a-string", b'"dot-bias"', ["object"]),
    ("binary", b"\xff\xfe\x00", []),
    ("epochs-word", b'{"epochs": "five"}', ["epochs"]),
    ("epochs-fraction", b'{"epochs": 1.5}', ["epochs"]),
    ("epochs-zero", b'{"epochs": 0}', ["epochs"]),
    ("epochs-huge-float", b'{"epochs": 1e400}', ["epochs"]),
    ("lr-list", b'{"lr": [1]}', ["lr"]),
    ("lr-nan", b'{"lr": NaN}', ["lr"]),
    ("lr-infinity", b'{"lr": Infinity}', ["lr"]),
    ("wd-negative", b'{"wd": -1}', ["wd"]),
    ("layers-text", b'{"model": "nn", "layers": "abc"}', ["layers"]),
    ("layers-zero", b'{"model": "nn", "layers": [0]}', ["layers"]),
    ("layers-empty", b'{"model": "nn", "layers": []}', ["layers"]),
    ("dropout-two", b'{"model": "nn", "dropout": 2}', ["dropout"]),
    ("seed-negative", b'{"seed": -1}', ["seed"]),
    ("seed-text", b'{"seed": "x"}', ["seed"]),
    ("y-range-inverted", b'{"y_range": [5, 1]}', ["y_range"]),
    ("y-range-word", b'{"y_range": "big"}', ["y_range"]),
    ("y-range-three", b'{"y_range": [1, 2, 3]}', ["y_range"]),
    ("implicit-maybe", b'{"implicit": "maybe"}', ["implicit"]),
    ("members-numbers", b'{"model": "average", "members": [3]}', ["members"]),
    ("members-nested-average", b'{"model": "average", "members": [{"model": "average"}]}', []),
    ("weights-wrong-count", b'{"model": "average", "weights": [1]}', ["weights"]),
    ("options-list", b'{"options": [1]}', ["options"]),
    ("unknown-key", b'{"epoch": 3}', ["epoch"]),
    ("schedule-unknown", b'{"schedule": "warm"}', ["schedule"]),
    ("loss-unknown", b'{"loss": "hinge"}', ["loss"]),
    ("threads-zero", b'{"threads": 0}', ["threads"]),
    ("keep-worst", b'{"keep": "worst"}', ["keep"]),
]


@pytest.mark.parametrize("content, expected", [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_a_bad_config_file_is_one_line_naming_it_and_the_key(tmp_path, good_csv, content, expected):
    config = tmp_path / "run.json"
    config.write_bytes(content)
    result = invoke(
        "train", "--data", good_csv, "--config", config, "--epochs", "1", "--out", tmp_path / "m"
    )
    error = assert_refused(result, *expected)
    assert "run.json" in error or "member" in error
    assert not (tmp_path / "m").exists()


def test_a_missing_config_file_is_named(tmp_path, good_csv):
    result = invoke("train", "--data", good_csv, "--config", tmp_path / "none.json", "--out", "m")
    assert_refused(result, "none.json")


# ---- silent wrong numbers, now right -------------------------------------------------------
def test_ids_past_int64_stay_distinct_users(tmp_path):
    path = tmp_path / "big.csv"
    rows = "".join(f"{2**63 + k},{k % 5},{1 + k % 5}\n" for k in range(40))
    path.write_text("user,item,rating\n" + rows)
    result = invoke(
        "train", "--data", path, "--model", "dot-bias", "--epochs", "1", "--valid-pct", "0",
        "--out", tmp_path / "m", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ids = json.loads((tmp_path / "m" / "ids.json").read_text())
    assert len(ids["users"]) == 40 and str(2**63 + 39) in map(str, ids["users"])
    assert "duplicate" not in result.output


def test_ids_past_2_53_in_text_are_read_exactly(tmp_path):
    path = tmp_path / "big.csv"
    rows = "".join(f"{10**20 + k},{k % 5},{1 + k % 5}\n" for k in range(30))
    path.write_text("user,item,rating\n" + rows)
    result = invoke(
        "train", "--data", path, "--model", "dot-bias", "--epochs", "1", "--valid-pct", "0",
        "--out", tmp_path / "m",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    users = json.loads((tmp_path / "m" / "ids.json").read_text())["users"]
    assert sorted(map(str, users)) == sorted(str(10**20 + k) for k in range(30))


def test_an_unreadable_file_is_named(tmp_path):
    path = tmp_path / "locked.csv"
    path.write_bytes(GOOD)
    path.chmod(0)
    done = invoke_bound_by_permissions(
        tmp_path, "train", "--data", path, "--epochs", "1", "--out", tmp_path / "m"
    )
    assert_process_refused(done, "locked.csv", "cannot be read")
    assert not (tmp_path / "m").exists()


# ---- files the reader accepts train to the end ------------------------------------------------
ACCEPTED = {
    "utf16": lambda text: text.encode("utf-16"),
    "gzip-named-csv": lambda text: gzip.compress(text.encode()),
    "bz2-named-csv": lambda text: bz2.compress(text.encode()),
    "zip-named-csv": lambda text: zipped({"r.csv": text.encode()}),
    "parquet-named-csv": lambda text: parquet(pd.read_csv(io.StringIO(text))),
}


@pytest.mark.parametrize("encode", ACCEPTED.values(), ids=list(ACCEPTED))
def test_a_file_the_reader_accepts_is_read_the_same_after_training(tmp_path, good_csv, encode):
    """The noise-floor check after training reads the file again: through embedrec's own
    reader, so what trained is never a traceback before the save."""
    path = tmp_path / "r.csv"
    path.write_bytes(encode(good_csv.read_text()))
    result = invoke(
        "train", "--data", path, "--model", "dot-bias", "--epochs", "1", "--out", tmp_path / "m"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "config.json").is_file()


@pytest.mark.parametrize("encode", ACCEPTED.values(), ids=list(ACCEPTED))
def test_benchmark_reads_a_file_the_reader_accepts_on_every_fold(tmp_path, good_csv, encode):
    """benchmark read the file again after its first fold (for the noise floor) with pandas:
    the same reader as training, so every fold ends and agrees with the plain file's."""
    path = tmp_path / "r.csv"
    path.write_bytes(encode(good_csv.read_text()))
    args = ["benchmark", "--protocol", "kfold:2", "--model", "dot-bias", "--epochs", "1"]
    result = invoke(*args, "--data", path, "--json")
    assert result.exit_code == 0, result.output
    plain = invoke(*args, "--data", good_csv, "--json")
    folds = [fold["rmse"] for fold in json.loads(result.stdout)["folds"]]
    assert folds == [fold["rmse"] for fold in json.loads(plain.stdout)["folds"]]
    assert len(folds) == 2


def test_a_synthetic_file_under_another_encoding_keeps_its_noise_floor(tmp_path):
    """A file with each row's true rating (as `synth` writes) saved as UTF-16 still reports
    its noise floor: the second read is the same reader as the first."""
    frame = low_rank_frame(n_users=30, n_items=20, seed=4)
    frame = frame.rename(columns={"user": "userId", "item": "movieId"})
    frame["true_rating"] = frame["rating"] + 0.25
    path = tmp_path / "s16.csv"
    path.write_bytes(frame.to_csv(index=False).encode("utf-16"))
    result = invoke(
        "train", "--data", path, "--model", "dot-bias", "--epochs", "1", "--out", tmp_path / "m",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["noise_floor"] == pytest.approx(0.25)


BOMBS = {
    "bomb.csv.gz": gzip.compress,
    "bomb.csv.bz2": bz2.compress,
    "bomb.csv.xz": lzma.compress,
    "bomb.zip": lambda data: zipped({"r.csv": data}),
    "bomb.csv": gzip.compress,  # a gzip under a plain name
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_decompression_stops_at_the_limit_naming_the_file_and_size(tmp_path, name):
    """A small compressed file of many lines (a bomb) is refused at the limit, whatever its
    container, not read into memory."""
    bomb = tmp_path / name
    bomb.write_bytes(BOMBS[name](b"u1,1,3\n" * 200_000))
    with pytest.raises(embedrec.DataError, match=rf"{name}: decompresses to more than 100,000"):
        read_bytes(bomb, limit=100_000)
    assert len(read_bytes(bomb, limit=2_000_000)) == 1_400_000


def test_xz_is_read(tmp_path, good_csv):
    path = tmp_path / "r.csv.xz"
    path.write_bytes(lzma.compress(good_csv.read_bytes()))
    assert embedrec.read_ratings(path).n_users == embedrec.read_ratings(good_csv).n_users


# (case id, what makes the database, texts the error line must hold)
STORE_WITH_TEXT_RATING = """
create table embedrec_ratings (id integer primary key autoincrement, user_id varchar(200) not null,
  item_id varchar(200) not null, rating float not null, created float not null);
insert into embedrec_ratings (user_id, item_id, rating, created) values ('u1', '100', 4, 1);
insert into embedrec_ratings (user_id, item_id, rating, created) values ('u2', '101', 'abc', 2);
"""
STORE_OF = STORE_WITH_TEXT_RATING.replace(
    "'u2', '101', 'abc', 2", "{user}, '101', {rating}, {time}"
)
# a view of embedrec's columns whose reading fails (SQLite's integer overflow): an error from
# the query itself, after the store opened
STORE_UNREADABLE = """
create view embedrec_ratings as select 1 as id, 'u1' as user_id, '100' as item_id,
  4.0 as rating, abs(-9223372036854775807 - 1) as created;
"""
FEEDBACK = [
    ("missing-sqlite-file", lambda t: None, ["typo.db", "does not exist"]),
    ("stored-rating-text", lambda t: sqlite_with(t / "typo.db", STORE_WITH_TEXT_RATING), ["row 2", "'u2'", "'101'", "'abc'"]),
    ("stored-user-blank", lambda t: sqlite_with(t / "typo.db", STORE_OF.format(user="' '", rating=4, time=2)), ["row 2", "user id is empty", "'101'"]),
    ("stored-time-text", lambda t: sqlite_with(t / "typo.db", STORE_OF.format(user="'u2'", rating=4, time="'soon'")), ["row 2", "'u2'", "'soon'", "time"]),
    ("stored-ratings-unreadable", lambda t: sqlite_with(t / "typo.db", STORE_UNREADABLE), ["typo.db", "cannot be read", "integer overflow"]),
    ("other-schema", lambda t: sqlite_with(t / "typo.db", "create table embedrec_ratings (a int, b text)"), ["embedrec_ratings", "other columns"]),
    ("existing-file-no-table", lambda t: (t / "typo.db").touch(), ["typo.db", "no embedrec_ratings table"]),
    ("other-tables-only", lambda t: sqlite_with(t / "typo.db", "create table notes (a text)"), ["typo.db", "no embedrec_ratings table"]),
    ("in-memory", lambda t: "sqlite://", ["sqlite://", "no embedrec_ratings table"]),
]  # fmt: skip


def sqlite_with(path, statement: str) -> None:
    connection = sqlite3.connect(path)
    connection.executescript(statement)
    connection.commit()
    connection.close()


@pytest.mark.parametrize("make, expected", [c[1:] for c in FEEDBACK], ids=[c[0] for c in FEEDBACK])
def test_a_feedback_database_that_is_not_a_store_is_refused_before_training(
    tmp_path, good_csv, make, expected
):
    url = make(tmp_path) or f"sqlite:///{tmp_path / 'typo.db'}"
    result = invoke(
        "train", "--data", good_csv, "--feedback", url, "--epochs", "1", "--out", tmp_path / "m"
    )
    assert_refused(result, *expected)
    assert "sqlalche.me" not in result.output  # SQLAlchemy's documentation link: not for users
    assert not (tmp_path / "m").exists()
    if "does not exist" in expected:
        assert not (tmp_path / "typo.db").exists()  # no empty store made in its place
    if "no embedrec_ratings table" in expected and url != "sqlite://":
        tables = sqlite3.connect(tmp_path / "typo.db").execute("select name from sqlite_master")
        assert "embedrec_ratings" not in {name for (name,) in tables}  # the file left as it was
        mode = sqlite3.connect(tmp_path / "typo.db").execute("pragma journal_mode").fetchone()
        assert mode == ("delete",) and not (tmp_path / "typo.db-wal").exists()  # not made WAL
    assert "epoch" not in result.output


def test_an_empty_feedback_store_is_said_not_silently_read(tmp_path, good_csv):
    """A store `serve` made that holds no rating yet trains on the data alone, and says so."""
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    FeedbackStore(url).close()
    result = invoke(
        "train", "--data", good_csv, "--feedback", url, "--model", "dot-bias", "--epochs", "1",
        "--out", tmp_path / "m",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "note: the feedback database holds no stored ratings" in result.output
