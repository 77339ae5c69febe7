"""``load_ratings`` layouts, the movies filter, the binary cache, titles, probe and qualifying."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import Catalog, Movie, Ratings, netflix
from llmrec.data._cache import CACHE_VERSION
from llmrec.data.netflix import (
    ProbeSet,
    QualifyingSet,
    load_probe,
    load_qualifying,
    load_ratings,
    load_titles,
    rating_files,
)
from llmrec.errors import DataFormatError

MOVIES = {
    1: [(1488844, 3, "2005-09-06"), (822109, 5, "2005-05-13")],
    2: [(2059652, 4, "2005-09-05")],
    3: [(1488844, 1, "2004-02-29"), (7, 2, "1999-11-11"), (822109, 4, "2005-12-31")],
    4: [(7, 5, "2000-01-01")],
}


def block(movie: int) -> str:
    return f"{movie}:\n" + "".join(f"{u},{r},{d}\n" for u, r, d in MOVIES[movie])


def expected(movies: list[int]) -> Ratings:
    rows = [(u, m, r, d) for m in movies for u, r, d in MOVIES[m]]
    return Ratings(
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        np.array([r[3] for r in rows], dtype="datetime64[D]"),
    )


@pytest.fixture
def kaggle(tmp_path: Path) -> Path:
    folder = tmp_path / "kaggle"
    folder.mkdir()
    # Written out of name order, to show the files are read as combined_data_1, _2, ...
    (folder / "combined_data_2.txt").write_text(block(3) + block(4))
    (folder / "combined_data_1.txt").write_text(block(1) + block(2))
    (folder / "movie_titles.csv").write_bytes(b"1,2003,Dinosaur Planet\n2,NULL,Isle\n")
    return folder


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


# -- layouts -------------------------------------------------------------------------------------
def test_kaggle_folder_in_file_then_line_order(kaggle: Path, cache: Path) -> None:
    ratings = load_ratings(kaggle, cache_dir=cache)
    assert ratings == expected([1, 2, 3, 4])
    assert [p.name for p in rating_files(kaggle)] == ["combined_data_1.txt", "combined_data_2.txt"]


def test_original_layout_folder(tmp_path: Path, cache: Path) -> None:
    training = tmp_path / "download" / "training_set"
    training.mkdir(parents=True)
    for movie in (4, 1, 3, 2):
        (training / f"mv_{movie:07d}.txt").write_text(block(movie))
    assert load_ratings(tmp_path / "download", cache_dir=cache) == expected([1, 2, 3, 4])
    assert load_ratings(training, cache=False) == expected([1, 2, 3, 4])


def test_one_file_and_a_list_of_files_keep_the_given_order(kaggle: Path) -> None:
    one = kaggle / "combined_data_2.txt"
    assert load_ratings(one, cache=False) == expected([3, 4])
    both = [one, kaggle / "combined_data_1.txt"]
    assert load_ratings(both, cache=False) == expected([3, 4, 1, 2])
    assert load_ratings([str(p) for p in both], cache=False) == expected([3, 4, 1, 2])


def test_folder_without_rating_files(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no Netflix Prize rating files"):
        load_ratings(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_ratings(tmp_path / "missing")


def test_movies_filter(kaggle: Path, cache: Path) -> None:
    assert load_ratings(kaggle, movies={3, 1}, cache_dir=cache) == expected([1, 3])
    assert load_ratings(kaggle, movies=[2, 99_999], cache=False) == expected([2])
    assert len(load_ratings(kaggle, movies=[], cache=False)) == 0
    # the filter is part of the cache key: an unfiltered load is not served the filtered entry
    assert load_ratings(kaggle, cache_dir=cache) == expected([1, 2, 3, 4])
    with pytest.raises(ValueError, match="movie ids"):
        load_ratings(kaggle, movies=[0], cache=False)


def test_movies_filter_still_checks_other_movies(tmp_path: Path) -> None:
    path = tmp_path / "combined_data_1.txt"
    path.write_text(block(1) + "2:\n5,9,2005-01-01\n")
    with pytest.raises(DataFormatError) as info:
        load_ratings(path, movies=[1], cache=False)
    assert info.value.line == 5


# -- cache -----------------------------------------------------------------------------------
def entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if not p.name.startswith("."))


def replace_keeping_stat(path: Path, data: bytes) -> None:
    """Overwrite ``path`` with same-size ``data`` and restore its mtime: the cache identity."""
    st_before = path.stat()
    assert len(data) == st_before.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))


def test_second_load_reads_the_cache_not_the_files(
    kaggle: Path, cache: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_ratings(kaggle, cache_dir=cache)
    assert len(entries(cache)) == 1

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the files were parsed again")

    monkeypatch.setattr(netflix, "read_records", no_parsing)
    with caplog.at_level(logging.INFO, logger="llmrec.data.netflix"):
        again = load_ratings(kaggle, cache_dir=cache)
    assert again == first
    assert "cache hit" in caplog.text
    assert isinstance(again.user_id, np.memmap) or isinstance(again.user_id.base, np.memmap)


def test_source_edited_with_size_and_mtime_restored_is_parsed_again(
    kaggle: Path, cache: Path
) -> None:
    """Issue 11 item 7: the ctime (and inode) in the key catch an edit that hides its tracks."""
    load_ratings(kaggle, cache_dir=cache)
    for f in rating_files(kaggle):
        replace_keeping_stat(f, b"x" * f.stat().st_size)
    with pytest.raises(DataFormatError):  # the garbled files are read, not the stale cache
        load_ratings(kaggle, cache_dir=cache)


def test_changed_source_invalidates_the_cache(kaggle: Path, cache: Path) -> None:
    load_ratings(kaggle, cache_dir=cache)
    path = kaggle / "combined_data_2.txt"
    path.write_text(block(3))  # movie 4 removed
    assert load_ratings(kaggle, cache_dir=cache) == expected([1, 2, 3])
    # same size, new mtime: still a new entry
    text = path.read_bytes().replace(b"1488844,1", b"1488844,2")
    path.write_bytes(text)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert load_ratings(kaggle, cache_dir=cache).rating[3] == 2
    # entries of the earlier versions are pruned; an entry with another filter is kept
    load_ratings(kaggle, movies=[1], cache_dir=cache)
    assert len(entries(cache)) == 2


@pytest.mark.parametrize(
    "damage",
    [
        "truncate_column",
        "drop_column",
        "garble_header",
        "garble_meta",
        "append_bytes",
        "wrong_source",
    ],
)
def test_damaged_cache_is_rebuilt(
    kaggle: Path, cache: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = load_ratings(kaggle, cache_dir=cache)
    (entry,) = entries(cache)
    col = entry / "date.npy"
    if damage == "truncate_column":
        col.write_bytes(col.read_bytes()[:-3])
    elif damage == "drop_column":
        col.unlink()
    elif damage == "garble_header":
        col.write_bytes(b"\x00" * col.stat().st_size)
    elif damage == "garble_meta":
        (entry / "meta.json").write_text("{not json")
    elif damage == "append_bytes":
        with open(col, "ab") as fh:
            fh.write(b"\x00" * 8)
    else:
        source = entry / "source.json"
        source.write_text(source.read_text().replace(CACHE_VERSION, "netflix-ratings/0"))
    with caplog.at_level(logging.INFO, logger="llmrec.data.netflix"):
        again = load_ratings(kaggle, cache_dir=cache)
    assert again == good
    assert "cache miss" in caplog.text
    # the rebuilt entry is whole again and serves the next load
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="llmrec.data.netflix"):
        assert load_ratings(kaggle, cache_dir=cache) == good
    assert "cache hit" in caplog.text


def test_cache_off_writes_nothing_and_default_cache_dir_is_used(kaggle: Path) -> None:
    base = Path(os.environ["LLMREC_CACHE_DIR"]) / "ratings"
    shutil.rmtree(base, ignore_errors=True)
    load_ratings(kaggle, cache=False)
    assert not base.exists()
    load_ratings(kaggle)
    assert len(entries(base)) == 1


def test_no_temporary_folders_left_behind(kaggle: Path, cache: Path) -> None:
    load_ratings(kaggle, cache_dir=cache)
    load_ratings(kaggle, movies=[1], cache_dir=cache)
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == [".lock"]


# -- titles --------------------------------------------------------------------------------------
TITLES = (
    "1,2003,Dinosaur Planet\r\n"
    "2,2004,Isle of Man TT 2004 Review\r\n"
    "72,1974,At Home Among Strangers, A Stranger Among His Own\r\n"
    "4388,NULL,Ancient Civilizations: Rome and Pompeii\r\n"
    "5,1996,Twister\r\n"
    "6,1997,Café\r\n"
    "7,2000,Twister\r\n"
    '8,1999,"Quoted, title"\r\n'
)


def test_titles_quirks(tmp_path: Path) -> None:
    path = tmp_path / "movie_titles.csv"
    path.write_bytes(TITLES.encode("iso-8859-1"))
    catalog = load_titles(path)
    assert isinstance(catalog, Catalog) and len(catalog) == 8
    assert catalog.title(72) == "At Home Among Strangers, A Stranger Among His Own"
    assert catalog.movie(4388) == Movie(4388, "Ancient Civilizations: Rome and Pompeii", None)
    assert catalog.title(6) == "Café"
    assert catalog.ids_for("Twister") == [5, 7]
    assert catalog.title(8) == '"Quoted, title"'  # no quoting in this format: kept verbatim
    assert load_titles(tmp_path) == catalog  # a folder holding the file works too


@given(
    titles=st.lists(
        st.tuples(
            st.integers(1, 10**6),
            st.none() | st.integers(1000, 2999),
            st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), min_size=1).filter(
                str.strip
            ),
        ),
        unique_by=lambda t: t[0],
        min_size=1,
        max_size=20,
    )
)
def test_generated_titles_round_trip(
    tmp_path_factory: pytest.TempPathFactory, titles: list[tuple[int, int | None, str]]
) -> None:
    path = tmp_path_factory.mktemp("titles") / "movie_titles.csv"
    lines = [f"{i},{'NULL' if y is None else y},{t}\n" for i, y, t in titles]
    path.write_bytes("".join(lines).encode("iso-8859-1"))
    want = Catalog(Movie(i, t, y) for i, y, t in titles)
    assert load_titles(path, encoding="iso-8859-1") == want
    path.write_bytes("".join(lines).encode("utf-8"))
    assert load_titles(path) == want  # UTF-8 is always recognised


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("9,2001", "expected MovieID,YearOfRelease,Title"),
        ("x,2001,Title", "movie id"),
        ("9,20O1,Title", "year"),
        ("9,2001,", "empty title"),
        ("", "expected MovieID"),
        ("1,2005,Again", "already given on line 1"),
    ],
)
def test_malformed_titles(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "movie_titles.csv"
    path.write_text(f"1,2003,Dinosaur Planet\n2,NULL,Isle\n{line}\n3,2000,Last\n", "latin-1")
    with pytest.raises(DataFormatError, match=message) as info:
        load_titles(path)
    assert (info.value.path, info.value.line, info.value.text) == (str(path), 3, line)


# -- probe and qualifying ------------------------------------------------------------------------
def test_probe_and_qualifying(tmp_path: Path) -> None:
    (tmp_path / "probe.txt").write_text("1:\n30878\n2647871\n10:\n1952305\n")
    (tmp_path / "qualifying.txt").write_text("1:\n1046323,2005-12-19\n2:\n2239729,2005-12-10")
    probe = load_probe(tmp_path)
    assert isinstance(probe, ProbeSet) and len(probe) == 3
    assert probe.movie_id.tolist() == [1, 1, 10]
    assert probe.user_id.tolist() == [30878, 2647871, 1952305]
    qual = load_qualifying(tmp_path / "qualifying.txt")
    assert isinstance(qual, QualifyingSet) and len(qual) == 2
    assert qual.movie_id.tolist() == [1, 2]
    assert qual.user_id.tolist() == [1046323, 2239729]
    assert qual.date.astype(str).tolist() == ["2005-12-19", "2005-12-10"]


def test_probe_and_qualifying_errors(tmp_path: Path) -> None:
    (tmp_path / "probe.txt").write_text("1:\n30878\n30878,3\n")
    with pytest.raises(DataFormatError, match="too many fields") as info:
        load_probe(tmp_path)
    assert (info.value.line, info.value.text) == (3, "30878,3")
    (tmp_path / "qualifying.txt").write_text("1:\n1046323,2005-02-30\n")
    with pytest.raises(DataFormatError, match="no such date") as info:
        load_qualifying(tmp_path)
    assert (info.value.line, info.value.text) == (2, "1046323,2005-02-30")


def test_titles_in_another_encoding(tmp_path: Path) -> None:
    path = tmp_path / "movie_titles.csv"
    path.write_bytes("6,1997,Café\n".encode())
    assert load_titles(path, encoding="utf-8").title(6) == "Café"
    assert load_titles(path, encoding="iso-8859-1").title(6) == "CafÃ©"  # as told
    path.write_bytes(b"1,2003,Dinosaur Planet\n6,1997,Caf\xe9\n")
    with pytest.raises(DataFormatError, match="not utf-8") as info:
        load_titles(path, encoding="utf-8")
    assert info.value.line == 2
