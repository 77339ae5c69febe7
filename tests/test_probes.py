"""The memorisation probe's parts: item lines, questions, scoring rules, buckets, intervals,
the report, and the public names."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import llmrec.probes as probes
from llmrec.data.catalog import Catalog, Movie
from llmrec.data.ratings import Ratings
from llmrec.errors import ConfigError
from llmrec.probes import (
    ITEM_FORMATS,
    MemorisationProbe,
    MemorisationReport,
    ProbeAnswer,
    ProbeRow,
    detect_item_format,
    popularity_buckets,
    wilson_interval,
)


def test_the_public_names_are_pinned() -> None:
    assert probes.__all__ == [
        "BUCKETS",
        "ITEM_FORMATS",
        "TABLE_HEADERS",
        "AnswerReader",
        "BucketResult",
        "ItemLineFormat",
        "MemorisationProbe",
        "MemorisationReport",
        "ProbeAnswer",
        "ProbePlan",
        "ProbeQuestion",
        "ProbeRow",
        "Rate",
        "detect_item_format",
        "popularity_buckets",
        "synthetic_catalog",
        "wilson_interval",
    ]
    for name in probes.__all__:
        assert getattr(probes, name) is not None


# -- item lines -----------------------------------------------------------------------------
_titles = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="|:"),
    min_size=1,
    max_size=40,
).filter(lambda t: t.strip() == t and t != "")


@given(title=_titles, year=st.one_of(st.none(), st.integers(1900, 2020)), data=st.data())
def test_an_item_line_completion_reads_back_its_title_field(title, year, data) -> None:
    fmt = ITEM_FORMATS[data.draw(st.sampled_from(sorted(ITEM_FORMATS)))]
    movie = Movie(7, title, year)
    line = fmt.line(movie)
    prefix = fmt.prefix(movie)
    assert line.startswith(prefix)
    completion = line[len(prefix) :]
    assert fmt.answer_title(completion, movie) == fmt.title_field(movie)
    # a model that repeats the prefix, or writes the line's next fields and lines, reads the same
    tail = "" if fmt.year_field else f"{fmt.separator}Comedy|Drama"
    assert fmt.answer_title(f"{line}{tail}\n8{fmt.separator}x", movie) == fmt.title_field(movie)


def test_the_item_lines_follow_each_files_own_shape() -> None:
    movie = Movie(1, "Toy Story", 1995)
    shown = {name: (f.prefix(movie), f.title_field(movie)) for name, f in ITEM_FORMATS.items()}
    assert shown == {
        "netflix": ("1,1995,", "Toy Story"),
        "ml-100k": ("1|", "Toy Story (1995)"),
        "ml-1m": ("1::", "Toy Story (1995)"),
        "ml-latest": ("1,", "Toy Story (1995)"),
    }
    assert ITEM_FORMATS["netflix"].prefix(Movie(2, "X", None)) == "2,NULL,"
    comma = Movie(3, "American President, The", 1995)
    assert ITEM_FORMATS["ml-latest"].line(comma) == '3,"American President, The (1995)"'
    # a Netflix title is the rest of the line, commas and all
    assert ITEM_FORMATS["netflix"].answer_title("Hello, Goodbye", comma) == "Hello, Goodbye"


def test_the_item_format_is_read_from_the_data_folder(tmp_path: Path) -> None:
    for name, kind in [
        ("movie_titles.csv", "netflix"),
        ("u.item", "ml-100k"),
        ("movies.dat", "ml-1m"),
        ("movies.csv", "ml-latest"),
    ]:
        folder = tmp_path / kind
        (folder / "inner").mkdir(parents=True)
        (folder / "inner" / name).write_text("1,x\n")
        assert detect_item_format(folder) == kind  # a folder holding the unpacked folder
        assert detect_item_format(folder / "inner") == kind
    with pytest.raises(ConfigError, match="no item file"):
        detect_item_format(tmp_path / "netflix" / "nothing")


# -- questions ------------------------------------------------------------------------------
def _catalog() -> Catalog:
    return Catalog(
        [
            Movie(1, "Heat", 1995),
            Movie(2, "The Lord of the Rings", 2001),
            Movie(3, "Twister", 1996),
            Movie(4, "Twister", 1989),
            Movie(5, "Toy Story", 1995),
            Movie(6, "Patriot, The", 2000),
        ]
    )


def test_title_completion_shows_some_words_hides_the_rest_and_skips_one_word_titles() -> None:
    asked = MemorisationProbe(kind="title_completion").questions(_catalog())
    assert asked.skipped == {1: "one-word title", 3: "one-word title", 4: "one-word title"}
    by_id = {q.movie_id: q for q in asked.items}
    assert by_id[2].prompt == "Film (2001): The Lord ..."
    assert by_id[2].expected == "of the Rings"
    assert by_id[2].read("of the Rings") == "The Lord of the Rings"
    assert by_id[2].read("The Lord of the Rings") == "The Lord of the Rings"


def test_shots_show_the_files_first_lines_and_are_not_probed() -> None:
    asked = MemorisationProbe(kind="item_lines", shots=2).questions(_catalog())
    assert asked.skipped == {1: "few-shot example", 2: "few-shot example"}
    assert asked.items[0].prompt == "1,1995,Heat\n2,2001,The Lord of the Rings\n3,1996,"
    assert [q.movie_id for q in asked.items] == [3, 4, 5, 6]


def test_a_sample_is_seeded_and_user_lines_need_ratings() -> None:
    catalog = _catalog()
    a = MemorisationProbe(max_items=3, seed=4).questions(catalog).items
    b = MemorisationProbe(max_items=3, seed=4).questions(catalog).items
    assert [q.movie_id for q in a] == [q.movie_id for q in b] and len(a) == 3
    with pytest.raises(ConfigError, match="needs the ratings"):
        MemorisationProbe(kind="user_lines").questions(catalog)


def test_user_lines_show_a_users_first_films_by_date_and_ask_for_the_next() -> None:
    days = np.array(["2005-01-03", "2005-01-01", "2005-01-02", "2005-01-01"], "M8[D]")
    ratings = Ratings([9, 9, 9, 9], [5, 2, 1, 6], [5, 4, 3, 2], days)
    (q,) = MemorisationProbe(kind="user_lines", n_shown=3).questions(_catalog(), ratings).items
    # day 1: movies 2 and 6 (by id), day 2: movie 1; then movie 5
    assert q.prompt == "The Lord of the Rings (2001)\nPatriot, The (2000)\nHeat (1995)"
    assert (q.movie_id, q.expected) == (5, "Toy Story (1995)")


# -- scoring --------------------------------------------------------------------------------
def _score(probe: MemorisationProbe, answers: dict[int, str]) -> dict[int, ProbeRow]:
    catalog = _catalog()
    asked = probe.questions(catalog).items
    got = [ProbeAnswer(answers.get(q.movie_id, ""), False, 0.0) for q in asked]
    return {r.movie_id: r for r in probe.score(asked, got, catalog)}


def test_exact_resolved_and_other_item_follow_the_rules() -> None:
    rows = _score(
        MemorisationProbe(kind="item_lines", item_format="ml-1m"),
        {
            1: "heat (1995)",  # exact after normalisation
            2: "Lord of the Rings (2001)",  # a leading article is normalised away: exact
            3: "Twister::Action",  # no year: not exact; of two, resolves to the lower id
            5: "Toy Storyy (1995)",  # a typo: resolved, not exact
            6: "Heat (1995)",  # another catalog film
        },
    )
    assert {i: (r.exact, r.resolved, r.other_item) for i, r in rows.items()} == {
        1: (True, True, False),
        2: (True, True, False),
        3: (False, True, False),
        4: (False, False, False),
        5: (False, True, False),
        6: (False, False, True),
    }
    assert rows[6].resolved_id == 1 and rows[3].named == "Twister"


def test_a_netflix_title_resolves_with_the_year_the_prompt_gives() -> None:
    rows = _score(MemorisationProbe(kind="item_lines"), {3: "Twister", 4: "Twister"})
    assert rows[3].exact and rows[4].exact
    assert (rows[3].resolved_id, rows[4].resolved_id) == (3, 4)


def test_a_failed_answer_is_a_miss_counted_as_failed() -> None:
    probe = MemorisationProbe()
    catalog = _catalog()
    asked = probe.questions(catalog).items[:1]
    (row,) = probe.score(asked, [ProbeAnswer("", False, None, "HTTP 500")], catalog)
    assert row.failed and not row.exact and not row.resolved and not row.other_item


# -- buckets and intervals ------------------------------------------------------------------
def _reference_buckets(counts: dict[int, int], edges: tuple[float, float]) -> dict[int, str]:
    total = sum(counts.values())
    out, before = {}, 0
    for movie_id, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        share = before / total if total else 1.0
        out[movie_id] = (
            "tail"
            if n == 0
            else ("head" if share < edges[0] else "torso" if share < edges[1] else "tail")
        )
        before += n
    return out


@given(
    counts=st.lists(st.integers(0, 50), min_size=1, max_size=40),
    low=st.floats(0.05, 0.5),
    width=st.floats(0.05, 0.45),
)
def test_buckets_match_a_brute_force_split_by_share_of_ratings(counts, low, width) -> None:
    catalog = Catalog(Movie(i + 1, f"M{i}", None) for i in range(len(counts)))
    users = np.arange(sum(counts))
    movies = np.repeat(np.arange(1, len(counts) + 1), counts)
    ratings = Ratings(users, movies, np.full(users.size, 3), np.zeros(users.size, "M8[D]"))
    edges = (low, low + width)
    got = popularity_buckets(catalog, ratings, edges)
    want = _reference_buckets({i + 1: n for i, n in enumerate(counts)}, edges)
    assert {k: v[0] for k, v in got.items()} == want
    assert {k: v[1] for k, v in got.items()} == {i + 1: n for i, n in enumerate(counts)}
    if sum(counts):
        assert any(b == "head" for b in want.values())


@given(n=st.integers(0, 500), data=st.data())
def test_the_wilson_interval_holds_the_rate_inside_zero_one(n, data) -> None:
    k = data.draw(st.integers(0, n))
    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= k / n <= high
    if 0 < k < n:
        assert low < k / n < high


def test_the_wilson_interval_at_zero_successes_has_its_closed_form() -> None:
    z = 1.959963984540054
    for n in (1, 10, 200):
        assert wilson_interval(0, n) == (0.0, pytest.approx(z * z / (n + z * z)))
    low, high = wilson_interval(50, 100)
    assert (low, high) == (pytest.approx(0.4038, abs=1e-4), pytest.approx(0.5962, abs=1e-4))
    assert math.isclose(low + high, 1.0)


@given(
    st.lists(
        st.tuples(st.sampled_from(["head", "torso", "tail"]), st.booleans(), st.booleans()),
        max_size=60,
    )
)
def test_buckets_add_up_to_the_total(cells) -> None:
    rows = [
        ProbeRow(i, b, 1, "p", "e", "a", "a", exact, exact, None, other and not exact)
        for i, (b, exact, other) in enumerate(cells)
    ]
    report = MemorisationReport({"kind": "item_lines"}, "m", 60, rows)
    by = report.by_bucket.values()
    assert sum(b.n for b in by) == report.total.n == len(rows)
    assert sum(b.exact for b in by) == report.total.exact
    assert sum(b.other_item for b in by) == report.total.other_item
    assert list(report.by_bucket) == [
        b for b in ("head", "torso", "tail") if b in set(c[0] for c in cells)
    ]


def test_the_report_renders_and_round_trips(tmp_path: Path) -> None:
    rows = [
        ProbeRow(1, "head", 9, "1,", "Heat", "Heat", "Heat", True, True, 1, False),
        ProbeRow(2, "tail", 1, "2,", "Ran", "Nope", "Nope", False, False, None, False),
    ]
    report = MemorisationReport(
        {"kind": "item_lines"}, "gpt-x", 2, rows, {3: "few-shot example"}, 0.5, "data"
    )
    text = report.to_text()
    assert "head" in text and "tail" in text and "all" in text
    assert "50.0% [" in text and "1 few-shot example" in text
    assert report.table_rows()[-1][:4] == ["item_lines", "gpt-x", "all", "2"]
    again = MemorisationReport.load(report.save(tmp_path / "r.json"))
    assert again == report


def test_the_synthetic_catalog_is_the_synthetic_data_sets_titles(tmp_path: Path) -> None:
    from llmrec.data.netflix import load_titles
    from llmrec.data.synthetic import write_netflix
    from llmrec.probes import synthetic_catalog

    folder = write_netflix(tmp_path / "s", n_users=30, n_movies=40, n_ratings=300, n_files=1)
    assert synthetic_catalog(40) == load_titles(folder / "movie_titles.csv")


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="bucket_edges"):
        MemorisationProbe(bucket_edges=(0.6, 0.3))
    with pytest.raises(ValueError, match="extra"):
        MemorisationProbe(kinds="item_lines")  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        MemorisationProbe(kind="likelihood")  # type: ignore[arg-type]
