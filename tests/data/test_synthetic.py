"""Synthetic Netflix-format data: exact file format, realistic shape, determinism, caching."""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from llmrec._paths import cache_dir
from llmrec.data._titles import film_titles
from llmrec.data.synthetic import (
    DEFAULT_SYNTHETIC,
    MARKER,
    NETFLIX_STAR_SHARES,
    SyntheticConfig,
    _generate,
    ensure_synthetic,
    write_netflix,
)
from llmrec.errors import ConfigError

_HEADER = re.compile(r"[0-9]+:")
_LINE = re.compile(r"[0-9]+,[1-5],[0-9]{4}-[0-9]{2}-[0-9]{2}")

Row = tuple[int, int, int, str]  # movie, customer, stars, date


# -- a plain reference reader of the Netflix Prize Kaggle files ------------------------------


def read_ratings(folder: Path) -> list[Row]:
    """Rows of ``combined_data_*.txt`` in file order; fails on anything off the format."""
    rows: list[Row] = []
    files = sorted(folder.glob("combined_data_*.txt"), key=lambda p: int(p.stem.split("_")[-1]))
    for file in files:
        data = file.read_bytes()
        assert data.endswith(b"\n") and b"\r" not in data
        movie = None
        for line in data.decode("ascii").split("\n")[:-1]:
            if _HEADER.fullmatch(line):
                movie = int(line[:-1])
            else:
                assert _LINE.fullmatch(line), line
                assert movie is not None
                cust, stars, date = line.split(",")
                rows.append((movie, int(cust), int(stars), date))
    return rows


def read_titles(folder: Path) -> dict[int, tuple[str, int | None]]:
    """``movie_titles.csv``: ``id,year,title`` in ISO-8859-1, split on the first two commas."""
    data = (folder / "movie_titles.csv").read_bytes()
    assert data.endswith(b"\n") and b"\r" not in data
    out: dict[int, tuple[str, int | None]] = {}
    for line in data.decode("iso-8859-1").split("\n")[:-1]:
        mid, year, title = line.split(",", 2)
        assert int(mid) not in out
        out[int(mid)] = (title, None if year == "NULL" else int(year))
    return out


def folder_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.name != MARKER:
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


SMALL = {"n_users": 400, "n_movies": 150, "n_ratings": 12_000, "seed": 3}
GROUPED = {"n_users": 2_000, "n_movies": 300, "n_ratings": 60_000, "n_groups": 8, "seed": 3}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_netflix(tmp_path_factory.mktemp("small"), **SMALL)


@pytest.fixture(scope="module")
def default_rows(tmp_path_factory: pytest.TempPathFactory) -> list[Row]:
    return read_ratings(write_netflix(tmp_path_factory.mktemp("default"), DEFAULT_SYNTHETIC))


# -- format ---------------------------------------------------------------------------------


def test_layout_and_counts(small: Path) -> None:
    names = sorted(p.name for p in small.iterdir())
    assert names == [
        "combined_data_1.txt",
        "combined_data_2.txt",
        "combined_data_3.txt",
        "combined_data_4.txt",
        "movie_titles.csv",
        "probe.txt",
        "qualifying.txt",
        MARKER,
    ]
    rows = read_ratings(small)
    assert len(rows) == SMALL["n_ratings"]
    movies_in_order = [m for m, *_ in rows]
    assert movies_in_order == sorted(movies_in_order)  # id order across the four files
    assert set(movies_in_order) == set(range(1, SMALL["n_movies"] + 1))
    customers = {c for _, c, _, _ in rows}
    assert len(customers) == SMALL["n_users"]
    assert all(1 <= c <= 2_649_429 for c in customers)
    assert len({(m, c) for m, c, _, _ in rows}) == len(rows)  # one rating per user and movie
    dates = sorted(d for *_, d in rows)
    assert dates[0] >= "1999-11-11" and dates[-1] <= "2005-12-31"


def test_each_movie_has_one_header_and_files_split_in_blocks(small: Path) -> None:
    seen: list[int] = []
    for i in range(1, 5):
        text = (small / f"combined_data_{i}.txt").read_text(encoding="ascii")
        heads = [int(x[:-1]) for x in text.split("\n") if x.endswith(":")]
        assert heads and heads == list(range(heads[0], heads[-1] + 1))
        assert text.startswith(f"{heads[0]}:\n")
        seen += heads
    assert seen == list(range(1, SMALL["n_movies"] + 1))


def test_star_shares_match_netflix(small: Path) -> None:
    stars = Counter(s for _, _, s, _ in read_ratings(small))
    n = SMALL["n_ratings"]
    cumulative = 0.0
    got = 0
    for s, share in enumerate(NETFLIX_STAR_SHARES[:4], start=1):
        cumulative += share
        got += stars[s]
        assert abs(got - round(cumulative * n)) <= 1  # exact up to rounding
    # The published shares add up to 100.1 %; 5 stars take the rest.
    assert abs(stars[5] / n - NETFLIX_STAR_SHARES[4]) < 0.002


def test_dates_valid_and_skewed_late(default_rows: list[Row]) -> None:
    years = Counter(int(d[:4]) for *_, d in default_rows)
    assert set(years) <= set(range(1999, 2006))
    assert years[2005] > years[2003] > years[2001]
    np.array([d for *_, d in default_rows[:1000]], dtype="datetime64[D]")  # all real dates


def test_user_activity_heavy_tailed_and_popularity_skewed(default_rows: list[Row]) -> None:
    per_user = np.array(sorted(Counter(c for _, c, _, _ in default_rows).values()))
    assert per_user.mean() > 1.5 * np.median(per_user)  # long right tail
    assert per_user.max() > 10 * np.median(per_user)
    per_movie = np.array(sorted(Counter(m for m, *_ in default_rows).values()))
    top_share = per_movie[-20:].sum() / per_movie.sum()  # top 1 % of the movies
    assert top_share > 0.10


# -- titles ---------------------------------------------------------------------------------


def test_titles_have_the_real_files_quirks(tmp_path: Path) -> None:
    folder = write_netflix(tmp_path, n_users=50, n_movies=600, n_ratings=1200, seed=7)
    raw = (folder / "movie_titles.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # Latin-1 bytes, like the real file
    titles = read_titles(folder)
    assert sorted(titles) == list(range(1, 601))
    assert any("," in t for t, _ in titles.values())
    assert any(t.startswith("Café") for t, _ in titles.values())
    assert any(y is None for _, y in titles.values())
    assert len(set(titles.values())) == len(titles)  # (title, year) resolves to one id
    by_title = defaultdict(list)
    for t, y in titles.values():
        by_title[t].append(y)
    assert any(len(ys) > 1 for ys in by_title.values())
    years = [y for _, y in titles.values() if y is not None]
    assert min(years) >= 1920 and max(years) == 2005
    assert np.median(years) >= 1995
    assert all(t.strip() == t and t for t, _ in titles.values())


@pytest.mark.parametrize("n", [0, 1, 5, 19, 20, 300])
def test_film_titles_any_size(n: int) -> None:
    got = film_titles(n, np.random.default_rng(4))
    assert got == film_titles(n, np.random.default_rng(4))  # deterministic
    assert len(got) == n and len(set(got)) == n
    for title, year in got:
        title.encode("iso-8859-1")
        assert "\n" not in title and title == title.strip() and title
        assert year is None or 1920 <= year <= 2005
    if n >= 20:
        assert any(y is None for _, y in got) and any("," in t for t, _ in got)


# -- latent taste groups --------------------------------------------------------------------


def test_group_favourites_dominate_five_star_ratings() -> None:
    cfg = SyntheticConfig(**GROUPED)
    gen = _generate(cfg)
    index = {int(c): i for i, c in enumerate(gen.customer_ids)}
    user = np.array([index[int(c)] for c in gen.customer])
    fav = np.zeros((gen.favourites.shape[0], cfg.n_movies + 1), dtype=bool)
    for g, ids in enumerate(gen.favourites):
        fav[g, ids] = True
    for g in range(cfg.n_groups):
        members = (gen.group1[user] == g) & (gen.group2[user] == g)
        on_fav = fav[g, gen.movie]
        five = gen.stars == 5
        in_group_rate = on_fav[members & five].mean()
        global_rate = on_fav[five].mean()
        assert in_group_rate > 5 * global_rate


def test_cooccurrence_within_groups_exceeds_chance() -> None:
    cfg = SyntheticConfig(**GROUPED)
    gen = _generate(cfg)
    watched: dict[int, set[int]] = defaultdict(set)
    for m, c in zip(gen.movie.tolist(), gen.customer.tolist(), strict=True):
        watched[m].add(c)
    n_users = cfg.n_users

    def lift(a: int, b: int) -> float:
        both = len(watched[a] & watched[b]) / n_users
        return both / (len(watched[a]) / n_users * len(watched[b]) / n_users)

    fav = gen.favourites
    same = [lift(int(a), int(b)) for row in fav for a, b in itertools.pairwise(row)]
    cross = [
        lift(int(a), int(b))
        for r1, r2 in zip(fav[:4], fav[4:], strict=True)
        for a, b in zip(r1, r2, strict=True)
    ]
    # Heavy users lift every pair above 1; favourites of one group co-occur far more.
    assert np.mean(same) > 1.5 * np.mean(cross)


# -- the study's ground-truth rule on the default config ------------------------------------


@pytest.mark.slow
def test_default_config_supports_the_neighbour_truth(default_rows: list[Row]) -> None:
    """The study's rule: profileData50 takes as neighbours the users who gave a profile movie
    5 stars and gold = watched by >= 50 % of them; profileData60: 4-5 stars and >= 60 %."""
    by_user: dict[int, list[Row]] = defaultdict(list)
    fans: dict[tuple[int, int], set[int]] = defaultdict(set)  # (movie, min stars) -> users
    for row in default_rows:
        by_user[row[1]].append(row)
        for low in (4, 5):
            if row[2] >= low:
                fans[row[0], low].add(row[1])
    eligible = [u for u, rs in by_user.items() if sum(r[2] == 5 for r in rs) >= 4]
    assert len(by_user) == DEFAULT_SYNTHETIC.n_users
    assert len(eligible) >= 0.5 * len(by_user)
    watched = {u: {r[0] for r in rs} for u, rs in by_user.items()}
    nonempty = {(5, 50): 0, (4, 60): 0}
    sample = random.Random(0).sample(sorted(eligible), 25)
    for u in sample:
        profile = [r[0] for r in sorted(by_user[u], key=lambda r: (-r[2], r[3]))[:10]]
        for low, pct in nonempty:
            neighbours = set().union(*(fans[m, low] for m in profile)) - {u}
            counts = Counter(m for v in neighbours for m in watched[v])
            gold = [
                m
                for m, n in counts.items()
                if m not in profile and n * 100 >= pct * len(neighbours)
            ]
            nonempty[low, pct] += bool(gold)
    assert nonempty[5, 50] >= 0.8 * len(sample)
    assert nonempty[4, 60] >= 0.8 * len(sample)


# -- determinism ----------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    kw = {"n_users": 120, "n_movies": 60, "n_ratings": 2_000}
    a = folder_hash(write_netflix(tmp_path / "a", seed=11, **kw))
    b = folder_hash(write_netflix(tmp_path / "b", seed=11, **kw))
    c = folder_hash(write_netflix(tmp_path / "c", seed=12, **kw))
    assert a == b != c


@given(
    n_users=st.integers(1, 25),
    n_movies=st.integers(1, 15),
    fill=st.floats(0.0, 1.0),
    n_files=st.integers(1, 4),
    seed=st.integers(0, 2**32),
)
def test_any_valid_config_gives_exact_counts(
    tmp_path_factory: pytest.TempPathFactory,
    n_users: int,
    n_movies: int,
    fill: float,
    n_files: int,
    seed: int,
) -> None:
    low, high = max(n_users, n_movies), n_users * n_movies
    n_ratings = low + round(fill * (high - low))
    n_files = min(n_files, n_movies)
    folder = write_netflix(
        tmp_path_factory.mktemp("h"),
        n_users=n_users,
        n_movies=n_movies,
        n_ratings=n_ratings,
        n_files=n_files,
        seed=seed,
    )
    rows = read_ratings(folder)
    assert len(rows) == n_ratings
    assert len({(m, c) for m, c, _, _ in rows}) == n_ratings
    assert {m for m, *_ in rows} == set(range(1, n_movies + 1))
    assert len({c for _, c, _, _ in rows}) == n_users
    assert len(list(folder.glob("combined_data_*.txt"))) == n_files
    assert sorted(read_titles(folder)) == list(range(1, n_movies + 1))


# -- configs and caching --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"n_users": 10, "n_movies": 10, "n_ratings": 101},  # more than every pair
        {"n_users": 100, "n_movies": 10, "n_ratings": 99},  # fewer than the users
        {"n_users": 10, "n_movies": 3, "n_ratings": 20, "n_files": 4},  # more files than movies
        {"n_users": 0, "n_movies": 3, "n_ratings": 20},  # out of bounds
        {"n_users": 10, "n_movies": 3, "n_ratings": 20, "seed": -1},
    ],
)
def test_impossible_configs_raise_config_error(tmp_path: Path, kw: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        write_netflix(tmp_path, **kw)
    assert not list(tmp_path.iterdir())


def test_config_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        SyntheticConfig(n_user=5)  # type: ignore[call-arg]


def test_unknown_keyword_is_a_type_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="'n_user'"):
        write_netflix(tmp_path, n_user=5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'n_user'"):
        ensure_synthetic(tmp_path, n_user=5)  # type: ignore[call-arg]
    assert not list(tmp_path.iterdir())


def test_fewer_files_remove_stale_ones(tmp_path: Path) -> None:
    write_netflix(tmp_path, n_users=20, n_movies=10, n_ratings=60, seed=1)
    write_netflix(tmp_path, n_users=20, n_movies=10, n_ratings=60, seed=1, n_files=2)
    assert sorted(p.name for p in tmp_path.glob("combined_data_*")) == [
        "combined_data_1.txt",
        "combined_data_2.txt",
    ]
    assert len(read_ratings(tmp_path)) == 60


def test_ensure_synthetic_reuses_and_repairs(tmp_path: Path) -> None:
    kw = {"n_users": 60, "n_movies": 30, "n_ratings": 600, "seed": 2}
    folder = ensure_synthetic(tmp_path / "s", **kw)
    digest = folder_hash(folder)
    stamp = (folder / "combined_data_2.txt").stat().st_mtime_ns
    assert ensure_synthetic(tmp_path / "s", **kw) == folder
    assert (folder / "combined_data_2.txt").stat().st_mtime_ns == stamp  # reused, not rewritten
    # Same size, one byte flipped: detected by the hash, regenerated.
    data = bytearray((folder / "combined_data_2.txt").read_bytes())
    data[-2] = ord("9") if data[-2] != ord("9") else ord("8")
    (folder / "combined_data_2.txt").write_bytes(bytes(data))
    ensure_synthetic(tmp_path / "s", **kw)
    assert folder_hash(folder) == digest
    # Missing marker (an interrupted run): regenerated.
    (folder / MARKER).unlink()
    (folder / "movie_titles.csv").write_bytes(b"1,2000,Half")
    ensure_synthetic(tmp_path / "s", **kw)
    assert folder_hash(folder) == digest and (folder / MARKER).exists()


def test_ensure_synthetic_default_folder_is_keyed_in_cache() -> None:
    kw = {"n_users": 30, "n_movies": 12, "n_ratings": 200, "seed": 5}
    folder = ensure_synthetic(**kw)
    assert folder == cache_dir("synthetic", SyntheticConfig(**kw).key())
    assert len(read_ratings(folder)) == 200
    other = ensure_synthetic(**{**kw, "seed": 6})
    assert other != folder


# -- through the project's Netflix loader ---------------------------------------------------


def test_netflix_loader_reads_the_files(small: Path, tmp_path: Path) -> None:
    from llmrec.data import netflix

    ratings = netflix.load_ratings(small, cache=False)
    rows = read_ratings(small)
    assert len(ratings) == len(rows)
    np.testing.assert_array_equal(ratings.movie_id, [r[0] for r in rows])
    np.testing.assert_array_equal(ratings.user_id, [r[1] for r in rows])
    np.testing.assert_array_equal(ratings.rating, [r[2] for r in rows])
    np.testing.assert_array_equal(ratings.date, np.array([r[3] for r in rows], "datetime64[D]"))
    catalog = netflix.load_titles(small / "movie_titles.csv")
    assert {m.movie_id: (m.title, m.year) for m in catalog} == read_titles(small)
