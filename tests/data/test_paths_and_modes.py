"""Issue 11 items 10, 16, 17, 20: file modes follow the umask, ``~`` is expanded, missing data
is an LLMRecError that names what is missing."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmrec import _paths
from llmrec._io import atomic_open, write_json_atomic
from llmrec.data import load_movielens, load_probe, load_ratings, load_titles
from llmrec.data.netflix import load_netflix
from llmrec.errors import DataNotFoundError, LLMRecError

RATINGS = "1:\n7,3,2005-01-02\n8,5,2005-01-03\n2:\n7,4,2005-02-02\n"


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- item 10 -------------------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.usefixtures("umask")
def test_atomic_writes_follow_the_umask(tmp_path: Path) -> None:
    with atomic_open(tmp_path / "report.md") as fh:
        fh.write("# report\n")
    write_json_atomic(tmp_path / "results.json", {"a": 1})
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert _mode(tmp_path / "report.md") == _mode(plain) == 0o644
    assert _mode(tmp_path / "results.json") == 0o644
    os.umask(0o077)
    write_json_atomic(tmp_path / "private.json", {"a": 1})
    assert _mode(tmp_path / "private.json") == 0o600


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.usefixtures("umask")
def test_cache_entries_follow_the_umask(tmp_path: Path) -> None:
    (tmp_path / "combined_data_1.txt").write_text(RATINGS)
    cache = tmp_path / "cache"
    load_ratings(tmp_path, cache_dir=cache)
    (entry,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert _mode(entry) == 0o755
    assert {_mode(p) for p in entry.iterdir()} == {0o644}


# -- item 17 -------------------------------------------------------------------------------------
@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    monkeypatch.delenv("LLMREC_CACHE_DIR", raising=False)
    netflix = tmp_path / "data" / "netflix"
    netflix.mkdir(parents=True)
    (netflix / "combined_data_1.txt").write_text(RATINGS)
    (netflix / "movie_titles.csv").write_bytes(b"1,2003,Dinosaur Planet\n2,NULL,Isle\n")
    (netflix / "probe.txt").write_text("1:\n7\n")
    ml = tmp_path / "data" / "ml-100k"
    ml.mkdir()
    (ml / "u.data").write_text("1\t1\t5\t881250949\n")
    (ml / "u.item").write_bytes(b"1|Toy Story (1995)|01-Jan-1995||http://x|0\n")
    return tmp_path


def test_tilde_is_expanded_by_every_loader(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ratings = load_ratings("~/data/netflix", cache_dir="~/cache")
    assert len(ratings) == 3
    assert (home / "cache").is_dir()
    assert len(load_ratings(["~/data/netflix/combined_data_1.txt"], cache=False)) == 3
    assert len(load_titles("~/data/netflix")) == 2
    assert len(load_titles("~/data/netflix/movie_titles.csv")) == 2
    assert len(load_probe("~/data/netflix")) == 1
    assert len(load_movielens("~/data/ml-100k")[0]) == 1
    assert len(load_netflix("~/data/netflix", cache=False)[1]) == 2
    monkeypatch.setenv("LLMREC_CACHE_DIR", "~/elsewhere")
    assert _paths.cache_dir("ratings") == home / "elsewhere" / "ratings"
    assert _paths.expand_path("~/x") == home / "x"


# -- items 16 and 20 -----------------------------------------------------------------------------
def test_missing_movielens_folder_is_an_llmrec_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "ml-1m"
    with pytest.raises(LLMRecError, match="ml-1m") as info:
        load_movielens(missing)
    assert isinstance(info.value, FileNotFoundError)  # still what it was before


def test_missing_movielens_file_is_an_llmrec_error(tmp_path: Path) -> None:
    (tmp_path / "u.data").write_text("1\t1\t5\t881250949\n")
    with pytest.raises(DataNotFoundError, match=r"u\.item"):
        load_movielens(tmp_path)


def test_missing_netflix_files_are_llmrec_errors(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"no such Netflix Prize file or folder"):
        load_ratings(tmp_path / "netflix")
    with pytest.raises(DataNotFoundError, match=r"movie_titles\.csv"):
        load_titles(tmp_path)
    with pytest.raises(DataNotFoundError, match=r"titles\.csv"):
        load_titles(tmp_path / "titles.csv")
    with pytest.raises(DataNotFoundError, match=r"probe\.txt"):
        load_probe(tmp_path)


def test_missing_netflix_folder_is_reported_as_a_missing_folder(tmp_path: Path) -> None:
    """Item 20: not as missing titles."""
    with pytest.raises(DataNotFoundError) as info:
        load_netflix(tmp_path / "netflix")
    assert "no such Netflix Prize file or folder" in str(info.value)
    assert "titles" not in str(info.value)
    (tmp_path / "combined_data_1.txt").write_text(RATINGS)
    with pytest.raises(DataNotFoundError, match=r"no movie_titles\.csv beside the ratings"):
        load_netflix(tmp_path)
    (tmp_path / "movie_titles.csv").write_bytes(b"1,2003,Dinosaur Planet\n2,NULL,Isle\n")
    ratings, catalog = load_netflix(tmp_path, cache=False)
    assert (len(ratings), len(catalog)) == (3, 2)


def test_cli_prints_one_error_line_for_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmrec.cli import main

    (tmp_path / "u.data").write_text("1\t1\t5\t881250949\n")  # a MovieLens folder without u.item
    assert main(["data", "stats", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("llmrec: error: ") and "u.item" in err and "Traceback" not in err
