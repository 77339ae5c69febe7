"""Ratings time to the second, history order, and the source's string ids (issue 20, item 1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data import Catalog, Movie, Ratings, SourceIds, _cache, load_ratings, netflix
from llmrec.data.movielens import load_ml_latest
from llmrec.data.source_ids import encode_ids
from llmrec.errors import DataFormatError


def plain() -> Ratings:
    return Ratings([3, 1, 3], [10, 20, 30], [5, 4, 1], ["2005-01-02", "2005-01-01", "2005-01-02"])


def timed() -> Ratings:
    return Ratings(
        [3, 1, 3, 1],
        [10, 20, 30, 40],
        [5, 4, 1, 2],
        ["2005-01-02", "2005-01-01", "2005-01-02", "2005-01-01"],
        time=[1104667200, 1104580800, 1104667200, 1104580799],
        user_source_ids=SourceIds(["u-a", "u-b", "u-c"]),
        movie_source_ids=None,
    )


def old_fingerprint(r: Ratings) -> str:
    """The fingerprint as written before the time column existed (the four columns only)."""
    h = hashlib.sha256()
    for name in ("user_id", "movie_id", "rating", "date"):
        arr = np.ascontiguousarray(getattr(r, name))
        h.update(name.encode())
        h.update(arr.view(np.uint8).data if arr.size else b"")
    return h.hexdigest()


# -- the time column ---------------------------------------------------------------------------
def test_time_is_optional_keyword_only_and_seconds() -> None:
    assert plain().time is None
    r = timed()
    assert r.time is not None and r.time.dtype == np.dtype("datetime64[s]")
    assert str(r.time[0]) == "2005-01-02T12:00:00"
    ms = Ratings([1], [2], [3], ["2005-01-01"], time=np.array([1104580800123], "datetime64[ms]"))
    assert ms.time is not None and str(ms.time[0]) == "2005-01-01T12:00:00"
    with pytest.raises(ValueError, match="equal length"):
        Ratings([1], [2], [3], ["2005-01-01"], time=[1, 2])
    with pytest.raises(TypeError):
        Ratings([1], [2], [3], ["2005-01-01"], [0])  # type: ignore[misc]


def test_fingerprint_of_a_table_without_time_is_unchanged() -> None:
    r = plain()
    assert r.fingerprint() == old_fingerprint(r)
    # pinned: the value llmrec computed for this table before time existed
    assert r.fingerprint() == "3755ad21b98ffda2f4bd6e1e1f11c69f31a32a86f7dbcb59a00f655648695828"
    with_time = Ratings(r.user_id, r.movie_id, r.rating, r.date, time=[0, 0, 0])
    assert with_time.fingerprint() != r.fingerprint()
    assert with_time != r


def test_take_and_for_users_keep_time_and_ids() -> None:
    r = timed()
    part = r.for_users([3])
    assert part.time is not None and part.time.tolist() == [r.time[0], r.time[2]]  # type: ignore[index]
    assert part.user_source_ids == r.user_source_ids
    assert part.source_user(3) == "u-c"
    rev = r.take(np.arange(len(r))[::-1])
    assert rev.time is not None and rev.time.tolist() == r.time[::-1].tolist()  # type: ignore[index]
    assert rev.take(np.arange(len(r))[::-1]) == r


def test_equality_looks_at_time_and_source_ids() -> None:
    r = timed()
    same = Ratings(
        r.user_id, r.movie_id, r.rating, r.date, time=r.time, user_source_ids=r.user_source_ids
    )
    assert same == r and same.fingerprint() == r.fingerprint()
    other_ids = Ratings(
        r.user_id, r.movie_id, r.rating, r.date, time=r.time,
        user_source_ids=SourceIds(["u-a", "u-b", "u-z"]),
    )  # fmt: skip
    assert other_ids != r and other_ids.fingerprint() != r.fingerprint()
    assert Ratings(r.user_id, r.movie_id, r.rating, r.date, time=r.time) != r


@pytest.mark.parametrize("mmap", [True, False])
def test_save_and_load_keep_time_and_ids(tmp_path: Path, mmap: bool) -> None:
    r = timed()
    r.save(tmp_path / "t")
    back = Ratings.load(tmp_path / "t", mmap=mmap, verify=True)
    assert back == r and back.fingerprint() == r.fingerprint()
    assert back.time is not None
    assert back.time.flags.writeable != mmap  # mapped read-only from the file
    assert back.source_user(1) == "u-a"
    meta = json.loads((tmp_path / "t" / "meta.json").read_text())
    assert meta["format"] == "llmrec-ratings/2"
    assert meta["columns"] == ["user_id", "movie_id", "rating", "date", "time", "user_source_ids"]


def _save_as_format_1(r: Ratings, folder: Path) -> None:
    """What llmrec wrote before time existed: four .npy files and a /1 meta.json."""
    folder.mkdir(parents=True)
    for name in ("user_id", "movie_id", "rating", "date"):
        np.save(folder / f"{name}.npy", getattr(r, name))
    meta = {"format": "llmrec-ratings/1", "n_ratings": len(r), "fingerprint": old_fingerprint(r)}
    (folder / "meta.json").write_text(json.dumps(meta))


def test_folders_of_the_first_format_still_load(tmp_path: Path) -> None:
    r = plain()
    _save_as_format_1(r, tmp_path / "old")
    back = Ratings.load(tmp_path / "old", verify=True)
    assert back == r and back.time is None and back.user_source_ids is None


def test_a_folder_listing_an_unknown_column_is_refused(tmp_path: Path) -> None:
    timed().save(tmp_path / "t")
    meta = json.loads((tmp_path / "t" / "meta.json").read_text())
    meta["columns"].append("mood")
    (tmp_path / "t" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match="unknown columns"):
        Ratings.load(tmp_path / "t")


# -- the Netflix cache: entries written before time existed --------------------------------------
def _netflix_file(path: Path) -> Path:
    path.write_text("1:\n6,3,2005-01-02\n7,5,2005-01-03\n2:\n6,4,2005-02-01\n")
    return path


def test_a_cache_entry_of_the_first_format_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _netflix_file(tmp_path / "combined_data_1.txt")
    first = load_ratings(src, cache_dir=tmp_path / "cache")
    entry = _cache.cache_entry(_cache.source_identity([src], None), tmp_path / "cache")
    for name in ("user_id", "movie_id", "rating", "date"):
        assert (entry / f"{name}.npy").is_file()
    meta = json.loads((entry / "meta.json").read_text())
    meta = {key: meta[key] for key in ("n_ratings", "fingerprint")} | {"format": "llmrec-ratings/1"}
    (entry / "meta.json").write_text(json.dumps(meta))

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(netflix, "read_records", fail)
    again = load_ratings(src, cache_dir=tmp_path / "cache")
    assert again == first and again.time is None
    assert again.fingerprint() == old_fingerprint(first)


def test_a_cache_entry_in_an_unknown_format_is_rebuilt(tmp_path: Path) -> None:
    src = _netflix_file(tmp_path / "combined_data_1.txt")
    first = load_ratings(src, cache_dir=tmp_path / "cache")
    entry = _cache.cache_entry(_cache.source_identity([src], None), tmp_path / "cache")
    meta = json.loads((entry / "meta.json").read_text())
    meta["format"] = "llmrec-ratings/99"
    (entry / "meta.json").write_text(json.dumps(meta))
    assert _cache.read_cache(entry, _cache.source_identity([src], None)) is None
    again = load_ratings(src, cache_dir=tmp_path / "cache")
    assert again == first
    assert json.loads((entry / "meta.json").read_text())["format"] == "llmrec-ratings/2"


# -- history order ------------------------------------------------------------------------------
@st.composite
def timed_tables(draw: st.DrawFn) -> Ratings:
    n = draw(st.integers(0, 40))
    users = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    stamps = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))  # many ties
    with_time = draw(st.booleans())
    return Ratings(
        users,
        np.arange(n) + 1,
        np.full(n, 3),
        np.array(stamps, dtype=np.int64),
        time=np.array(stamps, dtype=np.int64) * 7 if with_time else None,
    )


@given(timed_tables())
def test_history_order_is_user_then_time_then_file_order(r: Ratings) -> None:
    when = (r.date if r.time is None else r.time).tolist()
    users = r.user_id.tolist()
    expected = sorted(range(len(r)), key=lambda i: (users[i], when[i], i))
    assert r.history_order().tolist() == expected
    first = {u: users.index(u) for u in users}
    expected = sorted(range(len(r)), key=lambda i: (first[users[i]], when[i], i))
    assert r.history_order(users="first_seen").tolist() == expected


def test_history_order_uses_seconds_when_the_day_ties() -> None:
    r = timed()
    # user 1: movie 40 at 11:59:59 before movie 20 at 12:00:00 on the same day;
    # user 3: two ratings at the same second keep the file order (10, then 30)
    assert r.movie_id[r.history_order()].tolist() == [40, 20, 10, 30]
    # user 3 appears first in the table
    assert r.movie_id[r.history_order(users="first_seen")].tolist() == [10, 30, 40, 20]
    with pytest.raises(ValueError, match="first_seen"):
        r.history_order(users="name")  # type: ignore[arg-type]


# -- source ids -----------------------------------------------------------------------------------
def test_string_ids_become_dense_ids_in_order_of_first_appearance() -> None:
    ids, mapping = encode_ids(["B0X", "A1", "B0X", "Z9"])
    assert ids.tolist() == [1, 2, 1, 3]
    assert mapping is not None and mapping.tokens() == ["B0X", "A1", "Z9"]
    assert mapping.id("Z9") == 3 and mapping.token(2) == "A1"
    with pytest.raises(KeyError, match="'nope'"):
        mapping.id("nope")
    with pytest.raises(KeyError, match="ids 1 to 3"):
        mapping.token(4)


def test_decimal_ids_keep_their_values() -> None:
    ids, mapping = encode_ids(["196", "22", "196", "0"])
    assert mapping is None and ids.tolist() == [196, 22, 196, 0]
    # one token that is not a canonical decimal means the whole column is mapped
    for odd in ("007", "-1", "2147483648", "12a", "٣"):
        ids, mapping = encode_ids(["196", odd])
        assert mapping is not None and ids.tolist() == [1, 2], odd
        assert mapping.tokens() == ["196", odd]


@given(st.lists(st.text(min_size=1, max_size=6), max_size=30))
def test_source_ids_round_trip(tokens: list[str]) -> None:
    ids, mapping = encode_ids(tokens)
    back = [str(i) for i in ids.tolist()] if mapping is None else mapping.tokens(ids)
    assert back == tokens
    if mapping is not None:
        seen = list(dict.fromkeys(tokens))
        assert mapping.tokens() == seen
        assert SourceIds.from_arrays(mapping.buffer, mapping.offsets) == mapping


def test_catalog_gives_back_source_ids() -> None:
    mapping = SourceIds(["B00A", "B00B"])
    catalog = Catalog([Movie(1, "A", None), Movie(2, "B", 2001)], source_ids=mapping)
    assert catalog.source_id(2) == "B00B" and catalog.id_for_source("B00A") == 1
    plain_catalog = Catalog([Movie(7, "A", None)])
    assert plain_catalog.source_id(7) == "7" and plain_catalog.id_for_source("7") == 7
    with pytest.raises(KeyError):
        plain_catalog.id_for_source("8")
    assert catalog != Catalog([Movie(1, "A", None), Movie(2, "B", 2001)])


# -- MovieLens fills time in every layout --------------------------------------------------------
def test_movielens_csv_keeps_seconds(tmp_path: Path) -> None:
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,2,3.5,964982703\n1,3,4.0,964982224\n"
    )
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n2,A (1995),x\n3,B (1996),y\n")
    ratings, _ = load_ml_latest(tmp_path)
    assert ratings.time is not None
    assert ratings.time.astype(np.int64).tolist() == [964982703, 964982224]
    assert ratings.movie_id[ratings.history_order()].tolist() == [3, 2]


def test_a_source_id_map_must_cover_the_ids() -> None:
    with pytest.raises(ValueError, match="maps ids 1 to 2"):
        Ratings([1, 3], [1, 1], [3, 3], ["2005-01-01"] * 2, user_source_ids=SourceIds(["a", "b"]))
    with pytest.raises(TypeError):
        Ratings([1], [1], [3], ["2005-01-01"], movie_source_ids=["a"])  # type: ignore[arg-type]
