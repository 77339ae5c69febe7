"""TitleResolver: normalisation, ties between shared titles, fuzzy matching, invented titles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz

from llmrec.data import Catalog
from llmrec.data.resolver import TitleResolver, _normalize, normalize_title
from llmrec.errors import ConfigError
from llmrec.prompts import ParsedTitle

CATALOG = Catalog.from_mapping(
    {
        1: ("Twister", 1996),
        2: ("Twister", 1989),
        3: ("The Patriot", 2000),
        4: ("The Patriot", 1998),
        5: ("Café Society", 2016),
        6: ("Pride & Prejudice", 2005),
        7: ("The Matrix", 1999),
        8: ("Hard Day's Night, A", 1964),
        9: ("Amélie", 2001),
        10: ("Die Hard", 1988),
        11: ("Unknown Year", None),
    }
)


@pytest.mark.parametrize(
    ("text", "key", "year"),
    [
        ("The Patriot", "patriot", None),
        ("Patriot, The", "patriot", None),
        ("PATRIOT, THE (2000)", "patriot", 2000),
        ("the patriot [1998]", "patriot", 1998),
        ("Café Society", "cafe society", None),
        ("Pride & Prejudice", "pride and prejudice", None),
        ("A Hard Day's Night", "hard days night", None),
        ("Hard Day's Night, A (1964)", "hard days night", 1964),
        ("Die Hard", "die hard", None),
        ("  Amélie   (2001 film) ", "amelie", 2001),
        ("Se7en", "se7en", None),
    ],
)
def test_normalize_title(text: str, key: str, year: int | None) -> None:
    assert normalize_title(text) == (key, year)


def test_exact_matches_ignore_case_accents_articles_and_ampersand() -> None:
    r = TitleResolver(CATALOG)
    for text, movie_id in [
        ("cafe society", 5),
        ("Pride and Prejudice", 6),
        ("Matrix, The", 7),
        ("A Hard Day's Night", 8),
        ("AMELIE", 9),
        ("Die Hard (1988)", 10),
    ]:
        res = r.resolve(text)
        assert (res.movie_id, res.score, res.method) == (movie_id, 100.0, "exact"), text


def test_year_tells_shared_titles_apart() -> None:
    r = TitleResolver(CATALOG)
    assert r.resolve("Twister (1989)").movie_id == 2
    assert r.resolve("Twister (1989)").method == "exact_year"
    assert r.resolve("Twister", year=1996).movie_id == 1
    assert r.resolve("Twister (1989)", year=1996).movie_id == 1  # the explicit year wins
    assert r.resolve("Twister (1991)").movie_id == 2  # nearest year
    assert r.resolve("Patriot, The (2000)").movie_id == 3
    res = r.resolve("Twister")
    assert (res.movie_id, res.method) == (1, "exact")  # no year, no popularity: lowest id
    popular = TitleResolver(CATALOG, popularity={1: 10, 2: 500})
    assert popular.resolve("Twister").movie_id == 2
    assert popular.resolve("Twister (1996)").movie_id == 1  # a year beats popularity


def test_fuzzy_match_reports_the_ratio() -> None:
    r = TitleResolver(CATALOG)
    res = r.resolve("The Matrx (1999)")
    assert (res.movie_id, res.method) == (7, "fuzzy")
    assert res.score == pytest.approx(fuzz.ratio("the matrx", "the matrix"))
    assert r.resolve("Teh Matrix").movie_id == 7
    assert r.resolve("Twistr (1989)").movie_id == 2  # fuzzy match, then the year
    strict = TitleResolver(CATALOG, threshold=99)
    assert strict.resolve("The Matrx").method == "unresolved"


def test_invented_titles_stay_unresolved() -> None:
    r = TitleResolver(CATALOG)
    for text in ["The Matrix Reborn (2004)", "Twister 2: Another Storm", "Zzyzx", "", "!!!"]:
        res = r.resolve(text)
        assert res.movie_id is None and res.method == "unresolved" and not res.resolved
        assert res.score < r.threshold
        assert res.query == text


def test_resolve_many_takes_every_input_shape_in_order() -> None:
    r = TitleResolver(CATALOG)
    items = [
        "Heat",
        ("Twister", 1989),
        ParsedTitle("Patriot, The", 1998, "1. Patriot, The (1998)"),
        "Twister",
        ("Twister", 1989),
    ]
    assert [x.movie_id for x in r.resolve_many(items)] == [None, 2, 4, 1, 2]
    assert r.resolve_many([]) == []
    # Cached answers equal fresh ones.
    assert r.resolve_many(items) == TitleResolver(CATALOG).resolve_many(items)


def test_bad_threshold() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        TitleResolver(CATALOG, threshold=120)


def test_empty_catalog() -> None:
    res = TitleResolver(Catalog([])).resolve("Heat")
    assert res.movie_id is None and res.score == 0.0


# -- property: agrees with a brute-force scan of every catalog title ----------------------------
letters = st.text(alphabet="abcdefgh ", min_size=1, max_size=12)


def brute_force(catalog: Catalog, query: str) -> tuple[float, set[int], bool]:
    """Best ratio over every title form; ids reaching it; whether an exact key exists."""
    full_q, key_q, _ = _normalize(query)
    best, ids, exact = -1.0, set(), False
    for movie in catalog:
        full, key, _ = _normalize(movie.title)
        exact = exact or key == key_q
        for form in {full, key}:
            score = fuzz.ratio(full_q, form)
            if score > best:
                best, ids = score, {movie.movie_id}
            elif score == best:
                ids.add(movie.movie_id)
    return best, ids, exact


@given(st.lists(letters, min_size=1, max_size=12), st.lists(letters, min_size=1, max_size=8))
def test_agrees_with_brute_force(titles: list[str], queries: list[str]) -> None:
    catalog = Catalog.from_mapping({i + 1: (t, 1990 + i) for i, t in enumerate(titles)})
    resolver = TitleResolver(catalog, threshold=80)
    for query, res in zip(queries, resolver.resolve_many(queries), strict=True):
        best, ids, exact = brute_force(catalog, query)
        if not _normalize(query)[1] or (best < 80 and not exact):
            assert res.method == "unresolved" and res.movie_id is None
        elif exact:
            assert res.method in ("exact", "exact_year") and res.score == 100.0
            assert _normalize(catalog.title(res.movie_id))[1] == _normalize(query)[1]  # type: ignore[arg-type]
        else:
            assert res.method == "fuzzy"
            assert res.score == pytest.approx(best)
            assert res.movie_id in ids


def test_an_exact_label_beats_an_article_moved_one() -> None:
    """Constrained decoding writes a catalog label verbatim: "The Movie (2000)" is id 13, not
    id 12 ("Movie, The", same year, lower id), whatever the popularity or the order of ids."""
    catalog = Catalog.from_mapping(
        {12: ("Movie, The", 2000), 13: ("The Movie", 2000), 14: ("Other Film", 1990)}
    )
    for popularity in (None, {12: 1_000, 13: 1}):
        r = TitleResolver(catalog, popularity=popularity)
        assert r.resolve("The Movie (2000)").movie_id == 13
        assert r.resolve("the movie").movie_id == 13
        assert r.resolve("Movie, The (2000)").movie_id == 12
        assert r.resolve("Movie, the").movie_id == 12
        # Neither label written verbatim: the old order (popularity, then the lowest id).
        assert r.resolve("Movie").movie_id == 12
    # A year still outweighs the written form: the nearer year wins.
    dated = Catalog.from_mapping({12: ("Movie, The", 2000), 13: ("The Movie", 1980)})
    assert TitleResolver(dated).resolve("The Movie (2000)").movie_id == 12
