"""Every official MovieLens layout, from small files written here in the real formats, the
real ml-100k from ../shared, and the download path run against a local archive."""

import hashlib
import zipfile

import numpy as np
import pytest

import embedrec
from embedrec import DataError, load_movielens, load_movielens_fold, load_ratings, load_split
from embedrec.data import movielens
from embedrec.data.settings import DataLocation


def write_100k(folder):
    folder.mkdir(parents=True)
    rows = [(1, 1, 5, 10), (1, 2, 3, 11), (2, 1, 4, 12), (2, 3, 1, 13), (3, 2, 2, 14)]
    (folder / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
    genres = "|0" * 19
    items = [
        "1|Toy Story (1995)|01-Jan-1995||http://x",
        "2|Café Society (1995)|||http://y",
        "3|unknown|||",
    ]
    (folder / "u.item").write_bytes(
        "".join(line + genres + "\n" for line in items).encode("latin-1")
    )
    (folder / "u1.base").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows[:4]))
    (folder / "u1.test").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows[4:]))
    return folder


def test_100k_layout_with_latin1_titles(tmp_path):
    ratings = load_movielens(write_100k(tmp_path / "ml-100k"))
    assert (len(ratings), ratings.n_users, ratings.n_items) == (5, 3, 3)
    assert ratings.titles.tolist() == ["Toy Story (1995)", "Café Society (1995)", "unknown"]
    assert ratings.rating_scale == (1.0, 5.0)


def test_100k_fold_shares_the_full_id_maps(tmp_path):
    split = load_movielens_fold(write_100k(tmp_path / "ml-100k"), "u1")
    assert (len(split.train), len(split.valid)) == (4, 1)
    assert split.train.user_map is split.valid.user_map
    assert split.valid.to_frame()[["user", "item"]].values.tolist() == [[3, 2]]
    assert split.cold_rows().tolist() == [True]  # user 3 has no training rating


def write_dat(folder, ratings: str, movies: bytes, users: str | None = None):
    """A folder in the '::' layout of MovieLens 1m (and MovieTweetings, with its users.dat)."""
    folder.mkdir()
    (folder / "ratings.dat").write_text(ratings)
    (folder / "movies.dat").write_bytes(movies)
    if users is not None:
        (folder / "users.dat").write_text(users)
    return folder


def test_1m_layout(tmp_path):
    folder = write_dat(
        tmp_path / "ml-1m",
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n",
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the Giant Peach "
        "(1996)::Animation|Children's|Musical\n9::Señor (2000)::Drama\n".encode("latin-1"),
    )
    ratings = load_movielens(folder)
    assert (len(ratings), ratings.n_users, ratings.n_items) == (3, 2, 2)
    assert ratings.titles.tolist() == [
        "James and the Giant Peach (1996)",
        "One Flew Over the Cuckoo's Nest (1975)",
    ]
    assert ratings.rating_scale == (1.0, 5.0)


def test_a_movietweetings_folder_rates_0_to_10_with_titles(tmp_path):
    """The 1m layout, told apart by users.dat (`user_id::twitter_id`); 0 is a rating there."""
    folder = write_dat(
        tmp_path / "100K",
        "1::1074638::7::1365029107\n1::2844::0::1366576639\n2::1074638::10::1364767253\n",
        "0002844::Fantômas - À l'ombre de la guillotine (1913)::Crime|Drama\n"
        "1074638::Skyfall (2012)::Action|Adventure|Thriller\n".encode(),
        users="1::18405182\n2::31260677\n",
    )
    ratings = load_ratings(folder)
    assert ratings.rating_scale == (0.0, 10.0) and sorted(ratings.ratings) == [0.0, 7.0, 10.0]
    assert ratings.titles.tolist() == [
        "Fantômas - À l'ombre de la guillotine (1913)",
        "Skyfall (2012)",
    ]
    assert ratings.genres.tolist() == ["Crime|Drama", "Action|Adventure|Thriller"]
    (folder / "users.dat").write_text("1::F::1::10::48067\n")  # MovieLens 1m's users.dat
    with pytest.raises(DataError, match="outside the declared rating range 1..5"):
        load_ratings(folder)


def test_real_movietweetings_folder_loads_every_row_with_its_title(movietweetings_dir):
    ratings = load_ratings(movietweetings_dir)
    lines = (movietweetings_dir / "ratings.dat").read_text().splitlines()
    films = (movietweetings_dir / "movies.dat").read_text(encoding="utf-8").splitlines()
    assert len(ratings) == len(lines) and ratings.n_items == len(films)
    assert ratings.rating_scale == (0.0, 10.0)
    assert ratings.observed_range == (
        min(int(line.split("::")[2]) for line in lines),
        max(int(line.split("::")[2]) for line in lines),
    )
    titles = {int(film.split("::")[0]): film.split("::")[1] for film in films}
    rated = ratings.item_map.decode(ratings.items[:50])
    assert [ratings.titles[i] for i in ratings.items[:50]] == [titles[i] for i in rated]


def test_10m_layout_by_name_with_half_stars(tmp_path):
    folder = tmp_path / "ml-10M100K"  # the folder name inside the official zip
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::122::5::838985046\n1::185::4.5::838983525\n")
    (folder / "movies.dat").write_text(
        "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action|Crime|Thriller\n"
    )
    ratings = load_ratings("movielens-10m", data_dir=tmp_path)
    assert ratings.ratings.tolist() == [5.0, 4.5]
    assert ratings.rating_scale == (0.5, 5.0)
    assert ratings.titles.tolist() == ["Boomerang (1992)", "Net, The (1995)"]


@pytest.mark.parametrize("release", ["ml-20m", "ml-25m", "ml-32m", "ml-latest", "ml-latest-small"])
def test_csv_family_with_quoted_titles(tmp_path, release):
    folder = tmp_path / release
    folder.mkdir()
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,0.5,964981247\n2,1,2.5,964982224\n"
    )
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n"
        '3,"Grumpier Old Men, The (1995)",Comedy|Romance\n'
    )
    ratings = load_ratings(release.replace("ml-", "movielens-"), data_dir=tmp_path)
    assert (len(ratings), ratings.n_users, ratings.n_items) == (3, 2, 2)
    assert ratings.titles.tolist() == ["Toy Story (1995)", "Grumpier Old Men, The (1995)"]
    assert ratings.rating_scale == (0.5, 5.0)


def test_not_a_movielens_folder(tmp_path):
    with pytest.raises(DataError, match="not a MovieLens folder"):
        load_movielens(tmp_path)


def test_unknown_release_name():
    with pytest.raises(DataError, match="unknown MovieLens release"):
        movielens.movielens_folder("movielens-7k")


def test_name_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    embedrec.set_data_dir(tmp_path / "saved")
    monkeypatch.setenv("EMBEDREC_DATA", str(tmp_path / "env"))
    assert movielens.data_root() == tmp_path / "env"
    assert movielens.data_root(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("EMBEDREC_DATA")
    assert embedrec.data_location() == DataLocation(tmp_path / "saved", "config")
    (tmp_path / "config" / "embedrec" / "config.json").unlink()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert movielens.data_root() == tmp_path / "cache" / "embedrec"


def test_a_saved_data_folder_serves_a_new_shell_without_embedrec_data(tmp_path, monkeypatch):
    """The folder set once is where a later process (a new terminal, a kernel) finds data."""
    monkeypatch.delenv("EMBEDREC_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    write_100k(tmp_path / "data" / "ml-100k")
    written = embedrec.set_data_dir(tmp_path / "data")
    assert written == tmp_path / "home" / ".config" / "embedrec" / "config.json"
    assert len(load_ratings("movielens-100k")) == 5  # found there, nothing downloaded


def test_a_broken_settings_file_is_named_and_set_dir_repairs_it(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBEDREC_DATA", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = tmp_path / "embedrec" / "config.json"
    path.parent.mkdir()
    path.write_text('{"data_dir": 3}')
    with pytest.raises(DataError, match="config.json.*set-dir"):
        movielens.data_root()
    path.write_text("{oops")
    with pytest.raises(DataError, match="line 1, column 2: not JSON"):
        movielens.data_root()
    embedrec.set_data_dir(tmp_path / "d")
    assert movielens.data_root() == tmp_path / "d"
    with pytest.raises(DataError, match="not a folder"):
        embedrec.set_data_dir(path)


def test_download_verifies_and_unpacks_atomically(tmp_path, monkeypatch):
    source = write_100k(tmp_path / "src" / "ml-100k")
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in source.iterdir():
            zf.write(file, f"ml-100k/{file.name}")
    data = archive.read_bytes()
    release = movielens.Release(
        "ml-100k", "ml-100k.zip", (1, 5), len(data), hashlib.sha256(data).hexdigest()
    )
    monkeypatch.setitem(movielens.RELEASES, "100k", release)
    monkeypatch.setattr(movielens, "BASE_URL", tmp_path.as_uri() + "/")
    root = tmp_path / "root"
    ratings = load_ratings("movielens-100k", data_dir=root)
    assert len(ratings) == 5
    assert sorted(p.name for p in root.iterdir()) == ["ml-100k"]  # no leftovers


def test_download_rejects_a_corrupt_archive(tmp_path, monkeypatch):
    (tmp_path / "ml-100k.zip").write_bytes(b"not a zip at all")
    release = movielens.Release("ml-100k", "ml-100k.zip", (1, 5), 16, "0" * 64)
    monkeypatch.setitem(movielens.RELEASES, "100k", release)
    monkeypatch.setattr(movielens, "BASE_URL", tmp_path.as_uri() + "/")
    with pytest.raises(DataError, match="checksum mismatch"):
        load_ratings("movielens-100k", data_dir=tmp_path / "root")
    assert not (tmp_path / "root" / "ml-100k").exists()


def test_unreachable_network_says_where_to_put_the_files(tmp_path, monkeypatch):
    monkeypatch.setattr(movielens, "BASE_URL", "http://127.0.0.1:9/")  # nothing listens there
    with pytest.raises(DataError) as info:
        load_ratings("movielens-100k", data_dir=tmp_path)
    message = str(info.value)
    assert "could not download" in message
    assert f"{tmp_path / 'ml-100k'} holds its files" in message


def test_real_100k(ml100k):
    assert (len(ml100k), ml100k.n_users, ml100k.n_items) == (100_000, 943, 1682)
    assert ml100k.observed_range == (1.0, 5.0)
    assert ml100k.titles[ml100k.item_map.lookup(50)] == "Star Wars (1977)"
    table = ml100k.crosstab(15, 15)
    assert table.shape == (15, 15) and "Star Wars (1977)" in table.columns


@pytest.mark.parametrize("fold", ["u1", "u2", "u3", "u4", "u5", "ua", "ub"])
def test_real_canonical_folds(ml100k_dir, fold):
    split = load_split(ml100k_dir, fold)
    expected = (80_000, 20_000) if fold.startswith("u") and fold[1].isdigit() else (90_570, 9_430)
    assert (len(split.train), len(split.valid)) == expected
    pairs = lambda r: set(zip(r.users.tolist(), r.items.tolist()))  # noqa: E731
    assert not pairs(split.train) & pairs(split.valid)
    assert np.isin(split.valid.users, split.train.users).mean() > 0.99
