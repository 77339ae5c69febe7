"""``llmrec data convert`` and the catalog file: every source in, llmrec or RecBole out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llmrec.cli import main
from llmrec.data import Catalog, Movie, SourceIds, kcore
from llmrec.data.convert import convert, detect_source, load_llmrec, read_source
from llmrec.data.recbole import load_atomic
from llmrec.errors import ConfigError, DataFormatError


def amazon_file(path: Path) -> Path:
    rows = [
        {"user_id": "U1", "parent_asin": "P1", "rating": 5.0, "timestamp": 1_000_000},
        {"user_id": "U2", "parent_asin": "P1", "rating": 4.0, "timestamp": 2_000_000},
        {"user_id": "U1", "parent_asin": "P2", "rating": 3.0, "timestamp": 3_000_000},
        {"user_id": "U2", "parent_asin": "P2", "rating": 2.0, "timestamp": 4_000_000},
        {"user_id": "U3", "parent_asin": "P3", "rating": 1.0, "timestamp": 5_000_000},
        {"user_id": "U1", "parent_asin": "P1", "rating": 1.0, "timestamp": 6_000_000},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_catalog_save_and_load_keep_titles_and_source_ids(tmp_path: Path) -> None:
    catalog = Catalog(
        [Movie(1, 'Tab\there "quoted" é', 1999), Movie(2, "B", None)],
        encoding="utf-8",
        source_ids=SourceIds(["X1", "X2", "X3"]),
    )
    catalog.save(tmp_path / "c.jsonl")
    back = Catalog.load(tmp_path / "c.jsonl")
    assert back == catalog and back.source_id(2) == "X2" and back.encoding == "utf-8"
    assert back.source_ids is not None and back.source_ids.token(3) == "X3"
    plain = Catalog([Movie(5, "A", 2000)])
    plain.save(tmp_path / "p.jsonl")
    assert Catalog.load(tmp_path / "p.jsonl") == plain
    (tmp_path / "p.jsonl").write_text((tmp_path / "p.jsonl").read_text() + '{"id": "6"}\n')
    with pytest.raises(DataFormatError) as info:
        Catalog.load(tmp_path / "p.jsonl")
    assert info.value.line == 3


def test_amazon_to_llmrec_and_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = amazon_file(tmp_path / "Movies.jsonl")
    assert detect_source(src) == "amazon"
    assert main(["data", "convert", str(src), str(tmp_path / "out"), "--to", "llmrec"]) == 0
    out = capsys.readouterr().out
    assert "read" in out and "as amazon" in out and "duplicates_dropped  1" in out
    ratings, catalog = load_llmrec(tmp_path / "out")
    direct = read_source(src)
    assert ratings == direct.ratings and catalog == direct.catalog
    assert ratings.time is not None and ratings.source_user(1) == "U1"
    assert detect_source(tmp_path / "out") == "llmrec"


def test_amazon_to_recbole_with_kcore(tmp_path: Path) -> None:
    src = amazon_file(tmp_path / "Movies.jsonl")
    written = convert(src, tmp_path / "rb", to="recbole", kcore=2, dataset="movies")
    assert written.counts["kcore_dropped"] == 1  # U3's single review of P3
    assert (written.counts["kcore_users"], written.counts["kcore_items"]) == (2, 2)
    inter = (tmp_path / "rb" / "movies.inter").read_text().splitlines()
    assert inter[0] == "user_id:token\titem_id:token\trating:float\ttimestamp:float"
    assert inter[1:] == ["U2\tP1\t4\t2000", "U1\tP2\t3\t3000", "U2\tP2\t2\t4000", "U1\tP1\t1\t6000"]
    ratings, catalog = load_atomic(tmp_path / "rb")
    assert len(catalog) == 2 and [catalog.source_id(m) for m in catalog.movie_ids] == ["P1", "P2"]
    core = kcore(read_source(src).ratings, 2)
    assert ratings.rating.tolist() == core.rating.tolist()
    assert detect_source(tmp_path / "rb") == "recbole"


def test_movielens_and_netflix_sources(tmp_path: Path) -> None:
    ml = tmp_path / "ml"
    ml.mkdir()
    (ml / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    (ml / "u.item").write_text("242|Kolya (1996)|24-Jan-1997\n302|L.A. Confidential (1997)|x\n")
    assert detect_source(ml) == "movielens"
    convert(ml, tmp_path / "ml-rb", to="recbole")
    ratings, catalog = load_atomic(tmp_path / "ml-rb")
    # decimal ids keep their values: the same user and movie ids as the MovieLens loader
    assert ratings.user_id.tolist() == [196, 186] and ratings.movie_id.tolist() == [242, 302]
    assert catalog.label(242) == "Kolya (1996)"
    assert ratings == read_source(ml).ratings
    nf = tmp_path / "nf"
    nf.mkdir()
    (nf / "combined_data_1.txt").write_text("1:\n10,5,2005-01-02\n2:\n10,4,2005-01-03\n")
    (nf / "movie_titles.csv").write_text("1,2003,Dinosaur Planet\n2,NULL,Isle\n")
    assert detect_source(nf) == "netflix"
    written = convert(nf, tmp_path / "nf-out", to="llmrec")
    back, back_catalog = load_llmrec(tmp_path / "nf-out")
    assert back == written.ratings and back.time is None and back_catalog.title(2) == "Isle"
    assert back.fingerprint() == written.ratings.fingerprint()


def test_bad_options(tmp_path: Path) -> None:
    src = amazon_file(tmp_path / "r.jsonl")
    with pytest.raises(ConfigError, match="unknown target"):
        convert(src, tmp_path / "o", to="csv")  # type: ignore[arg-type]
    ml = tmp_path / "ml"
    ml.mkdir()
    (ml / "u.data").write_text("1\t2\t3\t4\n")
    (ml / "u.item").write_text("2|A (1990)|x\n")
    with pytest.raises(ConfigError, match="meta= is for Amazon"):
        convert(ml, tmp_path / "o", meta=src)
    assert (
        main(["data", "convert", str(tmp_path / "none"), str(tmp_path / "o"), "--to", "llmrec"])
        == 1
    )
    assert np.array_equal(read_source(ml).ratings.user_id, [1])


def test_stats_of_peer_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = amazon_file(tmp_path / "Movies.jsonl")
    assert main(["data", "stats", str(src)]) == 0
    out = capsys.readouterr().out
    assert "Amazon reviews data" in out and "ratings        5" in out
    assert "catalog        3 titles" in out
    convert(src, tmp_path / "rb", to="recbole")
    assert main(["data", "stats", str(tmp_path / "rb")]) == 0
    assert "RecBole data" in capsys.readouterr().out


def test_a_ratings_folder_without_catalog_converts_with_ids_as_titles(tmp_path: Path) -> None:
    from llmrec.data import Ratings

    table = Ratings([1, 2], [7, 9], [3, 4], ["2005-01-01", "2005-01-02"])
    table.save(tmp_path / "history")  # as `llmrec truth build --history` writes it
    assert detect_source(tmp_path / "history") == "llmrec"
    written = convert(tmp_path / "history", tmp_path / "rb", to="recbole")
    assert written.counts["untitled_items"] == 2
    ratings, catalog = load_atomic(tmp_path / "rb")
    assert catalog.title(9) == "9" and ratings.movie_id.tolist() == [7, 9]
