"""tallrec.build: TALLRec's movie preprocessing, byte for byte.

The rule is pinned on small MovieLens-100k-format files the tests write, against a reference
that walks the raw lines as TALLRec's ``preprocess_movie.py`` does (a dict of users in order of
first appearance, ``sorted`` on the timestamp text, windows, the last ``N``, 80/10/10 cut with
``int``, ``json.dumps(indent=4)``). The check against the real data runs only when
``LLMREC_RECBOLE_ML100K`` names RecBole's ``ml-100k`` atomic folder (``ml-100k.inter``,
``ml-100k.item``) or ``LLMREC_ML100K`` a MovieLens ``ml-100k`` folder (``u.data``,
``u.item``); it compares the written files with the SHA-256 of TALLRec's published
``data/movie/valid.json`` and ``test.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.data import Catalog, Movie, Ratings, load_movielens
from llmrec.errors import ConfigError
from llmrec.prompts import TALLREC_INSTRUCTION
from llmrec.protocols import tallrec

# TALLRec's published files (SAI990323/TALLRec, data/movie/), 1,000 rows each.
PUBLISHED_SHA256 = {
    "valid": "d4aa0c005868aef9b8a85583db946662a2be9c2e0e09f810fe3a7ad31d89274f",
    "test": "474e02cde467c8c7001168a4a390a581217edcd8f4726c39aa88c9aa37c54d5e",
}
# The train.json llmrec writes from the same data (8,000 rows): a regression pin, not checked
# against TALLRec's own train.json, whose content the repository snapshot did not hold.
WRITTEN_TRAIN_SHA256 = "6c07890f5a98c0b7ac949bb8d9414f0d4d9b843f37e71ce172d26cbe006d0190"


def _reference(u_data: str, titles: dict[str, str], window: int, last: int) -> dict[str, str]:
    """TALLRec's rule on the raw text: the expected bytes of train, valid and test."""
    users: dict[str, list[tuple[str, int, str]]] = {}
    for line in u_data.splitlines(keepends=True):
        user, movie, rating, stamp = line.split("\t")
        users.setdefault(user, []).append((movie, int(int(rating) > 3), stamp))
    windows = []
    for rows in users.values():
        rows = sorted(rows, key=lambda r: r[2])  # the timestamp text, as TALLRec sorts it
        for i in range(window, len(rows)):
            windows.append((rows[i - window : i], rows[i]))
    windows = windows[-last:]
    a, b = int(len(windows) * 0.8), int(len(windows) * 0.9)

    def quoted(names: list[str]) -> str:
        return ", ".join(f'"{n}"' for n in names)

    out = {}
    for name, part in (("train", windows[:a]), ("valid", windows[a:b]), ("test", windows[b:])):
        rows_json = []
        for hist, (movie, liked, _) in part:
            pref = quoted([titles[m] for m, y, _ in hist if y == 1])
            unpref = quoted([titles[m] for m, y, _ in hist if y != 1])
            rows_json.append(
                {
                    "instruction": TALLREC_INSTRUCTION,
                    "input": f"User Preference: {pref}\nUser Unpreference: {unpref}\n"
                    f'Whether the user will like the target movie "{titles[movie]}"?',
                    "output": "Yes." if liked else "No.",
                }
            )
        out[name] = json.dumps(rows_json, indent=4)
    return out


def _write_ml100k(folder: Path, lines: list[tuple[int, int, int, int]], n_movies: int) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in lines)
    (folder / "u.data").write_text(text, encoding="ascii")
    titles = {}
    item_lines = []
    for m in range(1, n_movies + 1):
        name = f"Movie {m}, The" if m % 3 == 0 else f"Film \u00e9t\u00e9 {m}"
        titles[str(m)] = f"{name} ({1950 + m})"
        item_lines.append(f"{m}|{titles[str(m)]}|01-Jan-{1950 + m}||http://x|0|1\n")
    (folder / "u.item").write_bytes("".join(item_lines).encode("iso-8859-1"))
    return {"u_data": text, "titles": titles}


# 9-digit timestamps from a narrow range, so users often rate two movies in the same second
_LINES = st.lists(
    st.tuples(
        st.integers(1, 6),  # user
        st.integers(1, 12),  # movie
        st.integers(1, 5),  # stars
        st.integers(880_000_000, 880_000_006),  # second
    ),
    min_size=1,
    max_size=70,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(max_examples=60, deadline=None)
@given(lines=_LINES, window=st.integers(1, 4), last=st.integers(1, 40))
def test_written_files_equal_tallrecs_rule_on_raw_files(
    tmp_path_factory: pytest.TempPathFactory, lines: list, window: int, last: int
) -> None:
    folder = tmp_path_factory.mktemp("ml")
    raw = _write_ml100k(folder, lines, 12)
    ratings, catalog = load_movielens(folder)
    splits = tallrec.build(ratings, catalog, window=window, last=last)
    paths = splits.write(folder / "out")
    expected = _reference(raw["u_data"], raw["titles"], window, last)
    for name in ("train", "valid", "test"):
        assert paths[name].read_text(encoding="ascii") == expected[name], name
    assert sum(len(s) for s in splits) == len(json.loads(expected["train"])) + len(
        json.loads(expected["valid"])
    ) + len(json.loads(expected["test"]))


def test_a_worked_example() -> None:
    """Two users; user 7 appears first in the file though 3 has the smaller id. Window 2."""
    catalog = Catalog(Movie(m, f"M{m}", 2000 + m) for m in range(1, 8))
    # user, movie, stars, second (file order); user 7 rates movies 3 and 4 in the same second
    rows = [
        (7, 1, 5, 10),
        (3, 5, 2, 10),
        (7, 4, 1, 30),
        (7, 3, 4, 30),
        (3, 6, 4, 20),
        (7, 2, 3, 20),
        (3, 7, 5, 30),
    ]
    u, m, r, t = (np.asarray(c) for c in zip(*rows, strict=True))
    ratings = Ratings(u, m, r, t // 86_400, time=t)
    splits = tallrec.build(ratings, catalog, window=2, split=(0.5, 0.25, 0.25))
    # user 7 in time order: 1 (5*), 2 (3*), 4 (1*), 3 (4*) -> windows with targets 4 and 3;
    # then user 3: 5 (2*), 6 (4*), 7 (5*) -> the window with target 7
    assert splits.train.target.tolist() == [4] and splits.valid.target.tolist() == [3]
    assert splits.test.target.tolist() == [7]
    assert splits.valid.history.tolist() == [[2, 4]]
    assert splits.valid.to_alpaca() == [
        {
            "instruction": TALLREC_INSTRUCTION,
            "input": 'User Preference: \nUser Unpreference: "M2 (2002)", "M4 (2004)"\n'
            'Whether the user will like the target movie "M3 (2003)"?',
            "output": "Yes.",
        }
    ]
    assert splits.meta["rows"] == {"train": 1, "valid": 1, "test": 1}
    assert splits.meta["clock"] == "s"
    # the last 2 windows only: user 7's second and user 3's
    short = tallrec.build(ratings, catalog, window=2, last=2, split=(0.5, 0.5, 0.0))
    assert [s.target.tolist() for s in short] == [[3], [7], []]


def test_bad_options_and_unknown_movies_are_refused() -> None:
    catalog = Catalog([Movie(1, "A", 2000)])
    ratings = Ratings([1, 1], [1, 2], [4, 4], [0, 0], time=[1, 2])
    with pytest.raises(ConfigError, match="window"):
        tallrec.build(ratings, catalog, window=0)
    with pytest.raises(ConfigError, match="split"):
        tallrec.build(ratings, catalog, split=(0.8, 0.1, 0.2))
    with pytest.raises(ConfigError, match="like_above"):
        tallrec.build(ratings, catalog, like_above=7)
    with pytest.raises(ConfigError, match="not in the catalog"):
        tallrec.build(ratings, catalog, window=1)


def _real_ml100k() -> tuple[Ratings, Catalog] | None:
    recbole = os.environ.get("LLMREC_RECBOLE_ML100K")
    if recbole:
        from llmrec.data.recbole import load_atomic

        loaded: tuple[Ratings, Catalog] = load_atomic(recbole)
        return loaded
    movielens = os.environ.get("LLMREC_ML100K")
    if movielens:
        return load_movielens(movielens)
    return None


@pytest.mark.skipif(
    not (os.environ.get("LLMREC_RECBOLE_ML100K") or os.environ.get("LLMREC_ML100K")),
    reason="set LLMREC_RECBOLE_ML100K (RecBole atomic ml-100k) or LLMREC_ML100K (u.data/u.item)",
)
def test_real_ml100k_gives_tallrecs_published_files(tmp_path: Path) -> None:
    data = _real_ml100k()
    assert data is not None
    splits = tallrec.build(*data)
    assert [len(s) for s in splits] == [8_000, 1_000, 1_000]
    paths = splits.write(tmp_path)
    for name, digest in {**PUBLISHED_SHA256, "train": WRITTEN_TRAIN_SHA256}.items():
        assert hashlib.sha256(paths[name].read_bytes()).hexdigest() == digest, name
