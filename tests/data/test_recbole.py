"""RecBole atomic files: typed headers, ids, implicit data, titles, errors, round trip."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import kcore
from llmrec.data.recbole import load_atomic, read_atomic, write_atomic
from llmrec.errors import ConfigError, DataFormatError, DataNotFoundError

INTER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def atomic(folder: Path, name: str, inter: str, item: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.inter").write_text(inter, encoding="utf-8")
    if item is not None:
        (folder / f"{name}.item").write_text(item, encoding="utf-8")
    return folder


def ml100k_like(folder: Path) -> Path:
    """A written stand-in for RecBole's ml-100k with the same published counts.

    943 users and 1,682 items, 100,000 ratings; 1,349 "core" items hold 99,287 ratings (every
    user has 105 or 106 of them, every core item at least 70), and the 333 others have 2 or 3
    ratings each (713 in all), so the 5-core is 943 users, 1,349 items, 99,287 ratings: the
    figures OpenP5 publishes for the real file.
    """
    rows = []
    for u in range(943):
        for j in range(105 + (u < 272)):
            rows.append((u + 1, (u * 7 + j) % 1349 + 1))
    for s in range(333):
        for t in range(2 + (s < 47)):
            rows.append(((s * 3 + t * 311) % 943 + 1, 1350 + s))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(rows))
    lines = [INTER]
    for i in order.tolist():
        u, m = rows[i]
        lines.append(f"{u}\t{m}\t{1 + (u + m) % 5}\t{874_724_710 + 37 * i}\n")
    item = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"]
    item += [f"{m}\tMovie {m}\t{1950 + m % 50}\tDrama\n" for m in range(1, 1683)]
    return atomic(folder, "ml-100k", "".join(lines), "".join(item))


# -- the published figures, on a file the test writes --------------------------------------------
def test_ml100k_like_counts_and_its_5_core(tmp_path: Path) -> None:
    loaded = read_atomic(ml100k_like(tmp_path / "ml-100k"))
    ratings, catalog = loaded
    assert (len(ratings), ratings.n_users, ratings.n_movies) == (100_000, 943, 1_682)
    assert len(catalog) == 1_682 and loaded.counts["untitled_items"] == 0
    core = kcore(ratings, 5)
    assert (core.n_users, core.n_movies, len(core)) == (943, 1_349, 99_287)


@pytest.mark.skipif(
    not os.environ.get("LLMREC_RECBOLE_ML100K"),
    reason="set LLMREC_RECBOLE_ML100K to RecBole's dataset_example/ml-100k folder",
)
def test_real_recbole_ml100k() -> None:
    ratings, catalog = load_atomic(os.environ["LLMREC_RECBOLE_ML100K"])
    assert (len(ratings), ratings.n_users, ratings.n_movies, len(catalog)) == (
        100_000,
        943,
        1_682,
        1_682,
    )
    assert ratings.user_source_ids is None and ratings.movie_source_ids is None
    assert catalog.label(1) == "Toy Story (1995)"
    core = kcore(ratings, 5)
    assert (core.n_users, core.n_movies, len(core)) == (943, 1_349, 99_287)


# -- reading ---------------------------------------------------------------------------------------
def test_decimal_tokens_keep_their_values_and_time_is_kept(tmp_path: Path) -> None:
    folder = atomic(
        tmp_path / "ml",
        "ml",
        INTER + "196\t242\t3\t881250949\n186\t302\t3.0\t891717742.7\n",
        "item_id:token\tmovie_title:token_seq\trelease_year:token\n"
        "242\tKolya\t1996\n302\tL.A.  Confidential\t1997\n999\tunknown\tunknown\n",
    )
    ratings, catalog = load_atomic(folder)
    assert ratings.user_id.tolist() == [196, 186] and ratings.movie_id.tolist() == [242, 302]
    assert ratings.rating.tolist() == [3, 3]
    assert ratings.time is not None
    assert ratings.time.astype(np.int64).tolist() == [881250949, 891717742]  # fraction dropped
    assert ratings.date.astype(str).tolist() == ["1997-12-04", "1998-04-04"]
    assert catalog.label(302) == "L.A.  Confidential (1997)"  # the title as written
    assert catalog.label(999) == "unknown" and catalog.year(999) is None
    assert catalog.source_ids is None


def test_string_tokens_map_to_dense_ids_in_order_of_first_appearance(tmp_path: Path) -> None:
    folder = atomic(
        tmp_path / "az",
        "az",
        INTER + "AX\tB002\t5\t10\nBY\tB001\t4\t20\nAX\tB001\t1\t30\n",
        "item_id:token\ttitle:token_seq\nB009\tNever rated\nB001\tFirst\n",
    )
    loaded = read_atomic(folder)
    ratings, catalog = loaded
    assert ratings.user_id.tolist() == [1, 2, 1] and ratings.movie_id.tolist() == [1, 2, 2]
    assert [ratings.source_user(u) for u in (1, 2)] == ["AX", "BY"]
    assert [catalog.source_id(m) for m in (1, 2, 3)] == ["B002", "B001", "B009"]
    assert catalog.id_for_source("B009") == 3 and catalog.title(3) == "Never rated"
    assert catalog.title(1) == "B002"  # no .item row: the id is the label, and it is counted
    assert loaded.counts["untitled_items"] == 1 and loaded.counts["items"] == 3


def test_implicit_data_needs_an_explicit_rating(tmp_path: Path) -> None:
    folder = atomic(
        tmp_path / "imp", "imp", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n"
    )
    with pytest.raises(DataFormatError, match="implicit_rating=N") as info:
        load_atomic(folder)
    assert info.value.line == 1 and info.value.path and info.value.path.endswith("imp.inter")
    ratings, _ = load_atomic(folder, implicit_rating=5)
    assert ratings.rating.tolist() == [5]
    with pytest.raises(ConfigError, match="1-5"):
        load_atomic(folder, implicit_rating=0)
    rated = atomic(tmp_path / "rated", "rated", INTER + "1\t2\t3\t4\n")
    with pytest.raises(ConfigError, match="implicit_rating applies only"):
        load_atomic(rated, implicit_rating=5)


def test_data_without_time_needs_time_field_none(tmp_path: Path) -> None:
    folder = atomic(tmp_path / "nt", "nt", "user_id:token\titem_id:token\trating:float\n1\t2\t3\n")
    with pytest.raises(DataFormatError, match="time_field=None"):
        load_atomic(folder)
    ratings, _ = load_atomic(folder, time_field=None)
    assert ratings.time is None and ratings.date.astype(str).tolist() == ["1970-01-01"]


def test_half_stars_round_up_by_default(tmp_path: Path) -> None:
    folder = atomic(tmp_path / "h", "h", INTER + "1\t2\t3.5\t0\n1\t3\t0.5\t0\n1\t4\t4.5\t0\n")
    assert load_atomic(folder)[0].rating.tolist() == [4, 1, 5]
    assert load_atomic(folder, half_stars="down")[0].rating.tolist() == [3, 1, 4]


def test_dataset_name_and_folder_rules(tmp_path: Path) -> None:
    folder = atomic(tmp_path / "any", "books", INTER + "1\t2\t3\t4\n")
    assert len(load_atomic(folder)[0]) == 1  # the only .inter file
    atomic(folder, "movies", INTER)
    with pytest.raises(DataFormatError, match="books, movies; pass dataset="):
        load_atomic(folder)
    assert len(load_atomic(folder, "movies")[0]) == 0
    with pytest.raises(DataNotFoundError):
        load_atomic(folder, "music")
    with pytest.raises(DataNotFoundError):
        load_atomic(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("text", "line", "message", "value"),
    [
        ("user_id:token\titem_id:tokn\n", 1, "column 2 (item_id): type must be one of",
         "item_id:tokn"),
        ("user_id\titem_id:token\n", 1, "column 1: a header cell must be name:type", "user_id"),
        ("user_id:float\titem_id:token\trating:float\ttimestamp:float\n", 1,
         "column 1 (user_id) must be of type token", "user_id:float"),
        (INTER + "1\t2\t3\t4\n5\t6\t7\n", 3, "expected 4 tab-separated fields", "5\t6\t7"),
        (INTER + "1\t2\t3\t4\n1\t2\tgood\t4\n", 3, "column 3 (rating:float): not a number", "good"),
        (INTER + "1\t2\t6\t4\n", 2, "column 3 (rating:float): rating must be 1-5 stars", "6"),
        (INTER + "1\t2\t3\tnan\n", 2, "column 4 (timestamp:float): must be a finite", "nan"),
        (INTER + "1\t \t3\t4\n", 2, "column 2 (item_id:token): empty id", " "),
    ],
)  # fmt: skip
def test_bad_lines_name_file_line_and_column(
    tmp_path: Path, text: str, line: int, message: str, value: str | None
) -> None:
    folder = atomic(tmp_path / "bad", "bad", text)
    with pytest.raises(DataFormatError) as info:
        load_atomic(folder)
    assert info.value.line == line and message in str(info.value)
    assert info.value.text == value
    assert str(info.value).startswith(str(folder / "bad.inter"))


def test_bad_item_file_and_encoding(tmp_path: Path) -> None:
    folder = atomic(
        tmp_path / "it",
        "it",
        INTER + "1\t2\t3\t4\n",
        "item_id:token\ttitle:token_seq\n2\tA\n2\tB\n",
    )
    with pytest.raises(DataFormatError, match="item repeats line 2") as info:
        load_atomic(folder)
    assert info.value.line == 3 and str(info.value).startswith(str(folder / "it.item"))
    (folder / "it.item").write_bytes(b"item_id:token\ttitle:token_seq\n2\tCaf\xe9\n")
    with pytest.raises(DataFormatError, match="not utf-8 text") as info:
        load_atomic(folder)
    assert info.value.line == 2
    assert load_atomic(folder, encoding="iso-8859-1")[1].title(2) == "Café"


def test_blank_lines_and_crlf_are_read_and_counted(tmp_path: Path) -> None:
    text = INTER.replace("\n", "\r\n") + "1\t2\t3\t4\r\n\r\n5\t6\t1\t7\r\n"
    loaded = read_atomic(atomic(tmp_path / "b", "b", text))
    assert loaded.ratings.user_id.tolist() == [1, 5] and loaded.counts["blank_lines"] == 1


# -- writing ---------------------------------------------------------------------------------------
def test_write_then_read_gives_the_same_tables(tmp_path: Path) -> None:
    folder = atomic(
        tmp_path / "src",
        "src",
        INTER + "AX\tB002\t5\t10\nBY\tB001\t4\t86410\nAX\tB001\t1\t30\n",
        "item_id:token\ttitle:token_seq\trelease_year:token\nB001\tFirst\t2001\nB002\tSecond\t\n",
    )
    ratings, catalog = load_atomic(folder)
    write_atomic(tmp_path / "out", ratings, catalog, "copy")
    again, again_catalog = load_atomic(tmp_path / "out")
    assert again == ratings and again_catalog == catalog
    assert (tmp_path / "out" / "copy.inter").read_text().splitlines()[1] == "AX\tB002\t5\t10"


def test_ml100k_like_round_trips(tmp_path: Path) -> None:
    ratings, catalog = load_atomic(ml100k_like(tmp_path / "ml-100k"))
    write_atomic(tmp_path / "out", ratings, catalog, "ml-100k")
    assert load_atomic(tmp_path / "out") == (ratings, catalog)


def test_a_bad_value_found_after_reading_names_its_line_past_blank_lines(tmp_path: Path) -> None:
    text = INTER + "1\t2\t3\t4\n\n\n5\t6\t7.5\t8\n"
    with pytest.raises(DataFormatError, match="column 3 \\(rating:float\\)") as info:
        load_atomic(atomic(tmp_path / "b", "b", text))
    assert info.value.line == 5 and info.value.text == "7.5"


def test_other_field_names_as_recbole_configs_set_them(tmp_path: Path) -> None:
    folder = atomic(
        tmp_path / "f",
        "f",
        "uid:token\tiid:token\tscore:float\tts:float\n1\t2\t4\t100\n",
        "iid:token\ttitle:token_seq\n2\tTwo\n",
    )
    with pytest.raises(DataFormatError, match="no 'user_id' column"):
        load_atomic(folder)
    ratings, catalog = load_atomic(
        folder, user_field="uid", item_field="iid", rating_field="score", time_field="ts"
    )
    assert ratings.rating.tolist() == [4] and catalog.title(2) == "Two"
    with pytest.raises(DataFormatError, match=r"column 3 \(score:float\)") as info:
        (folder / "f.inter").write_text("uid:token\tiid:token\tscore:float\tts:float\n1\t2\t9\t1\n")
        load_atomic(
            folder, user_field="uid", item_field="iid", rating_field="score", time_field="ts"
        )
    assert info.value.text == "9"


def test_a_title_with_a_tab_cannot_be_written(tmp_path: Path) -> None:
    from llmrec.data import Catalog, Movie, Ratings

    ratings = Ratings([1], [2], [3], ["2005-01-01"])
    with pytest.raises(ValueError, match="tab or a line break"):
        write_atomic(tmp_path / "o", ratings, Catalog([Movie(2, "A\tB", None)]), "o")


_TOKEN = st.text(alphabet="ABCxyz019_-.é", min_size=1, max_size=5)


@given(st.lists(st.tuples(_TOKEN, _TOKEN, st.integers(1, 5), st.integers(0, 2**31)), max_size=25))
def test_write_then_load_round_trips(rows: list[tuple[str, str, int, int]]) -> None:
    import tempfile

    from llmrec.data import Catalog, Movie, Ratings
    from llmrec.data.source_ids import encode_ids

    users, user_map = encode_ids([u for u, _, _, _ in rows])
    items, item_map = encode_ids([i for _, i, _, _ in rows])
    stamps = np.array([t for *_, t in rows], dtype=np.int64)
    ratings = Ratings(
        users,
        items,
        [r for _, _, r, _ in rows],
        (stamps // 86_400).astype("datetime64[D]"),
        time=stamps,
        user_source_ids=user_map,
        movie_source_ids=item_map,
    )
    first = dict(zip(items.tolist(), [i for _, i, _, _ in rows], strict=True))
    catalog = Catalog(
        (Movie(m, f"Title of {token}", 1990 + m % 30) for m, token in first.items()),
        encoding="utf-8",
        source_ids=item_map,
    )
    with tempfile.TemporaryDirectory() as folder:
        write_atomic(folder, ratings, catalog, "data")
        assert load_atomic(folder) == (ratings, catalog)
