"""MovieLens readers: the three layouts, titles and years, half stars, dates, and bad lines."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import movielens
from llmrec.data.catalog import Catalog
from llmrec.data.movielens import (
    load_ml1m,
    load_ml100k,
    load_ml_latest,
    load_movielens,
    parse_title,
)
from llmrec.data.ratings import Ratings
from llmrec.errors import DataFormatError


def utc_day(ts: int) -> np.datetime64:
    return np.datetime64(dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).date(), "D")


def titles(catalog: Catalog) -> dict[int, tuple[str, int | None]]:
    return {m.movie_id: (m.title, m.year) for m in catalog}


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


# -- fixtures: one small folder per variant --------------------------------------------------

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"
U_ITEM = (
    "242|Kolya (1996)|24-Jan-1997||http://us.imdb.com/M/title-exact?Kolya%20(1996)|0|0|0\n"
    "302|L.A. Confidential (1997)|01-Jan-1997||http://us.imdb.com/x|0|0|0\n"
    "377|Café au Lait (1994)|01-Jan-1994||http://us.imdb.com/y|0|0|0\n"
    "267|unknown||||1|0|0\n"
    "1300|Jack and Sarah|21-Jun-1996||http://us.imdb.com/z|0|0|0\n"
)
RATINGS_DAT = "1::1193::5::978300760\n1::661::3::978302109\n2::3408::4::978298413\n"
MOVIES_DAT = (
    "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
    "661::Misérables, Les (1995)::Drama|Musical\n"
    "3408::Matrix, The (1999)::Action|Sci-Fi\n"
)
RATINGS_CSV = (
    "userId,movieId,rating,timestamp\n"
    "1,1,4.0,964982703\n"
    "1,3,0.5,964981247\n"
    "1,6,3.5,964982224\n"
    "2,3,4.5,1445714835\n"
    "2,6,5.0,1445714885\n"
    "3,10,1.5,1306463578\n"
)
MOVIES_CSV = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation\n"
    '3,"American President, The (1995)",Comedy|Drama|Romance\n'
    '6,"""Great Performances"" Cats (1998)",Musical\n'
    "10,Babylon 5,Sci-Fi\n"
    "11,Fawlty Towers (1975-1979),Comedy\n"
    '12,"Amélie (Fabuleux destin d\'Amélie Poulain, Le) (2001)",Comedy\n'
)


@pytest.fixture
def ml100k(tmp_path: Path) -> Path:
    write(tmp_path / "ml-100k" / "u.data", U_DATA)
    write(tmp_path / "ml-100k" / "u.item", U_ITEM, "iso-8859-1")
    return tmp_path / "ml-100k"


@pytest.fixture
def ml1m(tmp_path: Path) -> Path:
    write(tmp_path / "ml-1m" / "ratings.dat", RATINGS_DAT)
    write(tmp_path / "ml-1m" / "movies.dat", MOVIES_DAT, "iso-8859-1")
    return tmp_path / "ml-1m"


@pytest.fixture
def ml_latest(tmp_path: Path) -> Path:
    write(tmp_path / "ml-latest-small" / "ratings.csv", RATINGS_CSV)
    write(tmp_path / "ml-latest-small" / "movies.csv", MOVIES_CSV)
    return tmp_path / "ml-latest-small"


# -- worked examples -------------------------------------------------------------------------


def test_ml100k(ml100k: Path) -> None:
    ratings, catalog = load_ml100k(ml100k)
    assert ratings == Ratings(
        [196, 186, 22],
        [242, 302, 377],
        [3, 3, 1],
        [utc_day(881250949), utc_day(891717742), utc_day(878887116)],
        time=[881250949, 891717742, 878887116],
    )
    assert str(ratings.date[0]) == "1997-12-04"
    assert ratings.time is not None and str(ratings.time[0]) == "1997-12-04T15:55:49"
    assert titles(catalog) == {
        242: ("Kolya", 1996),
        267: ("unknown", None),  # no title year, no release date
        302: ("L.A. Confidential", 1997),
        377: ("Café au Lait", 1994),  # ISO-8859-1 accent
        1300: ("Jack and Sarah", 1996),  # year from the release date
    }


def test_ml1m(ml1m: Path) -> None:
    ratings, catalog = load_ml1m(ml1m)
    assert ratings.user_id.tolist() == [1, 1, 2]
    assert ratings.movie_id.tolist() == [1193, 661, 3408]
    assert ratings.rating.tolist() == [5, 3, 4]
    assert str(ratings.date[0]) == "2000-12-31"  # 978300760 is 2000-12-31 22:12:40 UTC
    assert titles(catalog) == {
        661: ("Misérables, Les", 1995),
        1193: ("One Flew Over the Cuckoo's Nest", 1975),
        3408: ("Matrix, The", 1999),  # the article stays where the file puts it
    }


def test_ml_latest_half_stars_round_up_by_default(ml_latest: Path) -> None:
    ratings, catalog = load_ml_latest(ml_latest)
    assert ratings.rating.dtype == np.int8
    # 4.0 0.5 3.5 4.5 5.0 1.5  ->  4 1 4 5 5 2
    assert ratings.rating.tolist() == [4, 1, 4, 5, 5, 2]
    assert ratings.user_id.tolist() == [1, 1, 1, 2, 2, 3]
    assert ratings.date.tolist() == [
        utc_day(t).astype(object) for t in (964982703, 964981247, 964982224)
    ] + [utc_day(t).astype(object) for t in (1445714835, 1445714885, 1306463578)]
    down, _ = load_ml_latest(ml_latest, half_stars="down")
    assert down.rating.tolist() == [4, 1, 3, 4, 5, 1]
    assert titles(catalog) == {
        1: ("Toy Story", 1995),
        3: ("American President, The", 1995),  # quoted comma
        6: ('"Great Performances" Cats', 1998),  # doubled quotes
        10: ("Babylon 5", None),  # no year
        11: ("Fawlty Towers", 1975),  # a year range: its first year
        12: ("Amélie (Fabuleux destin d'Amélie Poulain, Le)", 2001),
    }


def test_autodetect_each_variant(ml100k: Path, ml1m: Path, ml_latest: Path) -> None:
    assert load_movielens(ml100k) == load_ml100k(ml100k)
    assert load_movielens(ml1m) == load_ml1m(ml1m)
    assert load_movielens(ml_latest) == load_ml_latest(ml_latest)


def test_autodetect_parent_folder(tmp_path: Path) -> None:
    write(tmp_path / "zip" / "ml-1m" / "ratings.dat", RATINGS_DAT)
    write(tmp_path / "zip" / "ml-1m" / "movies.dat", MOVIES_DAT, "iso-8859-1")
    ratings, _ = load_movielens(tmp_path / "zip")
    assert len(ratings) == 3


def test_autodetect_refuses_unknown_or_ambiguous(ml100k: Path, ml1m: Path, tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="several: ml-100k, ml-1m"):
        load_movielens(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="not a MovieLens folder"):
        load_movielens(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        load_movielens(tmp_path / "missing")


def test_parse_title() -> None:
    assert parse_title("Matrix, The (1999)") == ("Matrix, The", 1999)
    assert parse_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == (
        "City of Lost Children, The (Cité des enfants perdus, La)",
        1995,
    )
    assert parse_title("Babylon 5") == ("Babylon 5", None)
    assert parse_title("Big Bang Theory (2007-)") == ("Big Bang Theory", 2007)
    assert parse_title("Ready Player One ") == ("Ready Player One", None)
    assert parse_title("1941 (1979)") == ("1941", 1979)


def test_empty_ratings_file(tmp_path: Path) -> None:
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n")
    write(tmp_path / "movies.csv", "movieId,title,genres\n")
    ratings, catalog = load_ml_latest(tmp_path)
    assert len(ratings) == 0 and len(catalog) == 0


def test_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    write(tmp_path / "ratings.dat", "1::2::3::86400\r\n4::5::4::172800")
    write(tmp_path / "movies.dat", "2::A (2000)::Drama\r\n5::B::Drama")
    ratings, catalog = load_ml1m(tmp_path)
    assert ratings == Ratings(
        [1, 4], [2, 5], [3, 4], ["1970-01-02", "1970-01-03"], time=[86400, 172800]
    )
    assert titles(catalog) == {2: ("A", 2000), 5: ("B", None)}


# -- malformed input names file, line and text -----------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("7,8,4.0", "expected 4 fields"),
        ("7,8,4.0,1,2", "expected 4 fields"),
        ("", "expected 4 fields"),
        ("7,x8,4.0,100", "movie id"),
        ("0,8,4.0,100", "user id"),
        ("7,,4.0,100", "movie id"),
        ("7,8,4.0,-5", "timestamp"),
        ("7,8,6.0,100", "rating"),
        ("7,8,3.7,100", "rating"),
        ("7,8,0.0,100", "rating"),
        ("7,8,4.,100", "rating"),
        ("99999999999,8,4.0,100", "user id"),
    ],
)
@pytest.mark.parametrize("chunk", [16, 1 << 20])
def test_bad_rating_line_raises_with_line(
    tmp_path: Path, bad: str, message: str, chunk: int
) -> None:
    good = [f"{i},{i + 1},3.0,{1000 + i}" for i in range(1, 9)]
    lines = [*good[:5], bad, *good[5:]]
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n" + "\n".join(lines) + "\n")
    write(tmp_path / "movies.csv", "movieId,title,genres\n")
    with mock.patch.object(movielens, "_CHUNK_BYTES", chunk), pytest.raises(DataFormatError) as e:
        load_ml_latest(tmp_path)
    assert e.value.line == 7  # header + five good lines, then the bad one
    assert e.value.text == bad
    assert e.value.path is not None and e.value.path.endswith("ratings.csv")
    assert message in str(e.value)


def test_bad_dat_line_shows_the_original_separators(tmp_path: Path) -> None:
    write(tmp_path / "ratings.dat", "1::2::3::4\n1::2::3\n")
    write(tmp_path / "movies.dat", "2::A (2000)::Drama\n")
    with pytest.raises(DataFormatError) as e:
        load_ml1m(tmp_path)
    assert (e.value.line, e.value.text) == (2, "1::2::3")


def test_bad_header_and_bad_movies(tmp_path: Path) -> None:
    write(tmp_path / "ratings.csv", "user,movie,rating,timestamp\n1,2,3.0,4\n")
    write(tmp_path / "movies.csv", "movieId,title,genres\n")
    with pytest.raises(DataFormatError) as e:
        load_ml_latest(tmp_path)
    assert e.value.line == 1
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n")
    write(tmp_path / "movies.csv", "movieId,title,genres\n1,A (2000),X\n1,B (2001),Y\n")
    with pytest.raises(DataFormatError, match="repeats line 2") as e:
        load_ml_latest(tmp_path)
    assert e.value.line == 3
    write(tmp_path / "movies.csv", "movieId,title,genres\n1,A (2000)\n")
    with pytest.raises(DataFormatError) as e:
        load_ml_latest(tmp_path)
    assert e.value.line == 2
    write(tmp_path / "movies.csv", "movieId,title,genres\nx1,A (2000),X\n")
    with pytest.raises(DataFormatError, match="movie id") as e:
        load_ml_latest(tmp_path)
    assert e.value.line == 2


def test_u_item_errors(tmp_path: Path) -> None:
    write(tmp_path / "u.data", "1\t2\t3\t4\n")
    write(tmp_path / "u.item", "2|A (2000)|01-Jan-2000\n\n", "iso-8859-1")
    with pytest.raises(DataFormatError) as e:
        load_ml100k(tmp_path)
    assert e.value.line == 2
    write(tmp_path / "u.item", "2\n", "iso-8859-1")
    with pytest.raises(DataFormatError) as e:
        load_ml100k(tmp_path)
    assert e.value.line == 1


def test_missing_files_are_named(tmp_path: Path) -> None:
    write(tmp_path / "u.data", "1\t2\t3\t4\n")
    with pytest.raises(FileNotFoundError, match=r"u\.item"):
        load_ml100k(tmp_path)


# -- round trip against a plain reference reader ---------------------------------------------


def reference_ratings_csv(text: str) -> list[tuple[int, int, int, str]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["userId", "movieId", "rating", "timestamp"]
    out = []
    for user, movie, rating, ts in rows[1:]:
        half = round(float(rating) * 2)
        out.append((int(user), int(movie), (half + 1) // 2, str(utc_day(int(ts)))))
    return out


@given(
    rows=st.lists(
        st.tuples(
            st.integers(1, 2**31 - 1),
            st.integers(1, 2**31 - 1),
            st.integers(1, 10),
            st.integers(0, 4_102_444_800),
            st.booleans(),
        ),
        max_size=40,
    ),
    chunk=st.sampled_from([8, 50, 1 << 20]),
)
def test_ratings_csv_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[int, int, int, int, bool]],
    chunk: int,
) -> None:
    folder = tmp_path_factory.mktemp("rt")
    lines = []
    for user, movie, half, ts, short in rows:
        rating = str(half // 2) if short and half % 2 == 0 else f"{half / 2:.1f}"
        lines.append(f"{user},{movie},{rating},{ts}\n")
    text = "userId,movieId,rating,timestamp\n" + "".join(lines)
    write(folder / "ratings.csv", text)
    write(folder / "movies.csv", "movieId,title,genres\n")
    with mock.patch.object(movielens, "_CHUNK_BYTES", chunk):
        ratings, _ = load_ml_latest(folder)
    got = list(
        zip(
            ratings.user_id.tolist(),
            ratings.movie_id.tolist(),
            ratings.rating.tolist(),
            [str(d) for d in ratings.date],
            strict=True,
        )
    )
    assert got == reference_ratings_csv(text)
