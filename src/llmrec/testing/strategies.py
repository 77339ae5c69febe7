"""Hypothesis strategies for ranking metrics, batches of users and small rating data.

For property tests of llmrec and of other projects' metric code::

    from hypothesis import given
    from llmrec.testing import strategies as lst

    @given(lst.ranking_cases())
    def test_precision_is_a_fraction(case):
        assert 0.0 <= my_precision(case.ranked, case.relevant, case.k) <= 1.0

Ids are small non-negative integers. A case's relevant ids come from ``0..relevant_pool - 1``
and its ranked lists mix relevant ids with ids that are never relevant (``relevant_pool`` and
up), so hits, misses and (unless ``unique=True``) repeats all occur. Importing this module
loads hypothesis, numpy and llmrec's error types only; the ``Ratings`` and ``ProfileDataset``
strategies import the data and truth packages when they draw.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st

from llmrec.errors import ConfigError

if TYPE_CHECKING:
    from llmrec.data.ratings import Ratings
    from llmrec.truth.dataset import ProfileDataset

__all__ = [
    "BATCH_FORMS",
    "Batch",
    "BatchForm",
    "RankingCase",
    "batches",
    "cutoffs",
    "graded_relevance",
    "item_ids",
    "profile_datasets",
    "ranked_lists",
    "ranking_cases",
    "ratings_tables",
    "relevant_sets",
]

BatchForm: TypeAlias = Literal["padded", "ragged", "dict"]
BATCH_FORMS: tuple[BatchForm, ...] = ("padded", "ragged", "dict")
"""Every input form llmrec's batch metrics and ``evaluate`` accept."""

_RELEVANT_POOL = 12
_OTHER_IDS = 12


@dataclass(frozen=True)
class RankingCase:
    """One user: a ranked list, the relevant ids (a set, or a dict id → grade) and a cut-off."""

    ranked: list[int]
    relevant: set[int] | dict[int, int]
    k: int

    @property
    def relevant_set(self) -> set[int]:
        """The relevant ids (grade above 0 when graded)."""
        if isinstance(self.relevant, dict):
            return {i for i, g in self.relevant.items() if g > 0}
        return set(self.relevant)


@dataclass(frozen=True)
class Batch:
    """Many users in one input ``form``, with the same users as plain lists for references.

    ``recommendations`` and ``truth`` are what a batch metric or ``evaluate`` takes: ``-1``
    padded int64 arrays (``"padded"``), lists of lists and of sets (``"ragged"``) or dicts keyed
    by user id (``"dict"``). ``lists[i]``, ``sets[i]`` and ``users[i]`` describe user ``i``.
    """

    form: BatchForm
    recommendations: Any
    truth: Any
    k: int
    lists: list[list[int]] = field(default_factory=list)
    sets: list[set[int]] = field(default_factory=list)
    users: list[Hashable] = field(default_factory=list)


def item_ids(max_id: int = _RELEVANT_POOL + _OTHER_IDS - 1) -> st.SearchStrategy[int]:
    """Non-negative integer item ids up to ``max_id``."""
    return st.integers(min_value=0, max_value=max_id)


def cutoffs(max_k: int = 12) -> st.SearchStrategy[int]:
    """Cut-offs ``k`` from 1 to ``max_k``, with the edge cases 1 and ``max_k`` drawn often."""
    if max_k < 1:
        raise ConfigError(f"max_k must be >= 1 (got {max_k})")
    return st.one_of(st.sampled_from(sorted({1, max_k})), st.integers(1, max_k))


def relevant_sets(
    *, min_size: int = 0, max_size: int = 8, pool: int = _RELEVANT_POOL
) -> st.SearchStrategy[set[int]]:
    """Sets of relevant ids drawn from ``0..pool - 1``."""
    return st.sets(st.integers(0, pool - 1), min_size=min_size, max_size=min(max_size, pool))


def graded_relevance(
    *, min_size: int = 0, max_size: int = 8, max_grade: int = 3, pool: int = _RELEVANT_POOL
) -> st.SearchStrategy[dict[int, int]]:
    """Graded relevance: dicts id → grade in ``1..max_grade`` over ids ``0..pool - 1``."""
    return st.dictionaries(
        st.integers(0, pool - 1),
        st.integers(1, max_grade),
        min_size=min_size,
        max_size=min(max_size, pool),
    )


def ranked_lists(
    relevant: Sequence[int] | set[int] = (),
    *,
    min_size: int = 0,
    max_size: int = 12,
    unique: bool = False,
    other_ids: int = _OTHER_IDS,
    first_other: int = _RELEVANT_POOL,
) -> st.SearchStrategy[list[int]]:
    """Ranked lists mixing ids of ``relevant`` with ids never relevant (``first_other`` up).

    ``unique=False`` lets an id repeat (the duplicates LLM recommenders produce).
    """
    others = st.integers(first_other, first_other + other_ids - 1)
    pool = st.one_of(st.sampled_from(sorted(relevant)), others) if relevant else others
    if unique:
        max_size = min(max_size, len(set(relevant)) + other_ids)
    return st.lists(pool, min_size=min_size, max_size=max_size, unique=unique)


@st.composite
def ranking_cases(
    draw: st.DrawFn,
    *,
    unique: bool = False,
    graded: bool = False,
    min_relevant: int = 0,
    max_relevant: int = 8,
    min_length: int = 0,
    max_length: int = 12,
    max_k: int = 12,
    max_grade: int = 3,
) -> RankingCase:
    """One user's ``(ranked, relevant, k)``: relevant ids, a list mixing them with other ids
    (repeats unless ``unique``), and a cut-off that may be below or past the list's length."""
    if graded:
        grades = draw(
            graded_relevance(min_size=min_relevant, max_size=max_relevant, max_grade=max_grade)
        )
        ids: set[int] = set(grades)
        relevant: set[int] | dict[int, int] = grades
    else:
        ids = draw(relevant_sets(min_size=min_relevant, max_size=max_relevant))
        relevant = ids
    ranked = draw(ranked_lists(ids, min_size=min_length, max_size=max_length, unique=unique))
    return RankingCase(ranked=ranked, relevant=relevant, k=draw(cutoffs(max_k)))


def _padded(rows: Sequence[Sequence[int]]) -> npt.NDArray[np.int64]:
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


@st.composite
def batches(
    draw: st.DrawFn,
    form: BatchForm | None = None,
    *,
    min_users: int = 0,
    max_users: int = 6,
    unique: bool = False,
    min_relevant: int = 0,
    max_k: int = 12,
) -> Batch:
    """Many users in one of :data:`BATCH_FORMS` (drawn when ``form`` is ``None``)."""
    if form is not None and form not in BATCH_FORMS:
        raise ConfigError(f"form must be one of {BATCH_FORMS} (got {form!r})")
    chosen: BatchForm = draw(st.sampled_from(BATCH_FORMS)) if form is None else form
    n = draw(st.integers(min_users, max_users))
    cases = [
        draw(ranking_cases(unique=unique, min_relevant=min_relevant, max_k=max_k)) for _ in range(n)
    ]
    lists = [c.ranked for c in cases]
    sets = [c.relevant_set for c in cases]
    k = draw(cutoffs(max_k))
    recommendations: Any
    truth: Any
    if chosen == "padded":
        users: list[Hashable] = list(range(n))
        recommendations, truth = _padded(lists), _padded([sorted(s) for s in sets])
    elif chosen == "ragged":
        users = list(range(n))
        recommendations, truth = [list(r) for r in lists], [set(s) for s in sets]
    else:
        users = [f"user-{i}" for i in range(n)]
        recommendations = {u: list(r) for u, r in zip(users, lists, strict=True)}
        truth = {u: set(s) for u, s in zip(users, sets, strict=True)}
    return Batch(chosen, recommendations, truth, k, lists, sets, users)


@st.composite
def ratings_tables(
    draw: st.DrawFn, *, max_users: int = 8, max_movies: int = 10, max_ratings: int = 40
) -> Ratings:
    """A small :class:`~llmrec.data.Ratings`: distinct (user, movie) pairs, 1–5 stars, dates in
    2005; user ids from 1, movie ids from 1."""
    from llmrec.data.ratings import Ratings

    pairs = draw(
        st.lists(
            st.tuples(st.integers(1, max_users), st.integers(1, max_movies)),
            min_size=1,
            max_size=max_ratings,
            unique=True,
        )
    )
    stars = draw(st.lists(st.integers(1, 5), min_size=len(pairs), max_size=len(pairs)))
    days = draw(st.lists(st.integers(0, 364), min_size=len(pairs), max_size=len(pairs)))
    base = np.datetime64("2005-01-01", "D")
    return Ratings(
        user_id=np.array([u for u, _ in pairs], dtype=np.int32),
        movie_id=np.array([m for _, m in pairs], dtype=np.int32),
        rating=np.array(stars, dtype=np.int8),
        date=base + np.array(days, dtype=np.int64),
    )


@st.composite
def profile_datasets(
    draw: st.DrawFn,
    *,
    min_examples: int = 0,
    max_examples: int = 6,
    max_movies: int = 30,
    profile_size: int = 5,
    max_gold: int = 5,
) -> ProfileDataset:
    """A small :class:`~llmrec.truth.ProfileDataset`: distinct users, each with a profile and a
    gold list of distinct movies that share no movie."""
    from llmrec.truth.dataset import Example, ProfileDataset

    users = draw(
        st.lists(st.integers(1, 10_000), min_size=min_examples, max_size=max_examples, unique=True)
    )
    examples = []
    for user in users:
        movies = draw(
            st.lists(
                st.integers(1, max_movies),
                min_size=2,
                max_size=profile_size + max_gold,
                unique=True,
            )
        )
        cut = draw(st.integers(1, min(profile_size, len(movies) - 1)))
        gold = movies[cut : cut + max_gold]
        examples.append(Example(user_id=user, profile=tuple(movies[:cut]), gold=tuple(gold)))
    return ProfileDataset(examples, meta={"source": "llmrec.testing.strategies"})
