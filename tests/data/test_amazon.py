"""Amazon reviews, 2018 and 2023 releases: detection, ids, repeats, titles, errors (issue 20)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.data.amazon import load_reviews, read_reviews
from llmrec.errors import DataFormatError, DataNotFoundError


def jsonl(path: Path, records: list[Any], *, gz: bool = False) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def r2018(user: str, asin: str, stars: float, t: int, **extra: Any) -> dict[str, Any]:
    return {"overall": stars, "verified": True, "reviewerID": user, "asin": asin,
            "reviewText": "fine", "unixReviewTime": t, **extra}  # fmt: skip


def r2023(user: str, asin: str, stars: float, t: int) -> dict[str, Any]:
    return {"rating": stars, "title": "ok", "text": "a \"quoted\" text", "images": [],
            "asin": asin + "-v", "parent_asin": asin, "user_id": user, "timestamp": t,
            "helpful_vote": 0, "verified_purchase": True}  # fmt: skip


@pytest.mark.parametrize("gz", [False, True])
def test_2018_reviews_and_metadata(tmp_path: Path, gz: bool) -> None:
    reviews = jsonl(
        tmp_path / "Books.json",  # the name says nothing: gzip is recognised from the bytes
        [r2018("A1", "0000031852", 5.0, 1252800000), r2018("B2", "B000FA5M3K", 3.0, 1252886400),
         r2018("A1", "B000FA5M3K", 4.0, 1252886401)],
        gz=gz,
    )  # fmt: skip
    meta = jsonl(
        tmp_path / "meta_Books.json",
        [{"asin": "B000FA5M3K", "title": " Kolya ", "price": "$3"},
         {"asin": "B0UNSEEN", "title": "Never reviewed"}],
        gz=gz,
    )  # fmt: skip
    loaded = read_reviews(reviews, meta)
    ratings, catalog = loaded
    assert ratings.user_id.tolist() == [1, 2, 1] and ratings.movie_id.tolist() == [1, 2, 2]
    assert ratings.rating.tolist() == [5, 3, 4]
    assert ratings.time is not None
    assert ratings.time.astype(np.int64).tolist() == [1252800000, 1252886400, 1252886401]
    assert ratings.date.astype(str).tolist() == ["2009-09-13", "2009-09-14", "2009-09-14"]
    assert [ratings.source_user(u) for u in (1, 2)] == ["A1", "B2"]
    assert ratings.source_movie(1) == "0000031852"  # leading zero: a string id, not 31852
    assert catalog.title(2) == "Kolya" and catalog.id_for_source("B000FA5M3K") == 2
    assert catalog.title(1) == "0000031852"  # no metadata: the ASIN is the label
    assert loaded.counts == {
        "reviews": 3, "blank_lines": 0, "duplicates_dropped": 0, "meta_lines": 2,
        "meta_repeated": 0, "meta_unreviewed": 1, "ratings": 3, "users": 2, "items": 2,
        "untitled_items": 1,
    }  # fmt: skip


def test_2023_reviews_use_parent_asin_and_milliseconds(tmp_path: Path) -> None:
    reviews = jsonl(
        tmp_path / "Movies.jsonl.gz",
        [r2023("AGK", "B00YQ6X8EO", 5.0, 1588687728923),
         r2023("AFQ", "B081TJ8YS3", 1.0, 1588615855070)],
        gz=True,
    )  # fmt: skip
    meta = jsonl(
        tmp_path / "meta_Movies.jsonl",
        [{"main_category": "Movies", "title": "", "parent_asin": "B00YQ6X8EO"},
         {"main_category": "Movies", "title": "Jaws", "parent_asin": "B081TJ8YS3"},
         {"main_category": "Movies", "title": "Jaws again", "parent_asin": "B081TJ8YS3"}],
    )  # fmt: skip
    loaded = read_reviews(reviews, meta)
    ratings, catalog = loaded
    assert ratings.time is not None
    assert ratings.time.astype(np.int64).tolist() == [1588687728, 1588615855]
    assert ratings.source_movie(1) == "B00YQ6X8EO"
    assert catalog.title(1) == "B00YQ6X8EO"  # blank title
    assert catalog.title(2) == "Jaws"  # the first metadata line wins
    assert loaded.counts["untitled_items"] == 1 and loaded.counts["meta_repeated"] == 1


def test_repeated_reviews_keep_the_latest_in_its_place(tmp_path: Path) -> None:
    reviews = jsonl(
        tmp_path / "r.jsonl",
        [r2023("U", "I1", 1.0, 5000), r2023("V", "I1", 2.0, 100), r2023("U", "I1", 3.0, 4999),
         r2023("U", "I2", 4.0, 7), r2023("U", "I1", 5.0, 5000)],
    )  # fmt: skip
    loaded = read_reviews(reviews)
    # (U, I1): times 5000, 4999, 5000 -> the last of the two at 5000 ms (line 5) stays
    assert loaded.ratings.rating.tolist() == [2, 4, 5]
    assert loaded.counts["duplicates_dropped"] == 2 and loaded.counts["ratings"] == 3
    # all three were within one second: the kept one reads 5 s
    assert loaded.ratings.time is not None and loaded.ratings.time.astype(np.int64)[2] == 5


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 4)), min_size=1))
def test_one_review_per_pair_is_the_latest(rows: list[tuple[int, int, int]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = jsonl(
            Path(folder) / "r.jsonl",
            [r2018(f"u{u}", f"i{i}", float(1 + n % 5), t) for n, (u, i, t) in enumerate(rows)],
        )
        ratings, _ = load_reviews(path)
    latest: dict[tuple[int, int], int] = {}
    for n, (u, i, t) in enumerate(rows):
        if (u, i) not in latest or t >= rows[latest[(u, i)]][2]:
            latest[(u, i)] = n
    kept = sorted(latest.values())
    assert ratings.rating.tolist() == [1 + n % 5 for n in kept]
    assert [ratings.source_user(u) for u in ratings.user_id.tolist()] == [
        f"u{rows[n][0]}" for n in kept
    ]


@pytest.mark.parametrize(
    ("line", "message", "text"),
    [
        ('{"overall": 5.0, "reviewerID": "A", "asin": "B", "unixReviewTime": 1', "not JSON", None),
        ('{"overall": 5.0, "reviewerID": "A", "unixReviewTime": 1}', "missing field 'asin'", None),
        ('{"overall": "5", "reviewerID": "A", "asin": "B", "unixReviewTime": 1}',
         "field 'overall' must be a number", "'5'"),
        ('{"overall": 5.0, "reviewerID": 7, "asin": "B", "unixReviewTime": 1}',
         "field 'reviewerID' must be a string", "7"),
        ('{"overall": 5.0, "reviewerID": "A", "asin": "B", "unixReviewTime": 1.5}',
         "field 'unixReviewTime' must be a whole number", "1.5"),
        ('{"overall": 6.0, "reviewerID": "A", "asin": "B", "unixReviewTime": 1}',
         "field 'overall' must be 1-5 stars", "6.0"),
        ("[1, 2]", "expected a JSON object", None),
    ],
)  # fmt: skip
def test_bad_lines_name_file_line_and_field(
    tmp_path: Path, line: str, message: str, text: str | None
) -> None:
    path = jsonl(tmp_path / "r.json", [r2018("A", "B", 4.0, 1), "", line])
    with pytest.raises(DataFormatError) as info:
        load_reviews(path)
    assert info.value.line == 3 and message in str(info.value)
    assert str(info.value).startswith(str(path))
    if text is not None:
        assert info.value.text == text


def test_unknown_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not an Amazon reviews file") as info:
        load_reviews(jsonl(tmp_path / "x.json", [{"user": "a", "item": "b"}]))
    assert info.value.line == 1
    with pytest.raises(DataFormatError, match="empty"):
        load_reviews(jsonl(tmp_path / "e.json", []))
    with pytest.raises(DataNotFoundError):
        load_reviews(tmp_path / "missing.json")
    reviews = jsonl(tmp_path / "r.json", [r2018("A", "B", 4.0, 1)])
    meta_2023 = jsonl(tmp_path / "m.json", [{"parent_asin": "B", "title": "T"}])
    with pytest.raises(DataFormatError, match="missing field 'asin'") as info:
        load_reviews(reviews, meta_2023)
    assert info.value.line == 1 and str(info.value).startswith(str(meta_2023))


def test_2014_metadata_as_python_literals(tmp_path: Path) -> None:
    reviews = jsonl(
        tmp_path / "reviews_Beauty_5.json", [r2018("A1", "7806397051", 3.0, 1391040000)]
    )
    meta = tmp_path / "meta_Beauty.json"
    meta.write_text(
        "{'asin': '7806397051', 'title': 'Rouge à lèvres', 'categories': [['Beauty']]}\n"
        "{'asin': '9759091062', 'salesRank': {'Beauty': 1}}\n"
    )
    loaded = read_reviews(reviews, meta)
    assert loaded.catalog.title(1) == "Rouge à lèvres" and loaded.counts["meta_unreviewed"] == 1
    meta.write_text("{'asin': '7806397051', 'title': __import__('os')}\n")
    with pytest.raises(DataFormatError, match="not JSON") as info:
        load_reviews(reviews, meta)
    assert info.value.line == 1


@pytest.mark.parametrize("gz", [False, True])
def test_text_details_bom_crlf_spaces_and_bad_bytes(tmp_path: Path, gz: bool) -> None:
    lines = [json.dumps(r2018(f"A{i}", "B", 4.0, i)) for i in range(3)]
    text = "\ufeff" + lines[0] + "\r\n  " + lines[1] + "  \r\n" + lines[2]  # no final newline
    path = tmp_path / "r.json"
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    assert load_reviews(path)[0].time.astype(np.int64).tolist() == [0, 1, 2]  # type: ignore[union-attr]
    data = (lines[0] + "\n" + lines[1] + "\n").encode() + b'{"reviewerID": "\xff"}\n'
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataFormatError, match="not UTF-8") as info:
        load_reviews(path)
    assert info.value.line == 3
    path.write_text(lines[0] + " trailing\n")
    with pytest.raises(DataFormatError, match="not JSON: Extra data") as info:
        load_reviews(path)
    assert info.value.line == 1
